package model_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/storage"
)

func rec(part, id string, ts, val int64) model.Rec {
	return model.Rec{Key: model.Key{Part: part, ID: id}, TS: ts, Val: val}
}

// TestModelRules pins DefaultHoodieRecordPayload's rules as the model
// applies them.
func TestModelRules(t *testing.T) {
	m := model.Model{}
	require.Zero(t, m.Upsert([]model.Rec{rec("a", "k", 5, 1), rec("a", "k", 5, 2), rec("a", "j", 3, 3), rec("a", "j", 1, 4)}, "c1"))
	require.Equal(t, model.Model{
		{Part: "a", ID: "k"}: {TS: 5, Val: 2, CT: "c1"}, // tie: the later record
		{Part: "a", ID: "j"}: {TS: 3, Val: 3, CT: "c1"}, // the larger ts
	}, m)
	del := rec("a", "j", 4, 0)
	del.Deleted = true
	late := m.Upsert([]model.Rec{rec("a", "k", 4, 9), del}, "c2")
	require.Equal(t, 1, late, "a late event is dropped")
	require.Equal(t, model.Model{{Part: "a", ID: "k"}: {TS: 5, Val: 2, CT: "c1"}}, m)
	m.Delete([]model.Key{{Part: "a", ID: "k"}})
	require.Empty(t, m)

	m = model.Model{{Part: "b", ID: "x"}: {TS: 1, Val: 1, CT: "c"}, {Part: "a", ID: "y"}: {TS: 2, Val: 2, CT: "c"}}
	require.Equal(t, "a/y ts=2 val=2\nb/x ts=1 val=1\n", m.String())
	require.Equal(t, model.Row{TS: 2, Val: 2}, m.WithoutCT()[model.Key{Part: "a", ID: "y"}])
	require.Equal(t, "c", m[model.Key{Part: "a", ID: "y"}].CT, "WithoutCT copies")

	b := model.BatchDeleted([]model.Rec{del})
	require.Equal(t, int64(1), b.NumRows())
	require.Equal(t, 5, int(b.NumCols()))
	b.Release()
	d := model.Deletes([]model.Key{{Part: "a", ID: "k"}})
	require.Equal(t, model.KeySchema, d.Schema())
	d.Release()
}

// TestSweep sweeps a workload of three writes: every write fails once, in
// order, and the run after the last is clean.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	base := storage.NewMem()
	run := func(p *model.Point) error {
		for i := range 3 {
			if err := storage.WriteFile(ctx, p.Store, fmt.Sprint(i), nil, storage.CreateOptions{}); err != nil {
				return err
			}
		}
		return nil
	}
	var failed []string
	n := model.Sweep(t, base, model.SweepOptions{Mode: storagefault.ModeCrash, Match: storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}}},
		run, func(t *testing.T, p *model.Point) {
			require.True(t, p.Injected())
			require.True(t, errors.Is(p.Err, storagefault.ErrCrashed))
			failed = append(failed, p.Op.Path)
			ok, err := storage.Exists(ctx, p.Mem, p.Op.Path)
			require.NoError(t, err)
			require.False(t, ok, "a crashed close publishes nothing")
		})
	require.Equal(t, 3, n)
	require.Equal(t, []string{"0", "1", "2"}, failed)

	// Deferred: operations before Arm are neither counted nor failed.
	n = model.Sweep(t, base, model.SweepOptions{Mode: storagefault.ModeError, Deferred: true}, func(p *model.Point) error {
		if err := storage.WriteFile(ctx, p.Store, "setup", nil, storage.CreateOptions{}); err != nil {
			return err
		}
		p.Arm()
		return run(p)
	}, func(t *testing.T, p *model.Point) {
		require.True(t, errors.Is(p.Err, storagefault.ErrInjected))
		require.NotEqual(t, "setup", p.Op.Path)
	})
	require.Equal(t, 9, n, "create, write and close of each of the three writes")
}
