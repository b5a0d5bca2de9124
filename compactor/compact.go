package compactor

import (
	"context"
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// compactOne merges operation i's slice into the new base file of the
// group at instant T of the execution, behind T's CREATE marker. The file
// name is a function of (T, i), so a re-run overwrites what a crashed run
// left.
func (ex *execution) compactOne(ctx context.Context, i int, op avroplan.HoodieCompactionOperation) (*timeline.WriteStat, error) {
	began := time.Now()
	s, err := sliceOf(ctx, ex.st, op)
	if err != nil {
		return nil, err
	}
	token := filegroup.WriteToken{TaskPartitionID: int64(i), StageID: 0, TaskAttemptID: int64(i)}
	name := filegroup.BaseFile{FileID: s.FileID, WriteToken: token, InstantTime: ex.tx.InstantTime(), Ext: filegroup.ExtParquet}.String()
	p := filegroup.DataPath(s.PartitionPath, name)
	if err := ex.tx.Marker(ctx, p, timeline.MarkerCreate); err != nil {
		return nil, err
	}
	bw, err := newBaseWriter(ctx, ex.st, p, ex.schema, ex.opts)
	if err != nil {
		return nil, err
	}
	defer bw.abort()
	var ms merge.Stats
	for rec, err := range merge.Slice(ctx, ex.st, s, ex.merge, &ms) {
		if err != nil {
			return nil, err
		}
		err := bw.write(rec, name)
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	info, err := bw.close()
	if err != nil {
		return nil, err
	}
	return writeStat(s, p, info, ms, time.Since(began)), nil
}

// baseWriter writes one new base file: the object, its Parquet writer, and
// the bloom filter of its record keys (footer metadata, as Hudi writes).
type baseWriter struct {
	sw        storage.Writer
	fw        *basefile.Writer
	filter    *bloom.DynamicV0
	dataNames []string // the data columns of the table schema
}

// newBaseWriter creates the base file at key p.
func newBaseWriter(ctx context.Context, st storage.Storage, p string, sch *schema.Schema, opts Options) (*baseWriter, error) {
	codec, err := basefile.CompressionNamed(string(opts.Compression))
	if err != nil {
		return nil, fmt.Errorf("compactor: %w", err)
	}
	sw, err := st.Create(ctx, p, storage.CreateOptions{})
	if err != nil {
		return nil, err
	}
	fw, err := basefile.NewWriter(sw, sch, basefile.WriterOptions{Compression: codec})
	if err != nil {
		_ = sw.Abort()
		return nil, err
	}
	bw := &baseWriter{sw: sw, fw: fw, filter: bloom.NewDefault(), dataNames: make([]string, len(sch.Fields))}
	for j, f := range sch.Fields {
		bw.dataNames[j] = f.Name
	}
	return bw, nil
}

// write writes merged records rec, keeping their meta values, except the
// file name, which is the new file's.
func (bw *baseWriter) write(rec arrow.RecordBatch, name string) error {
	keys, ok := arrowutil.Column(rec, schema.RecordKeyField).(*array.String)
	if !ok {
		return fmt.Errorf("merged records without %s", schema.RecordKeyField)
	}
	for j := 0; j < keys.Len(); j++ {
		bw.filter.AddString(keys.Value(j))
	}
	meta := basefile.Meta{
		CommitTime:    basefile.Column(rec, schema.CommitTimeField),
		SeqNo:         basefile.Column(rec, schema.CommitSeqNoField),
		RecordKey:     basefile.FromArrow(keys),
		PartitionPath: basefile.Column(rec, schema.PartitionPathField),
		FileName:      basefile.Const(name),
	}
	data := arrowutil.Project(rec, bw.dataNames)
	defer data.Release()
	return bw.fw.Write(meta, data)
}

// close writes the bloom filter and the footer and makes the file durable.
func (bw *baseWriter) close() (basefile.FileInfo, error) {
	if err := bw.fw.SetBloomFilter(bw.filter); err != nil {
		return basefile.FileInfo{}, err
	}
	info, err := bw.fw.Close()
	if err != nil {
		return basefile.FileInfo{}, err
	}
	if err := bw.sw.Close(); err != nil {
		return basefile.FileInfo{}, err
	}
	return info, nil
}

// abort discards the file unless close succeeded.
func (bw *baseWriter) abort() {
	bw.fw.Abort()
	_ = bw.sw.Abort()
}

// writeStat is the commit's write stat of slice s compacted into the base
// file at p.
func writeStat(s *filegroup.FileSlice, p string, info basefile.FileInfo, ms merge.Stats, took time.Duration) *timeline.WriteStat {
	var logSize int64
	for _, l := range s.Logs {
		logSize += l.Size
	}
	return &timeline.WriteStat{
		FileID:                       s.FileID,
		Path:                         p,
		PrevCommit:                   s.BaseInstant,
		NumWrites:                    info.Rows,
		NumUpdateWrites:              ms.LogRecords,
		PartitionPath:                s.PartitionPath,
		TotalLogRecords:              ms.LogRecords + ms.LogDeletes,
		TotalLogFilesCompacted:       int64(len(s.Logs)),
		TotalLogSizeCompacted:        logSize,
		TotalUpdatedRecordsCompacted: ms.LogRecords,
		TotalLogBlocks:               ms.LogBlocks,
		TotalCorruptLogBlock:         ms.CorruptBlocks,
		TotalRollbackBlocks:          ms.RolledBackBlocks,
		TotalWriteBytes:              info.Size,
		FileSizeInBytes:              info.Size,
		RuntimeStats:                 &timeline.RuntimeStats{TotalScanTime: took.Milliseconds()},
	}
}

// sliceOf rebuilds the file slice an operation compacts (one stat per
// file, for its size).
func sliceOf(ctx context.Context, st storage.Storage, op avroplan.HoodieCompactionOperation) (*filegroup.FileSlice, error) {
	part := deref(op.PartitionPath)
	s := &filegroup.FileSlice{FileGroupID: filegroup.FileGroupID{PartitionPath: part, FileID: deref(op.FileID)}, BaseInstant: deref(op.BaseInstantTime)}
	if dp := deref(op.DataFilePath); dp != "" {
		name := path.Base(dp)
		bf, err := filegroup.ParseBaseFileName(name)
		if err != nil {
			return nil, fmt.Errorf("compactor: plan: %w", err)
		}
		df, err := statFile(ctx, st, part, name, "base file")
		if err != nil {
			return nil, err
		}
		s.Base = &filegroup.BaseFileInfo{DataFile: df, BaseFile: bf}
	}
	for _, d := range op.DeltaFilePaths {
		name := path.Base(d)
		lf, err := filegroup.ParseLogFileName(name)
		if err != nil {
			return nil, fmt.Errorf("compactor: plan: %w", err)
		}
		df, err := statFile(ctx, st, part, name, "log file")
		if err != nil {
			return nil, err
		}
		s.Logs = append(s.Logs, filegroup.LogFileInfo{DataFile: df, LogFile: lf})
	}
	sort.Slice(s.Logs, func(i, j int) bool { return filegroup.CompareLogFiles(s.Logs[i].LogFile, s.Logs[j].LogFile) < 0 })
	return s, nil
}

// statFile is the data file name of partition part, with its size.
func statFile(ctx context.Context, st storage.Storage, part, name, what string) (filegroup.DataFile, error) {
	p := filegroup.DataPath(part, name)
	info, err := st.Stat(ctx, p)
	if err != nil {
		return filegroup.DataFile{}, fmt.Errorf("compactor: %s of the plan: %w", what, err)
	}
	return filegroup.DataFile{Path: p, Name: name, Size: info.Size}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
