package cleaner_test

import (
	"context"
	"github.com/hoodie-lake/hoodie/filegroup"
	"path"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// archivedEntries decodes every archive file, in version order.
func archivedEntries(t *testing.T, st storage.Storage) []*avroplan.HoodieArchivedMetaEntry {
	t.Helper()
	var keys []string
	for obj, err := range st.List(context.Background(), ".hoodie/archived/", "") {
		require.NoError(t, err)
		keys = append(keys, obj.Path)
	}
	sort.Strings(keys)
	var out []*avroplan.HoodieArchivedMetaEntry
	for _, k := range keys {
		lf, err := filegroup.ParseLogFileName(path.Base(k))
		require.NoError(t, err)
		assert.Equal(t, "commits", lf.FileID)
		assert.Equal(t, filegroup.ExtArchive, lf.Ext)
		es, err := cleaner.ReadArchiveFile(context.Background(), st, k)
		require.NoError(t, err)
		out = append(out, es...)
	}
	return out
}

// TestArchiveRoundTrip: after 12 commits and a clean, archival with 4..6
// kept moves the oldest instants (all their states, and the clean when
// older than the oldest kept commit) into an archive file whose entries
// decode with Hudi's schema; the table reads back identical rows, now and
// as of every still-active commit.
func TestArchiveRoundTrip(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := mk(t)
			tbl, commits := seed(t, st, 6)
			first, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 4})
			require.NoError(t, err)
			require.Equal(t, commits[2], first.EarliestCommitToRetain)
			commits = append(commits, commitN(t, tbl, 6, 6)...)
			before := map[string][]string{"": rows(t, tbl, "")}
			for _, c := range commits[len(commits)-4:] {
				before[c] = rows(t, tbl, c)
			}
			tl0, err := timeline.Load(ctx, st)
			require.NoError(t, err)

			res, err := cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 4, MaxToKeep: 6})
			require.NoError(t, err)
			// The clean's ECTR (commits[2]) bounds archival.
			require.Len(t, res.Archived, 2)
			assert.Equal(t, commits[1], res.Archived[1].Timestamp)

			// A second clean moves ECTR on; then archival goes down to 4.
			_, err = cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 3})
			require.NoError(t, err)
			_, err = cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 4, MaxToKeep: 6})
			require.NoError(t, err)
			tl, err := timeline.Load(ctx, st)
			require.NoError(t, err)
			assert.Len(t, tl.CompletedCommits(), 4)
			assert.Equal(t, commits[len(commits)-4], tl.CompletedCommits()[0].Timestamp)
			for _, i := range tl.Instants() {
				assert.GreaterOrEqual(t, i.Timestamp, commits[len(commits)-4], "archived instants are a prefix: %v", i)
			}
			var cleans []string
			for _, i := range tl0.Instants() {
				if i.Action == timeline.Clean {
					cleans = append(cleans, i.Timestamp)
				}
			}
			require.Len(t, cleans, 1)

			entries := archivedEntries(t, st)
			seen := map[string]bool{}
			states := map[string][]string{}
			for _, e := range entries {
				k := *e.CommitTime + " " + *e.ActionType + " " + *e.ActionState
				assert.False(t, seen[k], "duplicate entry %s", k)
				seen[k] = true
				states[*e.CommitTime] = append(states[*e.CommitTime], *e.ActionType+"/"+*e.ActionState)
				assert.Equal(t, avroplan.ArchivedMetaEntryVersion, *e.Version)
				switch {
				case *e.ActionType == "commit" && *e.ActionState == "COMPLETED":
					require.NotNil(t, e.HoodieCommitMetadata, k)
					md := e.HoodieCommitMetadata
					assert.Equal(t, "UPSERT", *md.OperationType)
					assert.Contains(t, *md.ExtraMetadata, "schema")
					assert.Equal(t, "", (*md.ExtraMetadata)["ROLLING_STAT"])
					assert.NotEmpty(t, *md.PartitionToWriteStats)
				case *e.ActionType == "clean" && *e.ActionState == "COMPLETED":
					require.NotNil(t, e.HoodieCleanMetadata, k)
				case *e.ActionType == "clean":
					require.NotNil(t, e.HoodieCleanerPlan, k)
				}
			}
			for _, c := range commits[:len(commits)-4] {
				assert.Equal(t, []string{"commit/REQUESTED", "commit/INFLIGHT", "commit/COMPLETED"}, states[c], c)
			}
			assert.Equal(t, []string{"clean/REQUESTED", "clean/INFLIGHT", "clean/COMPLETED"}, states[cleans[0]])

			for asOf, want := range before {
				assert.Equal(t, want, rows(t, tbl, asOf), "as of %q", asOf)
			}
			// Claims of archived instants are pruned.
			for obj, err := range st.List(ctx, ".hoodie/.aux/.instant-claims/", "") {
				require.NoError(t, err)
				assert.GreaterOrEqual(t, path.Base(obj.Path), commits[len(commits)-4])
			}
		})
	}
}

// TestArchiveBounded: archiving after every commit keeps the active
// timeline at most MaxToKeep commits long, and the table always reads
// back the latest rows.
func TestArchiveBounded(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, _ := seed(t, st, 1)
	for i := 1; i < 14; i++ {
		commitN(t, tbl, i, 1)
		_, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 2})
		require.NoError(t, err)
		_, err = cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 3, MaxToKeep: 5})
		require.NoError(t, err)
		tl, err := timeline.Load(ctx, st)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(tl.CompletedCommits()), 5)
		got := rows(t, tbl, "")
		require.Len(t, got, 6)
		for _, r := range got {
			assert.Contains(t, r, "@"+tl.CompletedCommits()[len(tl.CompletedCommits())-1].Timestamp)
		}
	}
	assert.NotEmpty(t, archivedEntries(t, st))
}

// TestArchiveStopsAtPending: a pending instant (any action) ends archival
// before it, however many commits are active.
func TestArchiveStopsAtPending(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, commits := seed(t, st, 9)
	ts, err := timeline.ParseInstantTime(commits[2])
	require.NoError(t, err)
	P := timeline.NextInstantTime(ts, commits[2])
	require.Less(t, P, commits[3])
	require.NoError(t, storage.WriteFile(ctx, st, ".hoodie/"+P+".rollback.requested", nil, storage.CreateOptions{}))
	res, err := cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 2, MaxToKeep: 4})
	require.NoError(t, err)
	require.Len(t, res.Archived, 3)
	assert.Equal(t, commits[2], res.Archived[2].Timestamp)
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, P, tl.FirstInstantTime())
}

// TestArchiveCrash crashes Archive at every storage operation; a re-run
// always ends with the same active timeline as an uninterrupted run, no
// duplicate archived entries, and identical rows throughout.
func TestArchiveCrash(t *testing.T) {
	ctx := context.Background()
	base := storage.NewMem()
	tbl0, _ := seed(t, base, 8)
	snap := rows(t, tbl0, "")
	opts := cleaner.ArchiveOptions{MinToKeep: 3, MaxToKeep: 5}

	ref := base.Clone()
	refTbl, err := table.Open(ctx, ref)
	require.NoError(t, err)
	_, err = cleaner.Archive(ctx, refTbl, opts)
	require.NoError(t, err)
	refTL, err := timeline.Load(ctx, ref)
	require.NoError(t, err)
	refEntries := len(archivedEntries(t, ref))

	run := func(p *model.Point) error {
		_, err := cleaner.Archive(ctx, faultyTable(t, p), opts)
		return err
	}
	model.Sweep(t, base, model.SweepOptions{Mode: storagefault.ModeCrash, Deferred: true, MustFail: true}, run, func(t *testing.T, p *model.Point) {
		i, mem, op := p.N, p.Mem, p.Op
		tbl, err := table.Open(ctx, mem)
		require.NoError(t, err)
		assert.Equal(t, snap, rows(t, tbl, ""), "crash at %d (%v)", i, op)
		_, err = cleaner.Archive(ctx, tbl, opts)
		require.NoError(t, err, "re-run after crash at %d (%v)", i, op)
		tl, err := timeline.Load(ctx, mem)
		require.NoError(t, err)
		assert.Equal(t, refTL.String(), tl.String(), "crash at %d (%v)", i, op)
		assert.Len(t, archivedEntries(t, mem), refEntries, "crash at %d (%v)", i, op)
		assert.Equal(t, snap, rows(t, tbl, ""))
	})
}
