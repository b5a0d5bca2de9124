package cleaner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// execute moves a clean to inflight, deletes its files and completes it:
//
//	T.clean.requested → T.clean.inflight (the plan again)
//	delete each planned file, in plan order
//	T.clean (HoodieCleanMetadata)
func execute(ctx context.Context, tx *timeline.Txn, st storage.Storage, mdt *metadata.Table, plan *avroplan.HoodieCleanerPlan, planBytes []byte, start time.Time, res *Result) error {
	if tx.Instant().State == timeline.Requested {
		// ErrInstantExists: another cleaner got there; inflight all the same.
		if err := tx.Inflight(ctx, planBytes); err != nil && !errors.Is(err, timeline.ErrInstantExists) {
			return fmt.Errorf("cleaner: %w", err)
		}
	}
	inst := tx.Instant()
	parts, total, err := deletePlanned(ctx, st, inst, plan, res)
	if err != nil {
		return err
	}
	cmd := cleanMetadata(inst, plan, parts, total, start)
	var buf bytes.Buffer
	if err := avroplan.Encode(&buf, cmd); err != nil {
		return fmt.Errorf("cleaner: %w", err)
	}
	// Hudi's metadata table records the deletions before the clean
	// completes.
	if mdt != nil {
		if err := mdt.Clean(ctx, inst.Timestamp, cmd); err != nil {
			return fmt.Errorf("cleaner: %s: %w", inst.Timestamp, err)
		}
	}
	if err := tx.Complete(ctx, buf.Bytes()); err != nil {
		if errors.Is(err, timeline.ErrAlreadyCompleted) {
			return nil // another cleaner finished the same plan
		}
		return fmt.Errorf("cleaner: %w", err)
	}
	return nil
}

// deletePlanned deletes the files of a plan and returns the partition
// metadata of the clean and the number of files it deleted. A file already
// gone (an earlier attempt deleted it) or outside the table is a failed
// delete, as Hudi reports it.
func deletePlanned(ctx context.Context, st storage.Storage, inst timeline.Instant, plan *avroplan.HoodieCleanerPlan, res *Result) (map[string]*avroplan.HoodieCleanPartitionMetadata, int32, error) {
	parts := map[string]*avroplan.HoodieCleanPartitionMetadata{}
	var total int32
	for _, f := range planFiles(st, plan) {
		m := parts[f.partition]
		if m == nil {
			m = newPartitionMetadata(f.partition, plan.Policy)
			parts[f.partition] = m
		}
		name := path.Base(f.full)
		m.DeletePathPatterns = append(m.DeletePathPatterns, name)
		var info storage.ObjectInfo
		err := storage.ErrNotExist
		if f.key != "" {
			info, err = st.Stat(ctx, f.key)
		}
		if errors.Is(err, storage.ErrNotExist) {
			m.FailedDeleteFiles = append(m.FailedDeleteFiles, name)
			res.Failed = append(res.Failed, f.full)
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("cleaner: %s: %w", inst, err)
		}
		if err := st.Delete(ctx, f.key); err != nil {
			return nil, 0, fmt.Errorf("cleaner: %s: delete %s: %w", inst, f.key, err)
		}
		m.SuccessDeleteFiles = append(m.SuccessDeleteFiles, name)
		res.Deleted = append(res.Deleted, f.key)
		res.Bytes += info.Size
		total++
	}
	return parts, total, nil
}

func newPartitionMetadata(partition, policy string) *avroplan.HoodieCleanPartitionMetadata {
	no := false
	return &avroplan.HoodieCleanPartitionMetadata{PartitionPath: partition, Policy: policy,
		DeletePathPatterns: []string{}, SuccessDeleteFiles: []string{}, FailedDeleteFiles: []string{},
		IsPartitionDeleted: &no}
}

// cleanMetadata is the content of a completed clean.
func cleanMetadata(inst timeline.Instant, plan *avroplan.HoodieCleanerPlan, parts map[string]*avroplan.HoodieCleanPartitionMetadata, total int32, start time.Time) *avroplan.HoodieCleanMetadata {
	ectr := ""
	if plan.EarliestInstantToRetain != nil {
		ectr = plan.EarliestInstantToRetain.Timestamp
	}
	version := avroplan.CleanMetadataVersion
	md := &avroplan.HoodieCleanMetadata{
		StartCleanTime:               inst.Timestamp,
		TimeTakenInMillis:            time.Since(start).Milliseconds(),
		TotalFilesDeleted:            total,
		EarliestCommitToRetain:       ectr,
		LastCompletedCommitTimestamp: plan.LastCompletedCommitTimestamp,
		PartitionMetadata:            map[string]avroplan.HoodieCleanPartitionMetadata{},
		Version:                      &version,
		BootstrapPartitionMetadata:   &map[string]avroplan.HoodieCleanPartitionMetadata{},
	}
	for p, m := range parts {
		md.PartitionMetadata[p] = *m
	}
	return md
}

type planFile struct {
	partition string
	full      string // as in the plan
	key       string // "" when outside the table
}

// planFiles lists a plan's files in plan order (partitions sorted): version
// 2 full paths, or version 1 file names.
func planFiles(st storage.Storage, plan *avroplan.HoodieCleanerPlan) []planFile {
	var out []planFile
	if plan.FilePathsToBeDeletedPerPartition != nil && len(*plan.FilePathsToBeDeletedPerPartition) > 0 {
		m := *plan.FilePathsToBeDeletedPerPartition
		for _, p := range sortedKeys(m) {
			for _, fi := range m[p] {
				if fi.FilePath == nil {
					continue
				}
				k, ok := storage.KeyOf(st, *fi.FilePath)
				if !ok || k == "" || isMetaKey(k) {
					k = ""
				}
				out = append(out, planFile{partition: p, full: *fi.FilePath, key: k})
			}
		}
		return out
	}
	if plan.FilesToBeDeletedPerPartition != nil {
		m := *plan.FilesToBeDeletedPerPartition
		for _, p := range sortedKeys(m) {
			for _, name := range m[p] {
				k := name
				if p != "" {
					k = p + "/" + name
				}
				out = append(out, planFile{partition: p, full: k, key: k})
			}
		}
	}
	return out
}

// isMetaKey reports whether a key lies in .hoodie/: a plan never deletes
// timeline files.
func isMetaKey(k string) bool {
	return k == timeline.MetaFolder || strings.HasPrefix(k, timeline.MetaFolder+"/")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
