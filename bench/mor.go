package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// runCompact times compactor.Run with Force over a merge-on-read table
// (scheduling the plan and executing it): every latest slice with log files
// is merged into a new base file. Records is the rows of the new base
// files, Bytes their size; MergedPerSec is log records merged per second.
func runCompact(ctx context.Context, tbl *table.Table) (Result, error) {
	start := time.Now()
	sc, results, err := compactor.Run(ctx, tbl, compactor.Options{Force: true, Compression: table.Snappy})
	if err != nil {
		return Result{}, fmt.Errorf("compaction: %w", err)
	}
	secs := time.Since(start).Seconds()
	if sc == nil || len(results) == 0 {
		return Result{}, fmt.Errorf("compaction: nothing was scheduled (no log files in the table)")
	}
	var r Result
	var groups int
	var logFiles, logBlocks, logRecords int64
	for _, c := range results {
		r.Records += c.Records
		r.Bytes += c.BytesWritten
		groups += c.FileGroups
		logFiles += c.LogFiles
		logBlocks += c.LogBlocks
		logRecords += c.LogRecords
	}
	r.Seconds = secs
	if secs > 0 {
		r.MergedPerSec = float64(logRecords) / secs
	}
	r.Note = fmt.Sprintf("%d file groups, %d log files, %d log blocks, %d log records merged (%.0f/s) into %d records",
		groups, logFiles, logBlocks, logRecords, r.MergedPerSec, r.Records)
	return r, nil
}

// logFiles counts the log files a commit wrote.
func logFiles(res *writer.CommitResult) int {
	if res == nil || res.Metadata == nil {
		return 0
	}
	n := 0
	for _, s := range res.Metadata.Stats() {
		if s.IsLog() {
			n++
		}
	}
	return n
}
