package table

// Compression is the Parquet codec of base files, spelled as Hudi's
// hoodie.parquet.compression.codec spells it. The zero value is Snappy.
type Compression string

// Codecs of base files.
const (
	Snappy       Compression = "snappy"
	Zstd         Compression = "zstd"
	Gzip         Compression = "gzip"
	Uncompressed Compression = "uncompressed"
)
