package writer

import (
	"context"
	"time"

	"github.com/hoodie-lake/hoodie/timeline"
)

// createHandle writes the first base file of a new file group: its
// inserts, nothing to merge.
type createHandle struct {
	wc *writeContext
	h  *handle
}

func (c *createHandle) write(ctx context.Context) (*handleResult, error) {
	start := time.Now()
	bw, err := c.wc.openBaseFile(ctx, c.h, timeline.MarkerCreate)
	if err != nil {
		return nil, err
	}
	defer bw.abort()
	res := &handleResult{}
	stat := &res.stat
	stat.PrevCommit = timeline.NullPrevCommit
	stat.NumInserts = int64(len(c.h.ins))
	res.entries = c.wc.baseIndexEntries(c.h, c.h.ins, 0)
	if err := bw.writeRefs(c.h.ins); err != nil {
		return nil, err
	}
	if err := bw.close(stat); err != nil {
		return nil, err
	}
	stat.RuntimeStats = &timeline.RuntimeStats{TotalCreateTime: time.Since(start).Milliseconds()}
	return res, nil
}
