package cleaner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Defaults of ArchiveOptions, as Hudi's hoodie.keep.min.commits and
// hoodie.keep.max.commits.
const (
	DefaultMinToKeep = 20
	DefaultMaxToKeep = 30
)

// archiveBatch is the number of entries per Avro data block
// (hoodie.commits.archival.batch).
const archiveBatch = 10

// ArchiveOptions configure Archive. The zero value keeps 20 to 30 commits.
type ArchiveOptions struct {
	// MinToKeep is the number of completed commit-type instants left
	// active after archiving. Default 20.
	MinToKeep int
	// MaxToKeep triggers archival when exceeded. Default 30; greater than
	// MinToKeep.
	MaxToKeep int
}

// ArchiveResult reports an Archive.
type ArchiveResult struct {
	// Archived are the completed instants moved out of the active
	// timeline, oldest first; empty when nothing was archived.
	Archived []timeline.Instant
	// File is the archive log file written (key relative to the table
	// base), "" if none.
	File string
	// Entries is the number of HoodieArchivedMetaEntry records written.
	Entries int
	// PrunedClaims is the number of instant-time claims deleted.
	PrunedClaims int
}

// archivable are the actions Archive moves; any other completed action
// (savepoint, restore, indexing) stops archival, as Hudi stops at the first
// savepoint.
var archivable = map[timeline.Action]bool{
	timeline.Commit: true, timeline.DeltaCommit: true, timeline.ReplaceCommit: true,
	timeline.Clean: true, timeline.Rollback: true,
}

// Archive moves the oldest completed instants of the active timeline into
// the archived timeline when more than MaxToKeep completed commits are
// active. See the package documentation for the rules and the crash order.
func Archive(ctx context.Context, tbl *table.Table, opts ArchiveOptions) (*ArchiveResult, error) {
	if opts.MinToKeep == 0 {
		opts.MinToKeep = DefaultMinToKeep
	}
	if opts.MaxToKeep == 0 {
		opts.MaxToKeep = DefaultMaxToKeep
	}
	if opts.MinToKeep < 1 || opts.MaxToKeep <= opts.MinToKeep {
		return nil, fmt.Errorf("cleaner: archive: want 1 <= MinToKeep < MaxToKeep, got %d and %d", opts.MinToKeep, opts.MaxToKeep)
	}
	st := tbl.Storage()
	folder := tbl.Config().ArchiveLogFolder
	if folder == "" {
		folder = table.DefaultArchiveFolder
	}
	folder = timeline.MetaFolder + "/" + strings.Trim(folder, "/")

	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("cleaner: archive: %w", err)
	}
	res := &ArchiveResult{}
	done, err := lastArchived(ctx, st, folder)
	if err != nil {
		return nil, err
	}
	// Finish an interrupted archival: the oldest active instants whose
	// completed state the newest archive file already holds.
	var finished []timeline.Instant
	for _, i := range tl.Instants() {
		if !i.IsCompleted() || !done[instantKey(i)] {
			break
		}
		finished = append(finished, i)
	}
	if len(finished) > 0 {
		files, err := instantFiles(ctx, st, finished)
		if err != nil {
			return nil, err
		}
		if err := deleteInstantFiles(ctx, st, files); err != nil {
			return nil, err
		}
		res.Archived = finished
		if tl, err = timeline.Load(ctx, st); err != nil {
			return res, fmt.Errorf("cleaner: archive: %w", err)
		}
	}
	commits := tl.CompletedCommits()
	if len(commits) <= opts.MaxToKeep {
		return res, prune(ctx, st, tl, res)
	}
	stop, err := archiveLimit(ctx, st, tl)
	if err != nil {
		return nil, err
	}
	if kept := commits[len(commits)-opts.MinToKeep].Timestamp; stop == "" || kept < stop {
		stop = kept
	}
	var victims []timeline.Instant
	for _, i := range tl.Instants() {
		if i.Timestamp >= stop || !i.IsCompleted() || !archivable[i.Action] {
			break // a prefix only: no holes in the active timeline
		}
		victims = append(victims, i)
	}
	if len(victims) == 0 {
		return res, prune(ctx, st, tl, res)
	}

	files, err := instantFiles(ctx, st, victims)
	if err != nil {
		return nil, err
	}
	var datums [][]byte
	for _, f := range files {
		e, err := archivedEntry(ctx, st, f)
		if err != nil {
			return nil, err
		}
		if done[entryKey(e)] {
			continue // archived by an attempt that crashed before deleting
		}
		b, err := avroplan.MarshalArchivedEntry(e)
		if err != nil {
			return nil, fmt.Errorf("cleaner: archive: %w", err)
		}
		datums = append(datums, b)
	}
	if len(datums) > 0 {
		key, err := writeArchive(ctx, st, folder, datums)
		if err != nil {
			return nil, err
		}
		res.File, res.Entries = key, len(datums)
	}

	if err := deleteInstantFiles(ctx, st, files); err != nil {
		return res, err
	}
	res.Archived = append(res.Archived, victims...)

	tl, err = timeline.Load(ctx, st)
	if err != nil {
		return res, fmt.Errorf("cleaner: archive: %w", err)
	}
	return res, prune(ctx, st, tl, res)
}

// prune deletes instant-time claims older than the oldest active instant,
// once something was archived.
func prune(ctx context.Context, st storage.Storage, tl *timeline.Timeline, res *ArchiveResult) error {
	if len(res.Archived) == 0 {
		return nil
	}
	oldest := tl.FirstInstantTime()
	if oldest == "" {
		return nil
	}
	n, err := timeline.PruneClaims(ctx, st, oldest)
	if err != nil {
		return fmt.Errorf("cleaner: archive: %w", err)
	}
	res.PrunedClaims = n
	return nil
}

// instantFiles lists every instant file (any state) of the instants.
func instantFiles(ctx context.Context, st storage.Storage, insts []timeline.Instant) ([]instantFile, error) {
	want := map[string]bool{}
	for _, v := range insts {
		want[v.Timestamp] = true
	}
	var files []instantFile
	for obj, err := range st.List(ctx, timeline.MetaFolder+"/", "/") {
		if err != nil {
			return nil, fmt.Errorf("cleaner: archive: %w", err)
		}
		if obj.IsDir {
			continue
		}
		inst, ok := timeline.ParseFileName(path.Base(obj.Path))
		if ok && want[inst.Timestamp] {
			files = append(files, instantFile{inst: inst, obj: obj})
		}
	}
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i].inst, files[j].inst
		if a.Timestamp != b.Timestamp {
			return a.Timestamp < b.Timestamp
		}
		return a.State < b.State
	})
	return files, nil
}

// deleteInstantFiles deletes requested and inflight files first (a
// completed instant stays completed without them), then the completed
// files oldest first, so the instants gone from .hoodie/ are always a
// prefix of the timeline.
func deleteInstantFiles(ctx context.Context, st storage.Storage, files []instantFile) error {
	for _, pass := range []bool{false, true} {
		for _, f := range files {
			if (f.inst.State == timeline.Completed) != pass {
				continue
			}
			if err := st.Delete(ctx, f.obj.Path); err != nil {
				return fmt.Errorf("cleaner: archive: %w", err)
			}
		}
	}
	return nil
}

// archiveLimit is the earliest instant archival must not reach: the
// earliest pending instant, the base instants of pending compaction plans,
// and the earliestCommitToRetain of the latest completed clean ("" = none).
func archiveLimit(ctx context.Context, st storage.Storage, tl *timeline.Timeline) (string, error) {
	limit := ""
	lower := func(ts string) {
		if ts != "" && (limit == "" || ts < limit) {
			limit = ts
		}
	}
	if p := tl.Pending(); len(p) > 0 {
		lower(p[0].Timestamp)
	}
	for _, inst := range tl.PendingCompactions() {
		plan, err := table.ReadCompactionPlan(ctx, st, inst.Timestamp)
		if err != nil {
			return "", fmt.Errorf("cleaner: archive: %w", err)
		}
		for _, op := range plan.Operations {
			if op.BaseInstantTime != nil {
				lower(*op.BaseInstantTime)
			}
		}
	}
	cleans := tl.Filter(func(i timeline.Instant) bool { return i.Action == timeline.Clean && i.IsCompleted() })
	if len(cleans) > 0 {
		b, err := timeline.ReadInstant(ctx, st, cleans[len(cleans)-1])
		if err != nil {
			return "", fmt.Errorf("cleaner: archive: %w", err)
		}
		md := &avroplan.HoodieCleanMetadata{}
		if err := avroplan.Decode(bytes.NewReader(b), md); err != nil {
			return "", fmt.Errorf("cleaner: archive: clean %s: %w", cleans[len(cleans)-1].Timestamp, err)
		}
		lower(md.EarliestCommitToRetain)
	}
	return limit, nil
}

type instantFile struct {
	inst timeline.Instant
	obj  storage.ObjectInfo
}

// instantKey is entryKey of a completed instant's entry.
func instantKey(i timeline.Instant) string {
	return i.Timestamp + "/" + string(i.Action) + "/" + i.State.String()
}

func entryKey(e *avroplan.HoodieArchivedMetaEntry) string {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return s(e.CommitTime) + "/" + s(e.ActionType) + "/" + s(e.ActionState)
}

// archivedEntry converts one instant file as Hudi's createMetaWrapper does.
func archivedEntry(ctx context.Context, st storage.Storage, f instantFile) (*avroplan.HoodieArchivedMetaEntry, error) {
	inst := f.inst
	b, err := storage.ReadFile(ctx, st, f.obj.Path)
	if err != nil {
		return nil, fmt.Errorf("cleaner: archive: %w", err)
	}
	ts, action, state := inst.Timestamp, string(inst.Action), strings.ToUpper(inst.State.String())
	version := avroplan.ArchivedMetaEntryVersion
	e := &avroplan.HoodieArchivedMetaEntry{CommitTime: &ts, ActionType: &action, ActionState: &state, Version: &version}
	if !f.obj.ModTime.IsZero() {
		t := timeline.FormatInstantTime(f.obj.ModTime)
		e.StateTransitionTime = &t
	}
	empty := timeline.IsEmptyContent(b)
	decode := func(rec avroplan.Record) error {
		if err := avroplan.Decode(bytes.NewReader(b), rec); err != nil {
			return fmt.Errorf("cleaner: archive: %s: %w", inst, err)
		}
		return nil
	}
	switch inst.Action {
	case timeline.Commit, timeline.DeltaCommit:
		if !empty {
			md, err := timeline.ParseCommitMetadata(b)
			if err != nil {
				return nil, fmt.Errorf("cleaner: archive: %s: %w", inst, err)
			}
			e.HoodieCommitMetadata = avroCommitMetadata(md)
		}
	case timeline.ReplaceCommit:
		switch {
		case inst.State == timeline.Completed:
			md, err := timeline.ParseCommitMetadata(b)
			if err != nil {
				return nil, fmt.Errorf("cleaner: archive: %s: %w", inst, err)
			}
			c := avroCommitMetadata(md)
			r := map[string][]string{}
			for p, ids := range md.PartitionToReplaceFileIDs {
				r[p] = append([]string{}, ids...)
			}
			e.HoodieReplaceCommitMetadata = &avroplan.HoodieReplaceCommitMetadata{
				PartitionToWriteStats: c.PartitionToWriteStats, ExtraMetadata: c.ExtraMetadata,
				Version: c.Version, OperationType: c.OperationType, PartitionToReplaceFileIds: &r,
			}
		case inst.State == timeline.Inflight && !empty:
			if md, err := timeline.ParseCommitMetadata(b); err == nil {
				e.HoodieInflightReplaceMetadata = avroCommitMetadata(md)
			}
		case inst.State == timeline.Requested && !empty:
			rm := &avroplan.HoodieRequestedReplaceMetadata{}
			if err := decode(rm); err != nil {
				return nil, err
			}
			e.HoodieRequestedReplaceMetadata = rm
		}
	case timeline.Clean:
		if empty {
			break
		}
		if inst.State == timeline.Completed {
			md := &avroplan.HoodieCleanMetadata{}
			if err := decode(md); err != nil {
				return nil, err
			}
			e.HoodieCleanMetadata = md
		} else {
			p := &avroplan.HoodieCleanerPlan{}
			if err := decode(p); err != nil {
				return nil, err
			}
			e.HoodieCleanerPlan = p
		}
	case timeline.Rollback:
		if inst.State == timeline.Completed && !empty {
			md := &avroplan.HoodieRollbackMetadata{}
			if err := decode(md); err != nil {
				return nil, err
			}
			e.HoodieRollbackMetadata = md
		}
	case timeline.Compaction:
		if inst.State == timeline.Requested && !empty {
			p := &avroplan.HoodieCompactionPlan{}
			if err := decode(p); err != nil {
				return nil, err
			}
			e.HoodieCompactionPlan = p
		}
	}
	return e, nil
}

// avroCommitMetadata is Java's MetadataConversionUtils.convertCommitMetadata:
// the JSON metadata as its Avro record, operation type COMPACT for
// compactions, and an empty ROLLING_STAT in extraMetadata.
func avroCommitMetadata(md *timeline.CommitMetadata) *avroplan.HoodieCommitMetadata {
	stats := map[string][]avroplan.HoodieWriteStat{}
	for p, list := range md.PartitionToWriteStats {
		out := make([]avroplan.HoodieWriteStat, 0, len(list))
		for _, s := range list {
			out = append(out, avroplan.HoodieWriteStat{
				FileID: ptr(s.FileID), Path: ptr(s.Path), PrevCommit: ptr(s.PrevCommit),
				NumWrites: ptr(s.NumWrites), NumDeletes: ptr(s.NumDeletes), NumUpdateWrites: ptr(s.NumUpdateWrites),
				TotalWriteBytes: ptr(s.TotalWriteBytes), TotalWriteErrors: ptr(s.TotalWriteErrors),
				PartitionPath: ptr(s.PartitionPath), TotalLogRecords: ptr(s.TotalLogRecords),
				TotalUpdatedRecordsCompacted: ptr(s.TotalUpdatedRecordsCompacted), NumInserts: ptr(s.NumInserts),
				TotalLogBlocks: ptr(s.TotalLogBlocks), TotalCorruptLogBlock: ptr(s.TotalCorruptLogBlock),
				TotalRollbackBlocks: ptr(s.TotalRollbackBlocks), FileSizeInBytes: ptr(s.FileSizeInBytes),
			})
		}
		stats[p] = out
	}
	extra := map[string]string{}
	for k, v := range md.ExtraMetadata {
		extra[k] = v
	}
	extra["ROLLING_STAT"] = ""
	op := md.OperationType
	if md.Compacted {
		op = timeline.OpCompact
	}
	one := int32(1)
	c := &avroplan.HoodieCommitMetadata{PartitionToWriteStats: &stats, ExtraMetadata: &extra, Version: &one}
	if op != "" {
		c.OperationType = &op
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// archiveFileName is the name of archive log file version n.
func archiveFileName(n int) string {
	return table.LogFile{FileID: "commits", Version: n, WriteToken: table.WriteToken{TaskPartitionID: 1, TaskAttemptID: 1}, Ext: table.ExtArchive}.String()
}

// archiveFiles lists the archive log files of folder by version.
func archiveFiles(ctx context.Context, st storage.Storage, folder string) (map[int]string, error) {
	out := map[int]string{}
	for obj, err := range st.List(ctx, folder+"/", "/") {
		if err != nil {
			return nil, fmt.Errorf("cleaner: archive: %w", err)
		}
		if obj.IsDir {
			continue
		}
		lf, err := table.ParseLogFileName(path.Base(obj.Path))
		if err != nil || lf.Ext != table.ExtArchive || lf.FileID != "commits" {
			continue
		}
		out[lf.Version] = obj.Path
	}
	return out, nil
}

// writeArchive writes the datums as the next archive log file, in Avro data
// blocks of archiveBatch records, and returns its key.
func writeArchive(ctx context.Context, st storage.Storage, folder string, datums [][]byte) (string, error) {
	schema, err := avroplan.ArchivedEntrySchemaJSON()
	if err != nil {
		return "", fmt.Errorf("cleaner: archive: %w", err)
	}
	var buf bytes.Buffer
	for i := 0; i < len(datums); i += archiveBatch {
		batch := datums[i:min(i+archiveBatch, len(datums))]
		var content []byte
		content = binary.BigEndian.AppendUint32(content, logfile.BlockVersion)
		content = binary.BigEndian.AppendUint32(content, uint32(len(batch)))
		for _, d := range batch {
			content = binary.BigEndian.AppendUint32(content, uint32(len(d)))
			content = append(content, d...)
		}
		blk := logfile.Block{Type: logfile.AvroDataBlock, Header: logfile.Headers{{Key: logfile.SchemaHeader, Value: schema}}, Content: content}
		if _, err := logfile.WriteBlock(&buf, blk); err != nil {
			return "", fmt.Errorf("cleaner: archive: %w", err)
		}
	}
	existing, err := archiveFiles(ctx, st, folder)
	if err != nil {
		return "", err
	}
	next := 1
	for v := range existing {
		next = max(next, v+1)
	}
	for range 100 {
		key := folder + "/" + archiveFileName(next)
		err := storage.WriteFile(ctx, st, key, buf.Bytes(), storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			next++
			continue
		}
		if err != nil {
			return "", fmt.Errorf("cleaner: archive: write %s: %w", key, err)
		}
		return key, nil
	}
	return "", errors.New("cleaner: archive: no free archive file version")
}

// lastArchived returns the entry keys of the newest archive file, the only
// one a crashed Archive can have written without deleting its instants.
func lastArchived(ctx context.Context, st storage.Storage, folder string) (map[string]bool, error) {
	files, err := archiveFiles(ctx, st, folder)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	newest := 0
	for v := range files {
		newest = max(newest, v)
	}
	if newest == 0 {
		return out, nil
	}
	entries, err := ReadArchiveFile(ctx, st, files[newest])
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		out[entryKey(e)] = true
	}
	return out, nil
}

// ReadArchiveFile decodes every HoodieArchivedMetaEntry of one archive log
// file (key relative to the table base), in file order.
func ReadArchiveFile(ctx context.Context, st storage.Storage, key string) ([]*avroplan.HoodieArchivedMetaEntry, error) {
	b, err := storage.ReadFile(ctx, st, key)
	if err != nil {
		return nil, fmt.Errorf("cleaner: read archive: %w", err)
	}
	var out []*avroplan.HoodieArchivedMetaEntry
	r := logfile.NewReader(bytes.NewReader(b), int64(len(b)))
	for {
		blk, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, logfile.ErrCorrupt) && !errors.Is(err, logfile.ErrUnsupported) {
			return nil, fmt.Errorf("cleaner: read archive %s: %w", key, err)
		}
		blk.Release()
		if blk.Type != logfile.AvroDataBlock {
			continue
		}
		recs, err := splitAvroContent(blk.Content)
		if err != nil {
			return nil, fmt.Errorf("cleaner: read archive %s: %w", key, err)
		}
		schema := blk.Header.Value(logfile.SchemaHeader)
		for _, d := range recs {
			e, err := avroplan.UnmarshalArchivedEntry(d, schema)
			if err != nil {
				return nil, fmt.Errorf("cleaner: read archive %s: %w", key, err)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// splitAvroContent splits Avro data block content (version 3) into datums.
func splitAvroContent(c []byte) ([][]byte, error) {
	if len(c) < 8 {
		return nil, errors.New("cleaner: short Avro data block")
	}
	if v := binary.BigEndian.Uint32(c); v != logfile.BlockVersion {
		return nil, fmt.Errorf("cleaner: Avro data block version %d", v)
	}
	n := binary.BigEndian.Uint32(c[4:])
	c = c[8:]
	var out [][]byte
	for i := uint32(0); i < n; i++ {
		if len(c) < 4 {
			return nil, errors.New("truncated Avro data block")
		}
		l := binary.BigEndian.Uint32(c)
		if uint64(l) > uint64(len(c)-4) {
			return nil, errors.New("truncated Avro data block record")
		}
		out = append(out, c[4:4+l])
		c = c[4+l:]
	}
	return out, nil
}
