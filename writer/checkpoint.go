package writer

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// CheckpointKey is the extraMetadata key of a commit's source checkpoint:
// the key Hudi's streamer (HoodieStreamer / DeltaStreamer) resumes from, so
// a table ingested by hoodie can be taken over by Hudi's streamer and back.
const CheckpointKey = "deltastreamer.checkpoint.key"

// LastCheckpoint returns the checkpoint of the latest completed commit or
// deltacommit that recorded one, and that commit's instant; "" when none
// did. Commits without a checkpoint (compactions, other writers) are
// skipped, as Hudi's streamer does.
func LastCheckpoint(ctx context.Context, tbl *table.Table) (checkpoint, instant string, err error) {
	st := tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return "", "", err
	}
	commits := tl.CompletedCommits()
	for i := len(commits) - 1; i >= 0; i-- {
		c := commits[i]
		if c.Action != timeline.Commit && c.Action != timeline.DeltaCommit {
			continue
		}
		md, err := timeline.ReadCommitMetadata(ctx, st, c)
		if err != nil {
			return "", "", fmt.Errorf("writer: last checkpoint: %w", err)
		}
		if cp := md.ExtraMetadata[CheckpointKey]; cp != "" {
			return cp, c.Timestamp, nil
		}
	}
	return "", "", nil
}

// LastCheckpoint is the package function for the writer's table.
func (w *Writer) LastCheckpoint(ctx context.Context) (checkpoint, instant string, err error) {
	return LastCheckpoint(ctx, w.tbl)
}

// KafkaCheckpoint formats Kafka offsets the way Hudi's Kafka source does:
// "topic,partition:offset,partition:offset" (partitions ascending). The
// offsets are the next offsets to consume.
func KafkaCheckpoint(topic string, offsets map[int32]int64) string {
	parts := make([]int32, 0, len(offsets))
	for p := range offsets {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var b strings.Builder
	b.WriteString(topic)
	for _, p := range parts {
		fmt.Fprintf(&b, ",%d:%d", p, offsets[p])
	}
	return b.String()
}

// ParseKafkaCheckpoint parses a KafkaCheckpoint string.
func ParseKafkaCheckpoint(s string) (topic string, offsets map[int32]int64, err error) {
	fields := strings.Split(s, ",")
	if len(fields) < 1 || fields[0] == "" {
		return "", nil, fmt.Errorf("writer: Kafka checkpoint %q: no topic", s)
	}
	offsets = map[int32]int64{}
	for _, f := range fields[1:] {
		ps, os, ok := strings.Cut(f, ":")
		if !ok {
			return "", nil, fmt.Errorf("writer: Kafka checkpoint %q: %q is not partition:offset", s, f)
		}
		p, err := strconv.ParseInt(ps, 10, 32)
		if err != nil {
			return "", nil, fmt.Errorf("writer: Kafka checkpoint %q: partition %q: %w", s, ps, err)
		}
		o, err := strconv.ParseInt(os, 10, 64)
		if err != nil {
			return "", nil, fmt.Errorf("writer: Kafka checkpoint %q: offset %q: %w", s, os, err)
		}
		offsets[int32(p)] = o
	}
	return fields[0], offsets, nil
}
