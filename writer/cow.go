package writer

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// baseFileWriter writes one new base file of a file group, for the create
// and merge handles: the marker, the object (create-if-absent), the Parquet
// writer filling the meta columns, and the bloom filter of the file's keys
// in its footer.
type baseFileWriter struct {
	id        filegroup.FileGroupID
	name      string // the file name, every row's _hoodie_file_name
	path      string
	instant   string
	seqPrefix string
	seq       int64
	dataNames []string // the data columns of the table schema
	sw        storage.Writer
	fw        *basefile.Writer
	filter    *bloom.DynamicV0
}

// openBaseFile starts the new base file of h: its marker (create or merge)
// through the commit's Txn, then the object. The caller defers abort.
func (wc *writeContext) openBaseFile(ctx context.Context, h *handle, kind timeline.MarkerType) (*baseFileWriter, error) {
	bf := filegroup.BaseFile{FileID: h.id.FileID, WriteToken: h.writeToken(), InstantTime: wc.instant, Ext: filegroup.ExtParquet}
	b := &baseFileWriter{
		id:        h.id,
		name:      bf.String(),
		instant:   wc.instant,
		seqPrefix: wc.seqPrefix(h),
		dataNames: fieldNames(wc.schema),
		filter:    bloom.NewDefault(),
	}
	b.path = filegroup.DataPath(h.id.PartitionPath, b.name)
	if err := wc.txn.Marker(ctx, b.path, kind); err != nil {
		return nil, err
	}
	sw, err := wc.w.st.Create(ctx, b.path, storage.CreateOptions{IfAbsent: true})
	if err != nil {
		return nil, err
	}
	codec, err := basefile.CompressionNamed(string(wc.w.opts.Compression))
	if err != nil {
		sw.Abort()
		return nil, fmt.Errorf("writer: %w", err)
	}
	fw, err := basefile.NewWriter(sw, wc.schema, basefile.WriterOptions{Compression: codec, PageBufferDir: wc.w.opts.SpillDir})
	if err != nil {
		sw.Abort()
		return nil, err
	}
	b.sw, b.fw = sw, fw
	return b, nil
}

// abort discards the file; after close it does nothing.
func (b *baseFileWriter) abort() {
	b.fw.Abort()
	b.sw.Abort()
}

// writeStored writes rows kept from the old base file, with the meta
// columns they were stored with (only the file name is the new one's).
func (b *baseFileWriter) writeStored(kept arrow.RecordBatch) error {
	keys, ok := arrowutil.Column(kept, schema.RecordKeyField).(*array.String)
	if !ok {
		return fmt.Errorf("writer: %s is not a string column", schema.RecordKeyField)
	}
	for i := 0; i < keys.Len(); i++ {
		b.filter.AddString(keys.Value(i))
	}
	meta := basefile.Meta{
		CommitTime:    basefile.Column(kept, schema.CommitTimeField),
		SeqNo:         basefile.Column(kept, schema.CommitSeqNoField),
		RecordKey:     basefile.Column(kept, schema.RecordKeyField),
		PartitionPath: basefile.Column(kept, schema.PartitionPathField),
		FileName:      basefile.Const(b.name),
	}
	data := arrowutil.Project(kept, b.dataNames)
	defer data.Release()
	return b.fw.Write(meta, data)
}

// writeRefs writes incoming records straight from their source batches,
// batch by batch in the order the batches first appear in rows.
func (b *baseFileWriter) writeRefs(rows []ref) error {
	bySrc := map[*batch][]int{}
	var order []*batch
	for _, r := range rows {
		if _, ok := bySrc[r.b]; !ok {
			order = append(order, r.b)
		}
		bySrc[r.b] = append(bySrc[r.b], r.row)
	}
	for _, src := range order {
		rows := bySrc[src]
		keys := make([]string, len(rows))
		for i, row := range rows {
			keys[i] = src.keys[row]
			b.filter.AddString(keys[i])
		}
		meta := basefile.Meta{
			CommitTime:    basefile.Const(b.instant),
			SeqNo:         basefile.Sequence(b.seqPrefix, b.seq),
			RecordKey:     basefile.PerRow(keys),
			PartitionPath: basefile.Const(b.id.PartitionPath),
			FileName:      basefile.Const(b.name),
		}
		b.seq += int64(len(rows))
		rec, err := src.record()
		if err != nil {
			return err
		}
		err = b.fw.WriteRows(meta, rec, rows)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// close puts the bloom filter in the footer and completes the object;
// stat receives the file's identity, path, rows and size.
func (b *baseFileWriter) close(stat *timeline.WriteStat) error {
	if err := b.fw.SetBloomFilter(b.filter); err != nil {
		return err
	}
	info, err := b.fw.Close()
	if err != nil {
		return err
	}
	if err := b.sw.Close(); err != nil {
		return err
	}
	stat.FileID = b.id.FileID
	stat.Path = b.path
	stat.PartitionPath = b.id.PartitionPath
	stat.NumWrites = info.Rows
	stat.FileSizeInBytes = info.Size
	stat.TotalWriteBytes = info.Size
	return nil
}

// baseIndexEntries are the index entries of the incoming rows a new base
// file of h holds (rows[:updates] replace stored records, then come the
// keys new to the group, ending with h.ins): new keys, and with a TTL
// (to refresh them) updated ones too; an updated key otherwise keeps its
// entry, as its file group is the same. Keys of h.ins[:h.fresh] were
// indexed before the commit point and are left out.
func (wc *writeContext) baseIndexEntries(h *handle, rows []ref, updates int) []index.Entry {
	refresh := wc.w.opts.IndexTTL > 0
	loc := index.Location{PartitionPath: h.id.PartitionPath, FileID: h.id.FileID, Instant: wc.instant}
	earlyFrom := len(rows) - len(h.ins)
	earlyTo := earlyFrom + h.fresh
	want := func(i int) bool {
		return (i < earlyFrom || i >= earlyTo) && // else indexed before the commit point
			(i >= updates || refresh)
	}
	n := 0
	for i := range rows {
		if want(i) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]index.Entry, 0, n)
	for i, r := range rows {
		if want(i) {
			out = append(out, index.Entry{Key: index.Key{PartitionPath: h.id.PartitionPath, RecordKey: r.key()}, Location: loc})
		}
	}
	return out
}

func fieldNames(s *schema.Schema) []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}
