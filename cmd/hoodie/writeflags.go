package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// writeFlags are the file-format and index flags of the writing verbs
// (ingest, cdc, stream), mapped onto writer.Options; the writer validates
// the values.
type writeFlags struct {
	compression string
	logFormat   string
	indexTTL    time.Duration
}

func (f *writeFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.compression, "compression", string(table.Snappy),
		"codec of base files and of Parquet log blocks: snappy, zstd, gzip or uncompressed")
	fs.StringVar(&f.logFormat, "log-block-format", string(writer.LogBlockAvro),
		"merge-on-read log data blocks: avro (Hudi's default) or parquet (Hudi's HoodieParquetDataBlock: a third to a fifth of the bytes with zstd or gzip)")
	fs.DurationVar(&f.indexTTL, "index-ttl", 0,
		"expire record-key index entries this long after their last write (like Flink's index.state.ttl; 0: never); "+
			"a key whose entry expired is looked up in the file footers, so its updates still land on the stored row")
}

// apply returns o with the flags' formats and index TTL.
func (f *writeFlags) apply(o writer.Options) writer.Options {
	o.Compression = table.Compression(f.compression)
	o.LogBlockFormat = writer.LogBlockFormat(f.logFormat)
	o.IndexTTL = f.indexTTL
	return o
}
