package table

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"

	"github.com/hoodie-lake/hoodie/internal/keygen"
)

// Keys of hoodie.properties, spelled as Hudi spells them.
const (
	KeyName                   = "hoodie.table.name"
	KeyType                   = "hoodie.table.type"
	KeyVersion                = "hoodie.table.version"
	KeyTimelineLayoutVersion  = "hoodie.timeline.layout.version"
	KeyRecordKeyFields        = "hoodie.table.recordkey.fields"
	KeyPartitionFields        = "hoodie.table.partition.fields"
	KeyPrecombineField        = "hoodie.table.precombine.field"
	KeyKeyGenerator           = "hoodie.table.keygenerator.class"
	KeyBaseFileFormat         = "hoodie.table.base.file.format"
	KeyPopulateMetaFields     = "hoodie.populate.meta.fields"
	KeyHiveStylePartitioning  = "hoodie.datasource.write.hive_style_partitioning"
	KeyURLEncodePartitioning  = "hoodie.datasource.write.partitionpath.urlencode"
	KeyDropPartitionColumns   = "hoodie.datasource.write.drop.partition.columns"
	KeyPartitionMetafileBase  = "hoodie.partition.metafile.use.base.format"
	KeyArchiveLogFolder       = "hoodie.archivelog.folder"
	KeyTimelineTimezone       = "hoodie.table.timeline.timezone"
	KeyDatabaseName           = "hoodie.database.name"
	KeyCreateSchema           = "hoodie.table.create.schema"
	KeyPayloadClass           = "hoodie.compaction.payload.class"
	KeyMetadataPartitions     = "hoodie.table.metadata.partitions"
	KeyMetadataPartitionsInfl = "hoodie.table.metadata.partitions.inflight"
	KeyChecksum               = "hoodie.table.checksum"
	KeyCDCEnabled             = "hoodie.table.cdc.enabled"
	KeyRecordMergerStrategy   = "hoodie.compaction.record.merger.strategy"
	KeyBootstrapBasePath      = "hoodie.bootstrap.base.path"
	KeyLogFileFormat          = "hoodie.table.log.file.format"
)

// Keys of TimestampBasedKeyGenerator's configuration (Hudi's
// TimestampKeyGeneratorConfig). Hudi 0.15's Spark writer records all of
// them in hoodie.properties except the timestamp type; hoodie records the
// type too, so later writers need not be told.
const (
	KeyTimestampType                   = "hoodie.keygen.timebased.timestamp.type"
	KeyTimestampScalarTimeUnit         = "hoodie.keygen.timebased.timestamp.scalar.time.unit"
	KeyTimestampInputDateFormat        = "hoodie.keygen.timebased.input.dateformat"
	KeyTimestampInputDateFormatListSep = "hoodie.keygen.timebased.input.dateformat.list.delimiter.regex"
	KeyTimestampInputTimezone          = "hoodie.keygen.timebased.input.timezone"
	KeyTimestampOutputDateFormat       = "hoodie.keygen.timebased.output.dateformat"
	KeyTimestampOutputTimezone         = "hoodie.keygen.timebased.output.timezone"
	KeyTimestampTimezone               = "hoodie.keygen.timebased.timezone"
	KeyDateTimeParser                  = "hoodie.keygen.datetime.parser.class"
)

// TimestampKeyGen is the configuration of TimestampBasedKeyGenerator: the
// hoodie.keygen.timebased.* values as stored ("" = absent). The partition
// path is the one partition field's time printed with OutputDateFormat (a
// Joda pattern: "yyyy-MM-dd", "yyyy/MM/dd", "yyyyMMddHH").
type TimestampKeyGen struct {
	// Type (KeyTimestampType) says how values become times:
	// UNIX_TIMESTAMP (epoch seconds), EPOCHMILLISECONDS, SCALAR (numbers
	// of ScalarTimeUnit), DATE_STRING or MIXED (strings parsed with
	// InputDateFormat). Required to write; tables Spark created lack it.
	Type string
	// ScalarTimeUnit (KeyTimestampScalarTimeUnit): a Java TimeUnit name
	// for SCALAR (MICROSECONDS for a timestamp column, DAYS for a date
	// column); "" = SECONDS.
	ScalarTimeUnit string
	// InputDateFormat (KeyTimestampInputDateFormat): the patterns of
	// DATE_STRING values, separated by InputDateFormatListDelimiterRegex.
	InputDateFormat string
	// InputDateFormatListDelimiterRegex (KeyTimestampInputDateFormatListSep):
	// "" = ",".
	InputDateFormatListDelimiterRegex string
	// InputTimezone (KeyTimestampInputTimezone): the zone of date strings
	// without an offset; "" = UTC.
	InputTimezone string
	// OutputDateFormat (KeyTimestampOutputDateFormat): required.
	OutputDateFormat string
	// OutputTimezone (KeyTimestampOutputTimezone): the zone the path is
	// printed in; "" = UTC for numbers, the parsed zone for strings.
	OutputTimezone string
	// Timezone (KeyTimestampTimezone): input and output zone at once; when
	// set the other two are ignored. Region ids (Asia/Tokyo), UTC, GMT or
	// GMT+hh:mm.
	Timezone string
	// DateTimeParser (KeyDateTimeParser): "" or Hudi's default parser.
	DateTimeParser string
}

// IsZero reports whether no timestamp key generator option is set.
func (k TimestampKeyGen) IsZero() bool { return k == TimestampKeyGen{} }

// Values hoodie writes and accepts.
const (
	// Version is the only table version hoodie reads and writes.
	Version = 6
	// TimelineLayoutVersion is the only timeline layout hoodie accepts.
	TimelineLayoutVersion = 1
	// BaseFileFormatParquet is the only base file format hoodie writes.
	BaseFileFormatParquet = "PARQUET"
	// DefaultArchiveFolder is hoodie.archivelog.folder, below .hoodie/.
	DefaultArchiveFolder = "archived"
	// DefaultDatabase is the hoodie.database.name Create writes by default.
	DefaultDatabase = "default"
	// Timeline time zones (hoodie.table.timeline.timezone): hoodie writes
	// UTC; Java assumes LOCAL when the key is absent.
	TimezoneUTC   = "UTC"
	TimezoneLocal = "LOCAL"
	// DefaultMergerStrategy is hoodie.compaction.record.merger.strategy as
	// Spark writes it (Hudi's default Avro merger).
	DefaultMergerStrategy = "eeb8d96f-b1e4-49fd-bbf8-28ac514178e5"
)

// propertiesCommentSaved starts the first comment line of hoodie.properties.
const propertiesCommentSaved = "Properties saved on "

// Key generator classes. The Avro variants Java also accepts
// (SimpleAvroKeyGenerator, ...) behave the same and are accepted on Open.
const (
	KeyGenSimple         = "org.apache.hudi.keygen.SimpleKeyGenerator"
	KeyGenComplex        = "org.apache.hudi.keygen.ComplexKeyGenerator"
	KeyGenNonPartitioned = "org.apache.hudi.keygen.NonpartitionedKeyGenerator"
	KeyGenTimestampBased = "org.apache.hudi.keygen.TimestampBasedKeyGenerator"
	KeyGenCustom         = "org.apache.hudi.keygen.CustomKeyGenerator"
)

// Payload classes hoodie understands.
const (
	// PayloadOverwriteWithLatest lets the incoming record always win (Hudi
	// 0.14's default for Spark SQL tables).
	PayloadOverwriteWithLatest = "org.apache.hudi.common.model.OverwriteWithLatestAvroPayload"
	// PayloadDefault keeps the stored record unless the incoming one's
	// precombine value is >= (event-time ordering); hoodie's default.
	PayloadDefault = "org.apache.hudi.common.model.DefaultHoodieRecordPayload"
)

// keyGenFamily maps every accepted key generator class to its canonical
// (Spark) class.
var keyGenFamily = map[string]string{
	KeyGenSimple:         KeyGenSimple,
	KeyGenComplex:        KeyGenComplex,
	KeyGenNonPartitioned: KeyGenNonPartitioned,
	KeyGenTimestampBased: KeyGenTimestampBased,
	KeyGenCustom:         KeyGenCustom,
	"org.apache.hudi.keygen.SimpleAvroKeyGenerator":         KeyGenSimple,
	"org.apache.hudi.keygen.ComplexAvroKeyGenerator":        KeyGenComplex,
	"org.apache.hudi.keygen.NonpartitionedAvroKeyGenerator": KeyGenNonPartitioned,
	"org.apache.hudi.keygen.TimestampBasedAvroKeyGenerator": KeyGenTimestampBased,
	"org.apache.hudi.keygen.CustomAvroKeyGenerator":         KeyGenCustom,
}

// KeyGeneratorFamily returns the canonical class of a key generator class
// (KeyGenSimple for SimpleAvroKeyGenerator, ...) and whether hoodie knows it.
func KeyGeneratorFamily(class string) (string, bool) {
	f, ok := keyGenFamily[class]
	return f, ok
}

// DefaultKeyGenerator is the key generator Spark SQL picks: NonPartitioned
// without partition fields, Complex with several record key or partition
// fields, Simple otherwise.
func DefaultKeyGenerator(recordKeyFields, partitionFields []string) string {
	switch {
	case len(partitionFields) == 0:
		return KeyGenNonPartitioned
	case len(recordKeyFields) > 1 || len(partitionFields) > 1:
		return KeyGenComplex
	default:
		return KeyGenSimple
	}
}

// Errors of opening and validating a table's configuration. Use errors.Is.
var (
	// ErrNotHudiTable: neither hoodie.properties nor its backup exists.
	ErrNotHudiTable = errors.New("table: not a hudi table")
	// ErrTableExists: Create found an existing table.
	ErrTableExists = errors.New("table: table exists")
	// ErrUnsupportedVersion: hoodie.table.version is not 6.
	ErrUnsupportedVersion = errors.New("table: unsupported table version")
	// ErrUnsupportedLayout: hoodie.timeline.layout.version is not 1.
	ErrUnsupportedLayout = errors.New("table: unsupported timeline layout version")
	// ErrMetadataTableEnabled: the table maintains a metadata table
	// (hoodie.table.metadata.partitions or its inflight list non-empty):
	// hoodie reads it (OpenForRead) but refuses to write it, since writing
	// around the metadata table would hide new files from Java readers.
	ErrMetadataTableEnabled = errors.New("table: metadata table enabled")
	// ErrMissingProperty: a required property is absent or empty.
	ErrMissingProperty = errors.New("table: missing property")
	// ErrInvalidConfig: a property has a malformed value or properties
	// contradict each other (including a checksum mismatch).
	ErrInvalidConfig = errors.New("table: invalid config")
	// ErrUnsupportedFeature: the table uses a feature that changes the files
	// a writer must produce and hoodie does not implement (CDC, bootstrap,
	// non-Parquet base files, unknown key generator or payload, ...).
	ErrUnsupportedFeature = errors.New("table: unsupported feature")
)

// TableType is hoodie.table.type.
type TableType string

// Table types, spelled as Java's enum.
const (
	CopyOnWrite TableType = "COPY_ON_WRITE"
	MergeOnRead TableType = "MERGE_ON_READ"
)

// Checksum is hoodie.table.checksum: CRC32 (IEEE) of "<database>.<name>",
// database "" when hoodie.database.name is unset.
func Checksum(database, name string) uint32 {
	return crc32.ChecksumIEEE([]byte(database + "." + name))
}

// Config is a table's hoodie.properties: typed fields for the keys hoodie
// interprets, and Props, every property as stored, so keys hoodie does not
// know survive a rewrite.
//
// Optional string fields are "" when the key is absent; the comment gives
// the meaning Hudi assigns to absence.
type Config struct {
	Name                  string
	Database              string // "" = unset (checksum then covers ".<name>")
	Type                  TableType
	Version               int
	TimelineLayoutVersion int
	RecordKeyFields       []string
	PartitionFields       []string // empty = non-partitioned
	PrecombineField       string   // "" = none (hudi-rs then treats the table as append-only)
	KeyGenerator          string   // "" = inferred by Java from the fields (DefaultKeyGenerator)
	BaseFileFormat        string   // "" = PARQUET
	PopulateMetaFields    bool     // absent = true
	HiveStylePartitioning bool
	URLEncodePartitioning bool
	DropPartitionColumns  bool
	// PartitionMetafileUseBaseFormat: partition metadata stored as
	// .hoodie_partition_metadata.parquet; refused by Validate.
	PartitionMetafileUseBaseFormat bool
	ArchiveLogFolder               string // "" = archived
	TimelineTimezone               string // "" = LOCAL in Java, UTC in hudi-rs
	CreateSchema                   string // Avro schema JSON of the data columns
	PayloadClass                   string // "" = the reader's default
	RecordMergerStrategy           string
	MetadataPartitions             []string
	MetadataPartitionsInflight     []string
	CDCEnabled                     bool
	// Timestamp is TimestampBasedKeyGenerator's configuration.
	Timestamp TimestampKeyGen

	// Props holds every property as read (or as last written). Properties
	// derives the file content from it and the typed fields.
	Props map[string]string
}

// configField ties a typed field to its key: get encodes the typed value,
// set decodes a stored one, absent is the encoding of the value an absent
// key means.
type configField struct {
	key    string
	absent string
	get    func(*Config) string
	set    func(*Config, string) error
}

func boolField(key string, def bool, p func(*Config) *bool) configField {
	return configField{
		key:    key,
		absent: strconv.FormatBool(def),
		get:    func(c *Config) string { return strconv.FormatBool(*p(c)) },
		set: func(c *Config, v string) error {
			// Java's Boolean.parseBoolean: "true" in any case, else false.
			*p(c) = strings.EqualFold(strings.TrimSpace(v), "true")
			return nil
		},
	}
}

func stringField(key string, p func(*Config) *string) configField {
	return configField{
		key: key,
		get: func(c *Config) string { return *p(c) },
		set: func(c *Config, v string) error { *p(c) = v; return nil },
	}
}

func listField(key string, p func(*Config) *[]string) configField {
	return configField{
		key: key,
		get: func(c *Config) string { return strings.Join(*p(c), ",") },
		set: func(c *Config, v string) error { *p(c) = splitList(v); return nil },
	}
}

func intField(key string, p func(*Config) *int) configField {
	return configField{
		key:    key,
		absent: "",
		get: func(c *Config) string {
			if *p(c) < 0 {
				return ""
			}
			return strconv.Itoa(*p(c))
		},
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return fmt.Errorf("%w: %s=%q is not a version number", ErrInvalidConfig, key, v)
			}
			*p(c) = n
			return nil
		},
	}
}

var configFields = []configField{
	stringField(KeyName, func(c *Config) *string { return &c.Name }),
	stringField(KeyDatabaseName, func(c *Config) *string { return &c.Database }),
	{
		key: KeyType,
		get: func(c *Config) string { return string(c.Type) },
		set: func(c *Config, v string) error { c.Type = TableType(v); return nil },
	},
	intField(KeyVersion, func(c *Config) *int { return &c.Version }),
	intField(KeyTimelineLayoutVersion, func(c *Config) *int { return &c.TimelineLayoutVersion }),
	listField(KeyRecordKeyFields, func(c *Config) *[]string { return &c.RecordKeyFields }),
	listField(KeyPartitionFields, func(c *Config) *[]string { return &c.PartitionFields }),
	stringField(KeyPrecombineField, func(c *Config) *string { return &c.PrecombineField }),
	stringField(KeyKeyGenerator, func(c *Config) *string { return &c.KeyGenerator }),
	stringField(KeyBaseFileFormat, func(c *Config) *string { return &c.BaseFileFormat }),
	boolField(KeyPopulateMetaFields, true, func(c *Config) *bool { return &c.PopulateMetaFields }),
	boolField(KeyHiveStylePartitioning, false, func(c *Config) *bool { return &c.HiveStylePartitioning }),
	boolField(KeyURLEncodePartitioning, false, func(c *Config) *bool { return &c.URLEncodePartitioning }),
	boolField(KeyDropPartitionColumns, false, func(c *Config) *bool { return &c.DropPartitionColumns }),
	boolField(KeyPartitionMetafileBase, false, func(c *Config) *bool { return &c.PartitionMetafileUseBaseFormat }),
	stringField(KeyArchiveLogFolder, func(c *Config) *string { return &c.ArchiveLogFolder }),
	stringField(KeyTimelineTimezone, func(c *Config) *string { return &c.TimelineTimezone }),
	stringField(KeyCreateSchema, func(c *Config) *string { return &c.CreateSchema }),
	stringField(KeyPayloadClass, func(c *Config) *string { return &c.PayloadClass }),
	stringField(KeyRecordMergerStrategy, func(c *Config) *string { return &c.RecordMergerStrategy }),
	listField(KeyMetadataPartitions, func(c *Config) *[]string { return &c.MetadataPartitions }),
	listField(KeyMetadataPartitionsInfl, func(c *Config) *[]string { return &c.MetadataPartitionsInflight }),
	boolField(KeyCDCEnabled, false, func(c *Config) *bool { return &c.CDCEnabled }),
	stringField(KeyTimestampType, func(c *Config) *string { return &c.Timestamp.Type }),
	stringField(KeyTimestampScalarTimeUnit, func(c *Config) *string { return &c.Timestamp.ScalarTimeUnit }),
	stringField(KeyTimestampInputDateFormat, func(c *Config) *string { return &c.Timestamp.InputDateFormat }),
	stringField(KeyTimestampInputDateFormatListSep, func(c *Config) *string { return &c.Timestamp.InputDateFormatListDelimiterRegex }),
	stringField(KeyTimestampInputTimezone, func(c *Config) *string { return &c.Timestamp.InputTimezone }),
	stringField(KeyTimestampOutputDateFormat, func(c *Config) *string { return &c.Timestamp.OutputDateFormat }),
	stringField(KeyTimestampOutputTimezone, func(c *Config) *string { return &c.Timestamp.OutputTimezone }),
	stringField(KeyTimestampTimezone, func(c *Config) *string { return &c.Timestamp.Timezone }),
	stringField(KeyDateTimeParser, func(c *Config) *string { return &c.Timestamp.DateTimeParser }),
}

// splitList splits a comma-separated Hudi list, trimming blanks; "" is the
// empty list.
func splitList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// ParseConfig builds a Config from hoodie.properties entries. It only
// decodes values; Validate checks the rules. The map is copied.
func ParseConfig(props map[string]string) (*Config, error) {
	c := &Config{Version: -1, TimelineLayoutVersion: -1, Props: make(map[string]string, len(props))}
	for k, v := range props {
		c.Props[k] = v
	}
	for _, f := range configFields {
		v, ok := props[f.key]
		if !ok {
			v = f.absent
			if v == "" {
				continue
			}
		}
		if err := f.set(c, v); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	d := *c
	d.RecordKeyFields = slices.Clone(c.RecordKeyFields)
	d.PartitionFields = slices.Clone(c.PartitionFields)
	d.MetadataPartitions = slices.Clone(c.MetadataPartitions)
	d.MetadataPartitionsInflight = slices.Clone(c.MetadataPartitionsInflight)
	d.Props = make(map[string]string, len(c.Props))
	for k, v := range c.Props {
		d.Props[k] = v
	}
	return &d
}

// Properties returns the hoodie.properties entries for c: Props, with every
// typed field that differs from what Props says written over it (an emptied
// optional field removes its key), and hoodie.table.checksum recomputed.
// Keys hoodie does not know are kept as they are.
func (c *Config) Properties() map[string]string {
	stored, err := ParseConfig(c.Props)
	if err != nil {
		// Props has a malformed value; typed fields win for every key.
		stored = &Config{Version: -2, TimelineLayoutVersion: -2}
	}
	out := make(map[string]string, len(c.Props)+1)
	for k, v := range c.Props {
		out[k] = v
	}
	for _, f := range configFields {
		v := f.get(c)
		_, present := c.Props[f.key]
		if present && v == f.get(stored) {
			continue
		}
		if !present && v == f.absent {
			continue
		}
		if v == "" && f.absent == "" {
			delete(out, f.key)
			continue
		}
		out[f.key] = v
	}
	if c.Name != "" {
		out[KeyChecksum] = strconv.FormatUint(uint64(Checksum(c.Database, c.Name)), 10)
	}
	return out
}

// Validate checks the rules a table must satisfy for hoodie to write it
// without damaging it: those of ValidateRead, and that a Hudi metadata
// table, if the table keeps one, is one hoodie maintains (ValidateWrite).
// Errors match one of ErrMissingProperty, ErrUnsupportedVersion,
// ErrUnsupportedLayout, ErrMetadataTableEnabled, ErrUnsupportedFeature or
// ErrInvalidConfig.
func (c *Config) Validate() error {
	errs := c.readErrors()
	if err := c.ValidateWrite(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidateRead checks the rules a table must satisfy for hoodie to read it
// correctly: table version 6, timeline layout 1, a consistent key and
// partition configuration, and no feature that changes what readers must
// do (CDC, bootstrap, non-Parquet base files, unknown payload, merger or
// key generator, ...). Any Hudi metadata table is accepted: hoodie's
// readers list storage. Errors match those of Validate except
// ErrMetadataTableEnabled.
func (c *Config) ValidateRead() error {
	return errors.Join(c.readErrors()...)
}

// ValidateWrite checks what writing needs beyond ValidateRead: a Hudi
// metadata table, if any, keeps exactly the partition hoodie maintains
// ("files", package metadata), none being built. Other metadata
// partitions (column_stats, bloom_filters, record_index, ...) would go
// stale under hoodie's writes: the error matches ErrMetadataTableEnabled
// and says how to remove them.
func (c *Config) ValidateWrite() error {
	if len(c.MetadataPartitionsInflight) == 0 && (len(c.MetadataPartitions) == 0 || slices.Equal(c.MetadataPartitions, []string{MetadataFilesPartition})) {
		return nil
	}
	what := fmt.Sprintf("%s=%q", KeyMetadataPartitions, strings.Join(c.MetadataPartitions, ","))
	if len(c.MetadataPartitionsInflight) > 0 {
		what += fmt.Sprintf(", %s=%q", KeyMetadataPartitionsInfl, strings.Join(c.MetadataPartitionsInflight, ","))
	}
	return fmt.Errorf("%w: %s: %s", ErrMetadataTableEnabled, what, MetadataTableAdvice)
}

// MetadataFilesPartition is the metadata table partition hoodie maintains.
const MetadataFilesPartition = "files"

// MetadataTableAdvice tells a user how to make a table whose Hudi metadata
// table has partitions hoodie does not maintain writable by hoodie. (Hudi
// 0.15: a write whose config disables a metadata index drops its
// partition; hoodie.metadata.enable=false runs
// HoodieTable.maybeDeleteMetadataTable, which deletes .hoodie/metadata and
// empties hoodie.table.metadata.partitions; interop/metadata_read_test.go
// checks the latter with Spark.)
const MetadataTableAdvice = "hoodie maintains the \"files\" partition of Hudi's metadata table (.hoodie/metadata) and " +
	"nothing else, so its writes would leave the other metadata partitions stale, and it writes no table whose metadata " +
	"partitions are still being built. Disable the other indexes in the writer that made them (Spark: " +
	"hoodie.metadata.index.column.stats.enable=false, hoodie.metadata.index.bloom.filter.enable=false, " +
	"hoodie.metadata.record.index.enable=false on a write to the table), or drop the whole metadata table with " +
	"hoodie metadata disable (or one Spark write that sets hoodie.metadata.enable=false); hoodie metadata enable " +
	"then rebuilds the files partition (.hoodie/metadata). " +
	"Reading works as is (hoodie query, files, timeline, stats; table.OpenForRead in Go)"

// readErrors are the violations of ValidateRead's rules.
func (c *Config) readErrors() []error {
	var errs []error
	add := func(sentinel error, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...))
	}
	if c.Name == "" {
		add(ErrMissingProperty, "%s", KeyName)
	}
	switch c.Type {
	case CopyOnWrite, MergeOnRead:
	case "":
		add(ErrMissingProperty, "%s", KeyType)
	default:
		add(ErrInvalidConfig, "%s=%q, want %s or %s", KeyType, c.Type, CopyOnWrite, MergeOnRead)
	}
	switch c.Version {
	case Version:
	case -1:
		add(ErrMissingProperty, "%s", KeyVersion)
	default:
		add(ErrUnsupportedVersion, "%s=%d, hoodie supports %d only", KeyVersion, c.Version, Version)
	}
	switch c.TimelineLayoutVersion {
	case TimelineLayoutVersion:
	case -1:
		add(ErrMissingProperty, "%s (layout 1 required)", KeyTimelineLayoutVersion)
	default:
		add(ErrUnsupportedLayout, "%s=%d, hoodie supports %d only", KeyTimelineLayoutVersion, c.TimelineLayoutVersion, TimelineLayoutVersion)
	}
	if sum, ok := c.Props[KeyChecksum]; ok && c.Name != "" {
		want := Checksum(c.Database, c.Name)
		got, err := strconv.ParseInt(strings.TrimSpace(sum), 10, 64)
		if err != nil || got != int64(want) {
			add(ErrInvalidConfig, "%s=%q does not match %d for %q", KeyChecksum, sum, want, c.Database+"."+c.Name)
		}
	}
	if len(c.RecordKeyFields) == 0 {
		add(ErrMissingProperty, "%s (tables without record keys are not supported)", KeyRecordKeyFields)
	}
	if err := checkFieldList(KeyRecordKeyFields, c.RecordKeyFields); err != nil {
		errs = append(errs, err)
	}
	if err := checkFieldList(KeyPartitionFields, c.PartitionFields); err != nil {
		errs = append(errs, err)
	}
	if c.BaseFileFormat != "" && !strings.EqualFold(c.BaseFileFormat, BaseFileFormatParquet) {
		add(ErrUnsupportedFeature, "%s=%q, hoodie writes %s only", KeyBaseFileFormat, c.BaseFileFormat, BaseFileFormatParquet)
	}
	if c.DropPartitionColumns {
		add(ErrUnsupportedFeature, "%s=true", KeyDropPartitionColumns)
	}
	if c.PartitionMetafileUseBaseFormat {
		add(ErrUnsupportedFeature, "%s=true", KeyPartitionMetafileBase)
	}
	if c.CDCEnabled {
		add(ErrUnsupportedFeature, "%s=true (change data capture)", KeyCDCEnabled)
	}
	if v := c.Props[KeyBootstrapBasePath]; v != "" {
		add(ErrUnsupportedFeature, "%s=%q (bootstrapped table)", KeyBootstrapBasePath, v)
	}
	if v := c.Props[KeyLogFileFormat]; v != "" && !strings.EqualFold(v, "HOODIE_LOG") {
		add(ErrUnsupportedFeature, "%s=%q", KeyLogFileFormat, v)
	}
	switch c.TimelineTimezone {
	case "", TimezoneUTC, TimezoneLocal:
	default:
		add(ErrInvalidConfig, "%s=%q, want %s or %s", KeyTimelineTimezone, c.TimelineTimezone, TimezoneUTC, TimezoneLocal)
	}
	switch c.PayloadClass {
	case "", PayloadDefault, PayloadOverwriteWithLatest:
	default:
		add(ErrUnsupportedFeature, "%s=%q", KeyPayloadClass, c.PayloadClass)
	}
	switch c.RecordMergerStrategy {
	case "", DefaultMergerStrategy:
	default:
		add(ErrUnsupportedFeature, "%s=%q", KeyRecordMergerStrategy, c.RecordMergerStrategy)
	}
	if err := c.checkKeyGenerator(); err != nil {
		errs = append(errs, err)
	}
	if c.CreateSchema != "" {
		if err := checkSchema(c.CreateSchema, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (c *Config) checkKeyGenerator() error {
	class := c.KeyGenerator
	if class == "" {
		return nil
	}
	family, ok := keyGenFamily[class]
	if !ok {
		return fmt.Errorf("%w: %s=%q", ErrUnsupportedFeature, KeyKeyGenerator, class)
	}
	switch family {
	case KeyGenSimple:
		if len(c.RecordKeyFields) > 1 || len(c.PartitionFields) > 1 {
			return fmt.Errorf("%w: %s takes one record key field and at most one partition field, have %q and %q",
				ErrInvalidConfig, class, c.RecordKeyFields, c.PartitionFields)
		}
	case KeyGenNonPartitioned:
		if len(c.PartitionFields) > 0 {
			return fmt.Errorf("%w: %s with partition fields %q", ErrInvalidConfig, class, c.PartitionFields)
		}
	case KeyGenTimestampBased:
		if len(c.PartitionFields) != 1 {
			return fmt.Errorf("%w: %s takes one partition field, have %q", ErrInvalidConfig, class, c.PartitionFields)
		}
		if len(c.RecordKeyFields) > 1 {
			return fmt.Errorf("%w: %s takes one record key field, have %q", ErrInvalidConfig, class, c.RecordKeyFields)
		}
		// Tables Spark created lack the type: they open, and writing
		// needs it (keygen.New says so).
		if c.Timestamp.Type != "" {
			if err := keygen.TimestampOptions(c.Timestamp).Validate(); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrUnsupportedFeature, class, err)
			}
		}
	}
	return nil
}

// KeyGeneratorClass is the table's key generator, inferred as Java does
// when hoodie.table.keygenerator.class is unset.
func (c *Config) KeyGeneratorClass() string {
	if c.KeyGenerator != "" {
		return c.KeyGenerator
	}
	return DefaultKeyGenerator(c.RecordKeyFields, c.PartitionFields)
}

// IsPartitioned reports whether the table has partition fields.
func (c *Config) IsPartitioned() bool { return len(c.PartitionFields) > 0 }

func checkFieldList(key string, fields []string) error {
	seen := map[string]bool{}
	for _, f := range fields {
		if f == "" {
			return fmt.Errorf("%w: %s=%q has an empty field name", ErrInvalidConfig, key, strings.Join(fields, ","))
		}
		if seen[f] {
			return fmt.Errorf("%w: %s=%q names %q twice", ErrInvalidConfig, key, strings.Join(fields, ","), f)
		}
		seen[f] = true
	}
	return nil
}

// metaFields are the columns Hudi adds to every record; a data schema must
// not declare them.
var metaFields = []string{
	"_hoodie_commit_time", "_hoodie_commit_seqno", "_hoodie_record_key",
	"_hoodie_partition_path", "_hoodie_file_name",
}

// checkSchema checks that schema is an Avro record schema (JSON) without
// Hudi meta fields whose fields include the record key, partition and
// precombine fields of c. Nested fields ("a.b") are looked up through
// records and nullable unions.
func checkSchema(schema string, c *Config) error {
	var root avroType
	if err := json.Unmarshal([]byte(schema), &root); err != nil {
		return fmt.Errorf("%w: %s is not JSON: %v", ErrInvalidConfig, KeyCreateSchema, err)
	}
	if root.Type != "record" {
		return fmt.Errorf("%w: %s is not an Avro record schema", ErrInvalidConfig, KeyCreateSchema)
	}
	if root.Name == "" {
		return fmt.Errorf("%w: %s: record has no name", ErrInvalidConfig, KeyCreateSchema)
	}
	seen := map[string]bool{}
	for _, f := range root.Fields {
		if f.Name == "" {
			return fmt.Errorf("%w: %s: field without a name", ErrInvalidConfig, KeyCreateSchema)
		}
		if seen[f.Name] {
			return fmt.Errorf("%w: %s: field %q declared twice", ErrInvalidConfig, KeyCreateSchema, f.Name)
		}
		seen[f.Name] = true
		if slices.Contains(metaFields, f.Name) {
			return fmt.Errorf("%w: %s declares Hudi meta field %q; give the data columns only", ErrInvalidConfig, KeyCreateSchema, f.Name)
		}
	}
	check := func(role, name string) error {
		if name == "" || root.hasField(name) {
			return nil
		}
		return fmt.Errorf("%w: %s field %q is not in %s", ErrInvalidConfig, role, name, KeyCreateSchema)
	}
	var errs []error
	for _, k := range c.RecordKeyFields {
		errs = append(errs, check("record key", k))
	}
	family := keyGenFamily[c.KeyGenerator]
	for _, p := range c.PartitionFields {
		if family == KeyGenCustom {
			// CustomKeyGenerator spells partition fields "name:SIMPLE|TIMESTAMP".
			p, _, _ = strings.Cut(p, ":")
		}
		errs = append(errs, check("partition", p))
	}
	errs = append(errs, check("precombine", c.PrecombineField))
	return errors.Join(errs...)
}

// avroType is the part of an Avro schema checkSchema looks at. Type is set
// for named and complex types given as objects; Union for arrays.
type avroType struct {
	Type   string
	Name   string
	Fields []avroField
	Union  []avroType
}

type avroField struct {
	Name string          `json:"name"`
	Type json.RawMessage `json:"type"`
}

func (t *avroType) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &t.Type)
	case len(b) > 0 && b[0] == '[':
		return json.Unmarshal(b, &t.Union)
	default:
		var obj struct {
			Type   json.RawMessage `json:"type"`
			Name   string          `json:"name"`
			Fields []avroField     `json:"fields"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		if err := json.Unmarshal(obj.Type, &t.Type); err != nil {
			return fmt.Errorf("avro type %s: %w", obj.Type, err)
		}
		t.Name, t.Fields = obj.Name, obj.Fields
		return nil
	}
}

// hasField resolves a possibly dotted field name.
func (t *avroType) hasField(name string) bool {
	for _, u := range t.Union {
		if u.hasField(name) {
			return true
		}
	}
	for _, f := range t.Fields {
		if f.Name == name {
			return true
		}
		rest, ok := strings.CutPrefix(name, f.Name+".")
		if !ok {
			continue
		}
		var ft avroType
		if json.Unmarshal(f.Type, &ft) == nil && ft.hasField(rest) {
			return true
		}
	}
	return false
}
