package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// SlicesRetained is how many visible file slices of the files partition a
// clean keeps: the latest (what readers use) and the one before it (what
// a reader that loaded the metadata timeline before the latest compaction
// may still be reading).
const SlicesRetained = 2

// cleanPolicy is the clean policy recorded in the metadata table's clean
// instants.
const cleanPolicy = "KEEP_LATEST_FILE_VERSIONS"

// clean deletes the file slices of the files partition older than the
// SlicesRetained latest visible ones, as a clean instant of the metadata
// table at "<latest deltacommit>002" (Hudi's clean suffix), so its files
// partition keeps a bounded number of files however long the data table
// lives. A pending clean is finished first.
func (m *Table) clean(ctx context.Context, s *state, latest string) error {
	for _, i := range s.tl.Instants() {
		if i.Action == timeline.Clean && !i.IsCompleted() {
			if err := m.resumeClean(ctx, i); err != nil {
				return err
			}
		}
	}
	var bases []string
	for b, sl := range s.slices {
		if sl.base != "" && s.completedBase(b) {
			bases = append(bases, b)
		}
	}
	if len(bases) <= SlicesRetained {
		return nil
	}
	sort.Sort(sort.Reverse(sort.StringSlice(bases)))
	keep := bases[SlicesRetained-1]
	var victims []string
	for b, sl := range s.slices {
		if b >= keep {
			continue
		}
		if sl.base != "" {
			victims = append(victims, sl.base)
		}
		for _, l := range sl.logs {
			victims = append(victims, l.name)
		}
	}
	if len(victims) == 0 {
		return nil
	}
	sort.Strings(victims)
	C := latest + cleanSuffix
	if _, ok := s.tl.Find(C); ok {
		return nil
	}
	keepInst, _ := s.tl.Find(keep)
	files := make([]avroplan.HoodieCleanFileInfo, len(victims))
	no := false
	for i, v := range victims {
		full := storage.FullPath(m.data, Folder+"/"+FilesPartition+"/"+v)
		files[i] = avroplan.HoodieCleanFileInfo{FilePath: &full, IsBootstrapBaseFile: &no}
	}
	two := int32(2)
	byPart := map[string][]avroplan.HoodieCleanFileInfo{FilesPartition: files}
	plan := &avroplan.HoodieCleanerPlan{
		EarliestInstantToRetain:          &avroplan.HoodieActionInstant{Timestamp: keep, Action: string(keepInst.Action), State: "COMPLETED"},
		LastCompletedCommitTimestamp:     latest,
		Policy:                           cleanPolicy,
		FilesToBeDeletedPerPartition:     &map[string][]string{},
		Version:                          &two,
		FilePathsToBeDeletedPerPartition: &byPart,
		PartitionsToBeDeleted:            []string{},
	}
	var pb bytes.Buffer
	if err := avroplan.Encode(&pb, plan); err != nil {
		return fmt.Errorf("metadata: clean plan: %w", err)
	}
	tx, err := timeline.Request(ctx, m.st, C, timeline.Clean, pb.Bytes())
	if errors.Is(err, timeline.ErrInstantExists) {
		return nil // another writer cleans
	}
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return m.executeClean(ctx, tx, plan, pb.Bytes(), time.Now())
}

// resumeClean finishes clean instant i of the metadata table from its plan.
func (m *Table) resumeClean(ctx context.Context, i timeline.Instant) error {
	b, err := timeline.ReadInstant(ctx, m.st, i.WithState(timeline.Requested))
	if err != nil {
		return fmt.Errorf("metadata: clean %s: %w", i.Timestamp, err)
	}
	var plan avroplan.HoodieCleanerPlan
	if err := avroplan.Decode(bytes.NewReader(b), &plan); err != nil {
		return fmt.Errorf("metadata: clean %s plan: %w", i.Timestamp, err)
	}
	tx, err := timeline.Resume(m.st, i)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return m.executeClean(ctx, tx, &plan, b, time.Now())
}

// executeClean deletes the plan's files (a missing one counts as failed,
// as Hudi reports it) and completes the clean with its
// HoodieCleanMetadata.
func (m *Table) executeClean(ctx context.Context, tx *timeline.Txn, plan *avroplan.HoodieCleanerPlan, planBytes []byte, start time.Time) error {
	if tx.Instant().State == timeline.Requested {
		if err := tx.Inflight(ctx, planBytes); err != nil && !errors.Is(err, timeline.ErrInstantExists) {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	no := false
	pm := avroplan.HoodieCleanPartitionMetadata{PartitionPath: FilesPartition, Policy: plan.Policy,
		DeletePathPatterns: []string{}, SuccessDeleteFiles: []string{}, FailedDeleteFiles: []string{}, IsPartitionDeleted: &no}
	var total int32
	if plan.FilePathsToBeDeletedPerPartition != nil {
		for _, f := range (*plan.FilePathsToBeDeletedPerPartition)[FilesPartition] {
			full := deref(f.FilePath)
			key, ok := storage.KeyOf(m.data, full)
			name := full
			if i := bytes.LastIndexByte([]byte(full), '/'); i >= 0 {
				name = full[i+1:]
			}
			pm.DeletePathPatterns = append(pm.DeletePathPatterns, name)
			if !ok {
				pm.FailedDeleteFiles = append(pm.FailedDeleteFiles, name)
				continue
			}
			exists, err := storage.Exists(ctx, m.data, key)
			if err != nil {
				return fmt.Errorf("metadata: clean: %w", err)
			}
			if !exists {
				pm.FailedDeleteFiles = append(pm.FailedDeleteFiles, name)
				continue
			}
			if err := m.data.Delete(ctx, key); err != nil {
				return fmt.Errorf("metadata: clean: delete %s: %w", key, err)
			}
			pm.SuccessDeleteFiles = append(pm.SuccessDeleteFiles, name)
			total++
		}
	}
	ectr := ""
	if plan.EarliestInstantToRetain != nil {
		ectr = plan.EarliestInstantToRetain.Timestamp
	}
	version := avroplan.CleanMetadataVersion
	md := &avroplan.HoodieCleanMetadata{
		StartCleanTime:               tx.InstantTime(),
		TimeTakenInMillis:            time.Since(start).Milliseconds(),
		TotalFilesDeleted:            total,
		EarliestCommitToRetain:       ectr,
		LastCompletedCommitTimestamp: plan.LastCompletedCommitTimestamp,
		PartitionMetadata:            map[string]avroplan.HoodieCleanPartitionMetadata{FilesPartition: pm},
		Version:                      &version,
		BootstrapPartitionMetadata:   &map[string]avroplan.HoodieCleanPartitionMetadata{},
	}
	var buf bytes.Buffer
	if err := avroplan.Encode(&buf, md); err != nil {
		return fmt.Errorf("metadata: clean: %w", err)
	}
	if err := tx.Complete(ctx, buf.Bytes()); err != nil {
		if errors.Is(err, timeline.ErrAlreadyCompleted) {
			return nil
		}
		return fmt.Errorf("metadata: %w", err)
	}
	m.log.Info("metadata: cleaned", "instant", tx.InstantTime(), "files", total)
	return nil
}
