package writer

import (
	"context"
	"strconv"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/timeline"
)

// The execute stage writes the data files of a plan, one handle per file
// group, each by one of three handle types:
//
//   - createHandle: the first base file of a new file group (inserts);
//   - mergeHandle: a new base file rewriting the latest one, with its
//     updates and deletes merged and inserts added (copy-on-write);
//   - appendHandle: new log files of the latest slice holding the inserts,
//     updates and deletes (merge-on-read: a deltacommit never rewrites a
//     base file).
//
// Markers and log files go through the commit's timeline.Txn (and
// filegroup.AppendLog); nothing is visible until the publish stage
// completes the instant.

// handle is the work on one file group: a new base file, or the merge of
// the latest base file with updates, deletes and inserts.
type handle struct {
	id    filegroup.FileGroupID
	old   *filegroup.BaseFileInfo // nil: a new file group
	upd   map[string]ref          // record key -> incoming update or delete
	ins   []ref                   // new keys
	fresh int                     // ins[:fresh] had no trusted index entry (the rest moved partition)
	moved []string                // keys that moved to another partition (global index): delete here
	task  int                     // task partition id (write token, sequence numbers)
	log   *logTarget              // merge-on-read: write updates and deletes as log files
}

// handleResult is what executing one handle produced.
type handleResult struct {
	stat    timeline.WriteStat
	entries []index.Entry
	removed []index.Key
	late    int64
	empty   bool // merge-on-read: nothing to write (only late records, or deletes of keys not stored)
	// order is what the commit changes in the writer's orderCache
	// (append handles; nil otherwise).
	order *orderDelta
}

// writeContext is what every handle of one commit shares.
type writeContext struct {
	w              *Writer
	txn            *timeline.Txn // the commit's; instant is its time
	instant        string
	schema         *schema.Schema
	payloadDefault bool // event-time ordering against the stored record
	include        func(instant string) bool
}

// execute writes the new version of one file group with the handle type
// its plan entry calls for.
func (wc *writeContext) execute(ctx context.Context, h *handle) (*handleResult, error) {
	switch {
	case h.log != nil:
		return (&appendHandle{wc: wc, h: h, lt: h.log}).write(ctx)
	case h.old != nil:
		return (&mergeHandle{wc: wc, h: h}).write(ctx)
	default:
		return (&createHandle{wc: wc, h: h}).write(ctx)
	}
}

// writeToken is the write token of the handle's files: its task partition.
func (h *handle) writeToken() filegroup.WriteToken {
	return filegroup.WriteToken{TaskPartitionID: int64(h.task), StageID: 1, TaskAttemptID: int64(h.task)}
}

// seqPrefix starts the _hoodie_commit_seqno of the rows the handle writes.
func (wc *writeContext) seqPrefix(h *handle) string {
	return wc.instant + "_" + strconv.Itoa(h.task) + "_"
}
