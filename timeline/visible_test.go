package timeline_test

import (
	"context"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// at is the instant time of millisecond ms of a fixed second.
func at(ms string) string { return "20240101000000" + ms }

// visibilityTimeline writes the timeline files of a table whose history has
// every kind of instant the rule must tell apart, and loads it.
func visibilityTimeline(t *testing.T) *timeline.Timeline {
	t.Helper()
	ctx := context.Background()
	st := storage.NewMem()
	files := []string{
		at("100") + ".commit.requested", at("100") + ".inflight", at("100") + ".commit", // completed commit
		at("200") + ".deltacommit.requested", at("200") + ".deltacommit.inflight", at("200") + ".deltacommit",
		// A completed compaction: its completed file is T.commit.
		at("300") + ".compaction.requested", at("300") + ".compaction.inflight", at("300") + ".commit",
		// 350 was rolled back: its timeline files are gone; the rollback
		// instant 360 completed.
		at("360") + ".rollback.requested", at("360") + ".rollback.inflight", at("360") + ".rollback",
		at("400") + ".deltacommit.requested", at("400") + ".deltacommit.inflight", // inflight write
		at("500") + ".clean.requested", at("500") + ".clean.inflight", at("500") + ".clean", // not a write
		at("600") + ".commit.requested",     // requested write
		at("700") + ".compaction.requested", // pending compaction
		at("800") + ".replacecommit.requested", at("800") + ".replacecommit.inflight", at("800") + ".replacecommit",
	}
	for _, f := range files {
		require.NoError(t, storage.WriteFile(ctx, st, timeline.MetaFolder+"/"+f, []byte("{}"), storage.CreateOptions{}))
	}
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	require.Equal(t, at("100"), tl.FirstInstantTime())
	return tl
}

func TestVisible(t *testing.T) {
	tl := visibilityTimeline(t)
	empty := timeline.FromInstants(nil)
	for _, c := range []struct {
		name     string
		tl       *timeline.Timeline
		asOf, ts string
		want     bool
	}{
		{"archived", tl, "", at("050"), true},
		{"completed commit", tl, "", at("100"), true},
		{"completed deltacommit", tl, "", at("200"), true},
		{"compaction completed as commit", tl, "", at("300"), true},
		{"rolled back (deleted)", tl, "", at("350"), false},
		{"rollback instant is not a write", tl, "", at("360"), false},
		{"inflight", tl, "", at("400"), false},
		{"clean is not a write", tl, "", at("500"), false},
		{"requested", tl, "", at("600"), false},
		{"pending compaction", tl, "", at("700"), false},
		{"completed replacecommit", tl, "", at("800"), true},
		{"not on the timeline, after it", tl, "", at("900"), false},

		{"as of: earlier commit", tl, at("200"), at("100"), true},
		{"as of: the instant itself", tl, at("200"), at("200"), true},
		{"as of: later commit", tl, at("200"), at("300"), false},
		{"as of: archived", tl, at("200"), at("050"), true},
		{"as of before the active timeline: archived before it", tl, at("040"), at("030"), true},
		{"as of before the active timeline: archived after it", tl, at("040"), at("050"), false},

		{"empty timeline", empty, "", at("100"), false},
		{"empty timeline, as of", empty, at("999"), at("100"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.tl.Visible(c.asOf)(c.ts))
		})
	}
}

// TestVisibleArchivalMovesThePrefix: once the oldest instants leave the
// active timeline, their data stays visible (archived = completed), while a
// pending instant that becomes the first one stays invisible.
func TestVisibleArchivalMovesThePrefix(t *testing.T) {
	tl := timeline.FromInstants([]timeline.Instant{
		{Timestamp: at("400"), Action: timeline.DeltaCommit, State: timeline.Inflight},
		{Timestamp: at("800"), Action: timeline.Commit, State: timeline.Completed},
	})
	v := tl.Visible("")
	assert.True(t, v(at("100")), "archived")
	assert.True(t, v(at("399")), "archived")
	assert.False(t, v(at("400")), "pending first instant")
	assert.False(t, v(at("500")), "missing: rolled back")
	assert.True(t, v(at("800")))
}
