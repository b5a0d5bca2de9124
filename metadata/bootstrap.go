package metadata

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/mdtrecord"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Enable gives the data table tbl a metadata table, initialised from a
// listing of its committed files as Hudi's initializeFromFilesystem does,
// and adds "files" to its hoodie.table.metadata.partitions. From then on
// every hoodie write maintains it. The data table must have no pending
// instant (ErrPendingInstants: roll them back first). Enabling a table
// that already has its metadata table is a no-op.
//
// The order keeps a crash harmless: the metadata table is built under
// .hoodie/metadata first (a leftover of a crashed Enable is deleted and
// built again), and hoodie.properties names it last.
func Enable(ctx context.Context, tbl *table.Table, opts Options) error {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := tbl.Refresh(ctx); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	cfg := tbl.Config()
	if Enabled(cfg) {
		return Supported(cfg)
	}
	st := tbl.Storage()
	data, err := tbl.Timeline(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if p := data.Pending(); len(p) > 0 {
		return fmt.Errorf("%w: %v (hoodie rollback, or finish them, before enabling the metadata table)", ErrPendingInstants, p)
	}
	listing, err := listCommitted(ctx, st, data)
	if err != nil {
		return err
	}
	init := SoloCommitTime
	if last, ok := data.LastCompletedCommit(); ok {
		init = last.Timestamp
	}
	for _, i := range data.Completed() {
		if i.Timestamp > init {
			init = i.Timestamp
		}
	}
	init += initSuffix
	m := newTable(st, opts)
	if err := m.clear(ctx); err != nil {
		return err
	}
	if err := m.initialise(ctx, cfg.Name, init, listing); err != nil {
		return err
	}
	if err := tbl.UpdateProperties(ctx, func(props map[string]string) error {
		props[table.KeyMetadataPartitions] = FilesPartition
		props[table.KeyMetadataPartitionsInfl] = ""
		return nil
	}); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	m.log.Info("metadata: initialised", "instant", init, "partitions", len(listing.Partitions))
	return nil
}

// Disable deletes the data table's metadata table, as Hudi does for a
// write with hoodie.metadata.enable=false: hoodie.properties stops naming
// it first (readers then list storage), then .hoodie/metadata goes.
func Disable(ctx context.Context, tbl *table.Table) error {
	if err := tbl.UpdateProperties(ctx, func(props map[string]string) error {
		props[table.KeyMetadataPartitions] = ""
		props[table.KeyMetadataPartitionsInfl] = ""
		return nil
	}); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	var o Options
	o.EnsureDefaults()
	return newTable(tbl.Storage(), o).clear(ctx)
}

// clear deletes everything under .hoodie/metadata.
func (m *Table) clear(ctx context.Context) error {
	var keys []string
	for obj, err := range m.st.List(ctx, "", "") {
		if err != nil {
			return fmt.Errorf("metadata: list: %w", err)
		}
		if !obj.IsDir {
			keys = append(keys, obj.Path)
		}
	}
	// Properties last, so a crash leaves no timeline without them.
	slices.SortFunc(keys, func(a, b string) int {
		ap, bp := a == table.PropertiesFile, b == table.PropertiesFile
		switch {
		case ap == bp:
			return 0
		case ap:
			return 1
		}
		return -1
	})
	for _, k := range keys {
		if err := m.st.Delete(ctx, k); err != nil {
			return fmt.Errorf("metadata: delete %s: %w", k, err)
		}
	}
	return nil
}

// listCommitted lists the data files of every partition whose instant is
// visible on data (base files by their instant, log files by their
// slice's base instant: with no instant pending, every log file present
// belongs to a completed instant).
func listCommitted(ctx context.Context, st storage.Storage, data *timeline.Timeline) (*Listing, error) {
	parts, err := table.ListPartitions(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	visible := data.Visible("")
	l := &Listing{Partitions: parts, Files: map[string]map[string]int64{}}
	for _, p := range parts {
		files := map[string]int64{}
		prefix := ""
		if p != "" {
			prefix = p + "/"
		}
		for obj, err := range st.List(ctx, prefix, "/") {
			if err != nil {
				return nil, fmt.Errorf("metadata: list %q: %w", p, err)
			}
			if obj.IsDir {
				continue
			}
			name := path.Base(obj.Path)
			if bf, err := filegroup.ParseBaseFileName(name); err == nil {
				if visible(bf.InstantTime) {
					files[name] = obj.Size
				}
				continue
			}
			if lf, err := filegroup.ParseLogFileName(name); err == nil && lf.Ext == filegroup.ExtLog {
				if visible(lf.BaseInstant) || isPendingCompactionBase(data, lf.BaseInstant) {
					files[name] = obj.Size
				}
			}
		}
		l.Files[p] = files
	}
	return l, nil
}

// isPendingCompactionBase reports whether ts is a compaction instant (log
// files are written into its slice before its base file exists).
func isPendingCompactionBase(data *timeline.Timeline, ts string) bool {
	i, ok := data.Find(ts)
	return ok && (i.Action == timeline.Compaction || i.Action == timeline.Commit)
}

// initialise writes a new metadata table at instant init holding listing:
// hoodie.properties, the files partition's metadata, its base file, the
// completed deltacommit.
func (m *Table) initialise(ctx context.Context, dataName, init string, listing *Listing) error {
	now := time.Now()
	if err := storage.WriteFile(ctx, m.st, table.PropertiesFile, formatProperties(properties(dataName), now), storage.CreateOptions{}); err != nil {
		return fmt.Errorf("metadata: write properties: %w", err)
	}
	tx, err := timeline.Request(ctx, m.st, init, timeline.DeltaCommit, nil)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := tx.Inflight(ctx, nil); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	md := table.PartitionMetadata{CommitTime: init, PartitionDepth: 1}
	if err := storage.WriteFile(ctx, m.st, table.PartitionMetadataPath(FilesPartition), table.FormatPartitionMetadata(md, now), storage.CreateOptions{}); err != nil {
		return fmt.Errorf("metadata: write partition metadata: %w", err)
	}
	recs := initialRecords(listing)
	var buf bytes.Buffer
	if err := mdtrecord.WriteBaseFile(&buf, recs); err != nil {
		return fmt.Errorf("metadata: initialise: %w", err)
	}
	p := FilesPartition + "/" + baseFileName(init)
	if err := tx.Marker(ctx, p, timeline.MarkerCreate); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := storage.WriteFile(ctx, m.st, p, buf.Bytes(), storage.CreateOptions{}); err != nil {
		return fmt.Errorf("metadata: write %s: %w", p, err)
	}
	size := int64(buf.Len())
	cm := &timeline.CommitMetadata{
		OperationType: opBulkInsert,
		ExtraMetadata: map[string]string{timeline.SchemaKey: mdtrecord.RecordSchema},
	}
	cm.AddStat(timeline.WriteStat{
		FileID: FilesFileID, Path: p, PrevCommit: "null",
		NumWrites: int64(len(recs)), NumInserts: int64(len(recs)),
		TotalWriteBytes: size, PartitionPath: FilesPartition, FileSizeInBytes: size,
		RuntimeStats: &timeline.RuntimeStats{},
	})
	b, err := cm.Marshal()
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := tx.Complete(ctx, b); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := tx.Finish(ctx); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// initialRecords are the records of a listing: the partition list and one
// files record per partition, sorted by key.
func initialRecords(l *Listing) []mdtrecord.Record {
	c := newChanges()
	for _, p := range l.Partitions {
		c.partitions[p] = true
		if _, ok := c.added[p]; !ok {
			c.added[p] = map[string]int64{}
		}
		for f, size := range l.Files[p] {
			c.add(p, f, size)
		}
	}
	return c.records()
}
