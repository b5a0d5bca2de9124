package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// writeFlags are the file-format, index and metadata table flags of the
// writing verbs (ingest, cdc, stream), mapped onto writer.Options; the
// writer validates the values.
type writeFlags struct {
	compression   string
	logFormat     string
	indexTTL      time.Duration
	metadataTable bool
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
	fs.BoolVar(&f.metadataTable, "metadata-table", false, metadataTableFlagHelp)
}

// metadataTableFlagHelp describes --metadata-table of create and the
// writing verbs.
const metadataTableFlagHelp = "give the table Hudi's metadata table (its files partition, as Spark keeps it by default) if it has none; " +
	"tables that already have one are maintained without the flag (see hoodie metadata --help)"

// apply returns o with the flags' formats, index TTL and metadata table
// choice.
func (f *writeFlags) apply(o writer.Options) writer.Options {
	o.Compression = table.Compression(f.compression)
	o.LogBlockFormat = writer.LogBlockFormat(f.logFormat)
	o.IndexTTL = f.indexTTL
	o.MetadataTable = f.metadataTable
	return o
}
