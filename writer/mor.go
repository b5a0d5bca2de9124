package writer

import (
	"context"
	"fmt"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// DefaultLogFileMaxSize is the size at which a log file is rolled to the
// next version (Hudi's hoodie.logfile.max.size).
const DefaultLogFileMaxSize = 1 << 30

// blockRecords bounds the records of one Avro data block.
const blockRecords = 50_000

// relocateLogs moves log files this deltacommit wrote into the slice of a
// compaction scheduled after the commit's view was built (by another
// process) whose plan covers their file group: the compaction will not
// merge them, and its new slice supersedes the old one. Run before the
// commit point; repeated until no new compaction appears.
func (w *Writer) relocateLogs(ctx context.Context, tl *timeline.Timeline, tx *timeline.Txn, work []*handle, results []*handleResult) error {
	known := map[string]bool{}
	for _, c := range tl.Compactions() {
		known[c] = true
	}
	for round := 0; round < 10; round++ {
		now, err := timeline.Load(ctx, w.st)
		if err != nil {
			return err
		}
		target := map[filegroup.FileGroupID]string{}
		fresh := false
		for _, c := range now.Compactions() {
			if known[c] {
				continue
			}
			known[c] = true
			fresh = true
			plan, err := w.state.plans.Plan(ctx, w.st, c)
			if err != nil {
				return fmt.Errorf("writer: %w", err)
			}
			for _, op := range plan.Operations {
				if op.FileID == nil {
					continue
				}
				id := filegroup.FileGroupID{FileID: *op.FileID}
				if op.PartitionPath != nil {
					id.PartitionPath = *op.PartitionPath
				}
				target[id] = max(target[id], c)
			}
		}
		if !fresh {
			return nil
		}
		for i, h := range work {
			r := results[i]
			if h.log == nil || r == nil {
				continue
			}
			c, ok := target[h.id]
			if !ok || c <= h.log.baseInstant {
				continue
			}
			if err := w.moveLogs(ctx, tx, h, r, c); err != nil {
				return fmt.Errorf("writer: moving logs of %s to compaction %s: %w", h.id, c, err)
			}
		}
	}
	return fmt.Errorf("writer: compactions keep appearing; giving up relocating logs")
}

// moveLogs copies the log files of one handle into the slice of
// compaction c, as new log files of the commit's instant (tx).
func (w *Writer) moveLogs(ctx context.Context, tx *timeline.Txn, h *handle, r *handleResult, c string) error {
	taken, err := filegroup.LogVersions(ctx, w.st, h.id, c)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range r.stat.LogFiles {
		old, err := filegroup.ParseLogFileName(n)
		if err != nil {
			return err
		}
		data, err := storage.ReadFile(ctx, w.st, filegroup.DataPath(h.id.PartitionPath, n))
		if err != nil {
			return err
		}
		a := filegroup.LogAppend{FileGroupID: h.id, BaseInstant: c, WriteToken: old.WriteToken, Taken: taken}
		f, err := filegroup.AppendLog(ctx, w.st, tx, a, data)
		if err != nil {
			return err
		}
		// The original stays (readers may be listing it; its blocks are of
		// this uncompleted instant): once the compaction completes its slice
		// is superseded, and until then the copy and the original hold the
		// same records, which merge to the same result.
		names = append(names, f.Name)
		r.stat.Path = f.Path
	}
	r.stat.LogFiles = names
	empty := ""
	r.stat.BaseFile = &empty
	r.stat.PrevCommit = c
	h.log.baseInstant = c
	return nil
}

// baseFileTotals are the rows and bytes of the base files commit md wrote:
// a deltacommit's log files hold Avro records, whose size says nothing of a
// record's size in Parquet, so record-size estimates leave them out (as
// Hudi's AverageRecordSizeUtils does).
func baseFileTotals(md *timeline.CommitMetadata) (writes, bytes int64) {
	for _, s := range md.Stats() {
		if !s.IsLog() {
			writes += s.NumWrites
			bytes += s.TotalWriteBytes
		}
	}
	return writes, bytes
}
