package writer

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/logfile"
)

// LogBlockFormat is the format of the data blocks of merge-on-read log
// files, Hudi's hoodie.logfile.data.block.format.
type LogBlockFormat string

// Log block formats.
const (
	// LogBlockAvro writes Avro data blocks (HoodieAvroDataBlock): rows
	// one by one in Avro binary, uncompressed. Hudi's default; every
	// reader reads them.
	LogBlockAvro LogBlockFormat = "avro"
	// LogBlockParquet writes Parquet data blocks (HoodieParquetDataBlock):
	// each block's content is a whole Parquet file of its records, meta
	// fields included, compressed with Options.Compression (Hudi uses
	// hoodie.parquet.compression.codec, gzip by default in Hudi 0.15),
	// several times smaller than Avro blocks. A Parquet data block cannot
	// hold a null list element (as base files cannot).
	LogBlockParquet LogBlockFormat = "parquet"
)

// validate checks f ("" stands for the default).
func (f LogBlockFormat) validate() error {
	switch f {
	case "", LogBlockAvro, LogBlockParquet:
		return nil
	}
	return fmt.Errorf("writer: unknown LogBlockFormat %q (want %q or %q)", string(f), LogBlockAvro, LogBlockParquet)
}

// newDataBlock returns a log data block of the records in the writer's
// LogBlockFormat.
func (wc *writeContext) newDataBlock(instant, schemaJSON string, rec arrow.RecordBatch) (logfile.Block, error) {
	if wc.w.opts.LogBlockFormat != LogBlockParquet {
		return logfile.NewAvroDataBlock(instant, schemaJSON, rec), nil
	}
	codec, err := basefile.CompressionNamed(string(wc.w.opts.Compression))
	if err != nil {
		rec.Release()
		return logfile.Block{}, fmt.Errorf("writer: %w", err)
	}
	return logfile.NewParquetDataBlock(instant, schemaJSON, codec, rec), nil
}
