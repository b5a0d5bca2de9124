// Package table owns a Hudi table's identity and layout on storage: the
// hoodie.properties file (a java.util.Properties codec, the typed Config
// and its validator, the backup-file update protocol), creating and opening
// a table, partition paths and .hoodie_partition_metadata files, and the
// Table handle, which carries the table's loaded timeline and file-system
// view (package timeline and package filegroup), refreshed on request.
//
// hoodie writes Hudi table version 6 with timeline layout 1 only. Open
// refuses any other table rather than risk damaging it; OpenForRead also
// opens tables hoodie reads but must not write (a Hudi metadata table):
//
//	st, _ := storage.Open(ctx, "s3://bucket/tables/trips", storage.Options{})
//	t, err := table.Create(ctx, st, table.CreateOptions{
//		Name:            "trips",
//		Type:            table.MergeOnRead,
//		RecordKeyFields: []string{"uuid"},
//		PartitionFields: []string{"city"},
//		PrecombineField: "ts",
//	})
//	t, err = table.Open(ctx, st) // errors.Is(err, table.ErrNotHudiTable), ...
//	t, err = table.OpenForRead(ctx, st) // for reader.Plan
//	tl, err := t.Timeline(ctx)         // loaded once; t.Refresh(ctx) reloads
//	v, err := t.View(ctx)              // file groups and slices as of the latest commit
package table

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Paths relative to the table's base path.
const (
	MetaFolder     = ".hoodie"
	PropertiesFile = MetaFolder + "/hoodie.properties"
	// PropertiesBackupFile holds the previous properties while
	// hoodie.properties is rewritten; readers fall back to it.
	PropertiesBackupFile = MetaFolder + "/hoodie.properties.backup"
)

// Table is an open Hudi table: its storage, its configuration, and its
// active timeline and file-system view as last loaded. It is safe for
// concurrent use.
type Table struct {
	st storage.Storage
	// readOnly is why the table may not be written, or nil (see OpenForRead).
	readOnly error
	// meta keeps the commit metadata the handle's views read, for the
	// next views (pruned to the active timeline at each Refresh).
	meta timeline.MetadataCache
	mu   struct {
		sync.Mutex
		cfg *Config
		tl  *timeline.Timeline // nil until first used or after Refresh failed
		// view is the latest view against tl (nil until asked for).
		view *filegroup.View
	}
}

// Timeline returns the table's active timeline as the handle last loaded it:
// on first use (one LIST of .hoodie/), then again only on Refresh. Other
// processes' instants since then are not in it.
func (t *Table) Timeline(ctx context.Context) (*timeline.Timeline, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.timelineLocked(ctx)
}

// LoadedTimeline returns the timeline the handle holds, nil if it has not
// loaded one since it was opened or refreshed: for checks that must not
// cost a LIST of their own.
func (t *Table) LoadedTimeline() *timeline.Timeline {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.tl
}

func (t *Table) timelineLocked(ctx context.Context) (*timeline.Timeline, error) {
	if t.mu.tl == nil {
		tl, err := timeline.Load(ctx, t.st)
		if err != nil {
			return nil, fmt.Errorf("table: %w", err)
		}
		t.mu.tl = tl
	}
	return t.mu.tl, nil
}

// Refresh reloads the active timeline (to see other processes' instants)
// and drops the cached view, which the next View builds against the new
// timeline.
func (t *Table) Refresh(ctx context.Context) error {
	tl, err := timeline.Load(ctx, t.st)
	if err != nil {
		return fmt.Errorf("table: refresh: %w", err)
	}
	t.meta.Prune(tl)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.tl, t.mu.view = tl, nil
	return nil
}

// View returns the file-system view of the whole table as of the latest
// completed commit of Timeline: built on first use after a Refresh (one
// LIST of the table) and cached until the next Refresh.
func (t *Table) View(ctx context.Context) (*filegroup.View, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.view != nil {
		return t.mu.view, nil
	}
	tl, err := t.timelineLocked(ctx)
	if err != nil {
		return nil, err
	}
	v, err := filegroup.BuildView(ctx, t.st, tl, filegroup.ViewOptions{Metadata: &t.meta})
	if err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	t.mu.view = v
	return v, nil
}

// ViewWith builds a view against Timeline with opts (time travel, some
// partitions only); it is not cached, but the commit metadata it reads is
// (unless opts.Metadata names another cache).
func (t *Table) ViewWith(ctx context.Context, opts filegroup.ViewOptions) (*filegroup.View, error) {
	tl, err := t.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Metadata == nil {
		opts.Metadata = &t.meta
	}
	v, err := filegroup.BuildView(ctx, t.st, tl, opts)
	if err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	return v, nil
}

// SchemaAsOf returns the table's writer schema (Avro JSON of the data
// columns) as of an instant: extraMetadata.schema of the latest completed
// commit at or before asOf ("" = the latest) that recorded one, else
// hoodie.table.create.schema, else "".
func SchemaAsOf(ctx context.Context, st storage.Storage, tl *timeline.Timeline, asOf string, cfg *Config) (string, error) {
	commits := tl.CompletedCommits()
	for i := len(commits) - 1; i >= 0; i-- {
		if asOf != "" && commits[i].Timestamp > asOf {
			continue
		}
		md, err := timeline.ReadCommitMetadata(ctx, st, commits[i])
		if err != nil {
			return "", fmt.Errorf("table: schema: %w", err)
		}
		if s := md.Schema(); s != "" {
			return s, nil
		}
	}
	return cfg.CreateSchema, nil
}

// Storage is the store the table lives in, rooted at its base path.
func (t *Table) Storage() storage.Storage { return t.st }

// Config returns a copy of the table's configuration as last read or written.
func (t *Table) Config() *Config {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.cfg.Clone()
}

// CreateOptions describe a new table. The zero value of each optional field
// picks the default stated on it.
type CreateOptions struct {
	// Name is hoodie.table.name; required. Letters, digits and '_', not
	// starting with a digit, so that the Avro record name "<name>_record"
	// Spark derives from it is valid.
	Name string
	// Database is hoodie.database.name; default "default". It enters the
	// checksum.
	Database string
	// Type is the table type; default CopyOnWrite.
	Type TableType
	// RecordKeyFields are the record key columns; required.
	RecordKeyFields []string
	// PartitionFields are the partition columns; none = non-partitioned.
	PartitionFields []string
	// PrecombineField orders records of one key (larger wins). Optional, but
	// without it hudi-rs treats the table as append-only.
	PrecombineField string
	// KeyGenerator is the key generator class; default
	// DefaultKeyGenerator(RecordKeyFields, PartitionFields).
	KeyGenerator string
	// HiveStylePartitioning writes partition directories as "field=value".
	HiveStylePartitioning bool
	// URLEncodePartitioning %-escapes partition values (EscapePartitionValue).
	URLEncodePartitioning bool
	// Schema is the Avro schema (JSON) of the data columns, without Hudi meta
	// fields; optional. When given it must be a record whose fields include
	// the key, partition and precombine fields; it is stored compacted as
	// hoodie.table.create.schema.
	Schema string
	// PayloadClass is hoodie.compaction.payload.class; default
	// PayloadDefault (event-time ordering: a stored record is only replaced
	// by one with a precombine value >= its own).
	PayloadClass string
	// Timestamp configures KeyGenTimestampBased (partition path from event
	// time; its Type and OutputDateFormat are required); setting it makes
	// that the default KeyGenerator. Recorded in hoodie.properties, type
	// included.
	Timestamp TimestampKeyGen
}

var tableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// NewConfig returns the configuration Create writes for opts: the keys
// Spark writes for a new v6 table, with hoodie's defaults filled in. It
// validates opts.
func NewConfig(opts CreateOptions) (*Config, error) {
	if opts.Name == "" {
		return nil, fmt.Errorf("%w: %s: table name required", ErrMissingProperty, KeyName)
	}
	if !tableNameRE.MatchString(opts.Name) {
		return nil, fmt.Errorf("%w: table name %q: use letters, digits and '_', not starting with a digit", ErrInvalidConfig, opts.Name)
	}
	db := opts.Database
	if db == "" {
		db = DefaultDatabase
	}
	if !tableNameRE.MatchString(db) {
		return nil, fmt.Errorf("%w: database name %q: use letters, digits and '_', not starting with a digit", ErrInvalidConfig, db)
	}
	typ := opts.Type
	if typ == "" {
		typ = CopyOnWrite
	}
	if len(opts.RecordKeyFields) == 0 {
		return nil, fmt.Errorf("%w: %s: at least one record key field required", ErrMissingProperty, KeyRecordKeyFields)
	}
	for i, list := range [][]string{opts.RecordKeyFields, opts.PartitionFields, {opts.PrecombineField}} {
		for _, f := range list {
			if f == "" && i < 2 {
				return nil, fmt.Errorf("%w: empty field name in %q", ErrInvalidConfig, list)
			}
			if strings.ContainsAny(f, ", \t\r\n") {
				return nil, fmt.Errorf("%w: field name %q contains ',' or a blank", ErrInvalidConfig, f)
			}
		}
	}
	keygen := opts.KeyGenerator
	if keygen == "" {
		keygen = DefaultKeyGenerator(opts.RecordKeyFields, opts.PartitionFields)
		if !opts.Timestamp.IsZero() {
			keygen = KeyGenTimestampBased
		}
	}
	family, ok := keyGenFamily[keygen]
	if !ok {
		return nil, fmt.Errorf("%w: key generator %q", ErrUnsupportedFeature, keygen)
	}
	if family == KeyGenTimestampBased && opts.Timestamp.Type == "" {
		return nil, fmt.Errorf("%w: %s: %s required", ErrMissingProperty, keygen, KeyTimestampType)
	}
	if family != KeyGenTimestampBased && !opts.Timestamp.IsZero() {
		return nil, fmt.Errorf("%w: timestamp key generator options given with key generator %s", ErrInvalidConfig, keygen)
	}
	payload := opts.PayloadClass
	if payload == "" {
		payload = PayloadDefault
	}
	schema := opts.Schema
	if schema != "" {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(schema)); err != nil {
			return nil, fmt.Errorf("%w: schema is not JSON: %v", ErrInvalidConfig, err)
		}
		schema = buf.String()
	}

	props := map[string]string{
		KeyName:                  opts.Name,
		KeyDatabaseName:          db,
		KeyType:                  string(typ),
		KeyVersion:               fmt.Sprint(Version),
		KeyTimelineLayoutVersion: fmt.Sprint(TimelineLayoutVersion),
		KeyRecordKeyFields:       strings.Join(opts.RecordKeyFields, ","),
		KeyKeyGenerator:          keygen,
		KeyBaseFileFormat:        BaseFileFormatParquet,
		KeyPopulateMetaFields:    "true",
		KeyHiveStylePartitioning: fmt.Sprint(opts.HiveStylePartitioning),
		KeyURLEncodePartitioning: fmt.Sprint(opts.URLEncodePartitioning),
		KeyDropPartitionColumns:  "false",
		KeyPartitionMetafileBase: "false",
		KeyArchiveLogFolder:      DefaultArchiveFolder,
		KeyTimelineTimezone:      TimezoneUTC,
		KeyPayloadClass:          payload,
		KeyRecordMergerStrategy:  DefaultMergerStrategy,
		KeyCDCEnabled:            "false",
	}
	if len(opts.PartitionFields) > 0 {
		props[KeyPartitionFields] = strings.Join(opts.PartitionFields, ",")
	}
	if opts.PrecombineField != "" {
		props[KeyPrecombineField] = opts.PrecombineField
	}
	if schema != "" {
		props[KeyCreateSchema] = schema
	}
	for k, v := range map[string]string{
		KeyTimestampType:                   opts.Timestamp.Type,
		KeyTimestampScalarTimeUnit:         opts.Timestamp.ScalarTimeUnit,
		KeyTimestampInputDateFormat:        opts.Timestamp.InputDateFormat,
		KeyTimestampInputDateFormatListSep: opts.Timestamp.InputDateFormatListDelimiterRegex,
		KeyTimestampInputTimezone:          opts.Timestamp.InputTimezone,
		KeyTimestampOutputDateFormat:       opts.Timestamp.OutputDateFormat,
		KeyTimestampOutputTimezone:         opts.Timestamp.OutputTimezone,
		KeyTimestampTimezone:               opts.Timestamp.Timezone,
		KeyDateTimeParser:                  opts.Timestamp.DateTimeParser,
	} {
		if v != "" {
			props[k] = v
		}
	}
	props[KeyChecksum] = fmt.Sprint(Checksum(db, opts.Name))
	cfg, err := ParseConfig(props)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Create creates a table in st (rooted at the table's base path) by writing
// .hoodie/hoodie.properties with create-if-absent. It refuses with
// ErrTableExists if hoodie.properties, its backup or anything else under
// .hoodie/ exists. No directories are created: object stores have none and
// Hudi readers do not need .hoodie/archived, .aux, .temp or .schema.
func Create(ctx context.Context, st storage.Storage, opts CreateOptions) (*Table, error) {
	cfg, err := NewConfig(opts)
	if err != nil {
		return nil, err
	}
	for obj, err := range st.List(ctx, MetaFolder+"/", "") {
		if err != nil {
			return nil, fmt.Errorf("table: create: %w", err)
		}
		return nil, fmt.Errorf("%w: found %s", ErrTableExists, obj.Path)
	}
	data := formatTableProperties(cfg.Properties(), time.Now())
	err = storage.WriteFile(ctx, st, PropertiesFile, data, storage.CreateOptions{IfAbsent: true})
	if errors.Is(err, storage.ErrExist) {
		return nil, fmt.Errorf("%w: %s created concurrently", ErrTableExists, PropertiesFile)
	}
	if err != nil {
		return nil, fmt.Errorf("table: create: %w", err)
	}
	cfg.Props = cfg.Properties()
	t := &Table{st: st}
	t.mu.cfg = cfg
	return t, nil
}

// formatTableProperties renders hoodie.properties as Java's HoodieTableConfig
// stores it: the "Properties saved on <instant>" and date comments, checksum
// last.
func formatTableProperties(props map[string]string, now time.Time) []byte {
	return FormatProperties(props, PropertiesOptions{
		Comments:  []string{propertiesCommentSaved + javaInstantString(now)},
		Timestamp: now.UTC(),
		Last:      []string{KeyChecksum},
	})
}

// Open opens the table in st for reading and writing: it reads
// .hoodie/hoodie.properties, falling back to hoodie.properties.backup (left
// by an interrupted update) when the main file is missing or fails its
// checksum, as Java does, and validates it for writing. Errors:
// ErrNotHudiTable when neither file exists, else those of Config.Validate —
// among them ErrMetadataTableEnabled for a table with a Hudi metadata
// table, which OpenForRead accepts.
func Open(ctx context.Context, st storage.Storage) (*Table, error) {
	cfg, err := openConfig(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("table: open: %w", err)
	}
	t := &Table{st: st}
	t.mu.cfg = cfg
	return t, nil
}

// OpenForRead opens the table in st for reading (snapshot, time travel,
// incremental reads, timeline, file listing, stats). It reads
// hoodie.properties as Open does but checks only Config.ValidateRead, so
// it also opens tables hoodie reads and does not write: those with a Hudi
// metadata table (hoodie.table.metadata.partitions, as every Spark table
// has by default), which hoodie reads by listing storage, as hudi-rs does
// for v6 tables, without looking into .hoodie/metadata.
//
// A table that fails Config.ValidateWrite is opened read-only: Writable returns
// why, and its Storage fails every Create and Delete with that error, so
// handing it to a writer, compactor, cleaner or rollback changes nothing
// and fails with, e.g., ErrMetadataTableEnabled. Other tables are opened
// as by Open.
func OpenForRead(ctx context.Context, st storage.Storage) (*Table, error) {
	cfg, err := openConfig(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := cfg.ValidateRead(); err != nil {
		return nil, fmt.Errorf("table: open: %w", err)
	}
	t := &Table{st: st}
	if err := cfg.ValidateWrite(); err != nil { // ValidateRead passed above
		t.readOnly = fmt.Errorf("table: opened read-only: %w", err)
		t.st = &readOnlyStorage{Storage: st, err: t.readOnly}
	}
	t.mu.cfg = cfg
	return t, nil
}

// OpenForRepair opens the table in st as OpenForRead does (ValidateRead
// only) but writable: for the one repair that makes a table hoodie can
// write again, dropping a Hudi metadata table whose partitions hoodie does
// not maintain (metadata.Disable). Writers, compactors, cleaners and
// rollbacks must not be given such a handle.
func OpenForRepair(ctx context.Context, st storage.Storage) (*Table, error) {
	cfg, err := openConfig(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := cfg.ValidateRead(); err != nil {
		return nil, fmt.Errorf("table: open: %w", err)
	}
	t := &Table{st: st}
	t.mu.cfg = cfg
	return t, nil
}

// openConfig loads and parses hoodie.properties (not validated).
func openConfig(ctx context.Context, st storage.Storage) (*Config, error) {
	props, err := loadProperties(ctx, st)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(props)
	if err != nil {
		return nil, fmt.Errorf("table: open: %w", err)
	}
	return cfg, nil
}

// ReloadConfig reads hoodie.properties again: another writer may have
// changed it since Open (e.g. Spark creating or deleting the metadata
// table). A configuration hoodie cannot write any more is an error (the
// handle keeps its old configuration then).
func (t *Table) ReloadConfig(ctx context.Context) error {
	cfg, err := openConfig(ctx, t.st)
	if err != nil {
		return err
	}
	if err := cfg.ValidateRead(); err != nil {
		return fmt.Errorf("table: reload: %w", err)
	}
	if t.readOnly == nil {
		if err := cfg.ValidateWrite(); err != nil {
			return fmt.Errorf("table: reload: %w", err)
		}
	}
	t.mu.Lock()
	t.mu.cfg = cfg
	t.mu.Unlock()
	return nil
}

// Writable returns nil when hoodie may write the table, else why not (a
// table OpenForRead opened read-only; errors.Is finds the reason, e.g.
// ErrMetadataTableEnabled).
func (t *Table) Writable() error { return t.readOnly }

// readPropertiesFile reads and parses one properties file and checks its
// checksum, if it has one.
func readPropertiesFile(ctx context.Context, st storage.Storage, key string) (map[string]string, error) {
	b, err := storage.ReadFile(ctx, st, key)
	if err != nil {
		return nil, err
	}
	props, err := ParseProperties(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, key, err)
	}
	if sum, ok := props[KeyChecksum]; ok {
		want := Checksum(props[KeyDatabaseName], props[KeyName])
		if got, err := strconv.ParseInt(strings.TrimSpace(sum), 10, 64); err != nil || got != int64(want) {
			return nil, fmt.Errorf("%w: %s: %s=%s, want %d for %q", ErrInvalidConfig, key, KeyChecksum, sum, want,
				props[KeyDatabaseName]+"."+props[KeyName])
		}
	}
	return props, nil
}

// loadProperties is Java's HoodieTableConfig.fetchConfigs without the
// retries: the main file if valid, else the backup.
func loadProperties(ctx context.Context, st storage.Storage) (map[string]string, error) {
	props, mainErr := readPropertiesFile(ctx, st, PropertiesFile)
	if mainErr == nil {
		return props, nil
	}
	if ctx.Err() != nil || storage.Unavailable(mainErr) {
		return nil, fmt.Errorf("table: open: %w", mainErr)
	}
	props, backupErr := readPropertiesFile(ctx, st, PropertiesBackupFile)
	if backupErr == nil {
		return props, nil
	}
	if errors.Is(mainErr, storage.ErrNotExist) && errors.Is(backupErr, storage.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s", ErrNotHudiTable, PropertiesFile)
	}
	if errors.Is(backupErr, storage.ErrNotExist) {
		return nil, fmt.Errorf("table: open: %w", mainErr)
	}
	return nil, fmt.Errorf("table: open: %w", errors.Join(mainErr, backupErr))
}

// UpdateProperties changes hoodie.properties with Java's backup protocol so
// that a reader never sees a missing or partial file:
//
//  1. recover from an interrupted update: if hoodie.properties is missing,
//     copy the backup to it; delete the backup;
//  2. read the current properties and apply fn to a copy; the result must
//     pass Config.Validate (the checksum is recomputed), else nothing is
//     written;
//  3. write the current properties to hoodie.properties.backup
//     (create-if-absent: a concurrent updater makes this fail);
//  4. replace hoodie.properties (an atomic replace on every backend, so
//     unlike Java the main file is not deleted first) and read it back;
//  5. delete the backup.
//
// A crash at any step leaves a valid hoodie.properties or backup behind.
func (t *Table) UpdateProperties(ctx context.Context, fn func(props map[string]string) error) error {
	if err := recoverProperties(ctx, t.st); err != nil {
		return err
	}
	current, err := readPropertiesFile(ctx, t.st, PropertiesFile)
	if err != nil {
		return fmt.Errorf("table: update properties: %w", err)
	}
	next := make(map[string]string, len(current))
	for k, v := range current {
		next[k] = v
	}
	if err := fn(next); err != nil {
		return fmt.Errorf("table: update properties: %w", err)
	}
	cfg, err := ParseConfig(next)
	if err != nil {
		return fmt.Errorf("table: update properties: %w", err)
	}
	delete(cfg.Props, KeyChecksum) // recomputed below for the new name and database
	newProps := cfg.Properties()
	if cfg, err = ParseConfig(newProps); err != nil {
		return fmt.Errorf("table: update properties: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("table: update properties: %w", err)
	}

	now := time.Now()
	err = storage.WriteFile(ctx, t.st, PropertiesBackupFile, formatTableProperties(current, now), storage.CreateOptions{IfAbsent: true})
	if errors.Is(err, storage.ErrExist) {
		return fmt.Errorf("table: update properties: %s exists: concurrent update: %w", PropertiesBackupFile, err)
	}
	if err != nil {
		return fmt.Errorf("table: update properties: write backup: %w", err)
	}
	if err := storage.WriteFile(ctx, t.st, PropertiesFile, formatTableProperties(newProps, now), storage.CreateOptions{}); err != nil {
		// The backup still holds the old properties; the next update or Open
		// recovers from it.
		return fmt.Errorf("table: update properties: rewrite: %w", err)
	}
	got, err := readPropertiesFile(ctx, t.st, PropertiesFile)
	if err != nil {
		return fmt.Errorf("table: update properties: verify: %w", err)
	}
	if got[KeyChecksum] != newProps[KeyChecksum] {
		return fmt.Errorf("%w: update properties: %s changed concurrently", ErrInvalidConfig, PropertiesFile)
	}
	if err := t.st.Delete(ctx, PropertiesBackupFile); err != nil {
		return fmt.Errorf("table: update properties: delete backup: %w", err)
	}
	t.mu.Lock()
	t.mu.cfg = cfg
	t.mu.Unlock()
	return nil
}

// recoverProperties is Java's HoodieTableConfig.recoverIfNeeded, a little
// stronger: a missing or invalid hoodie.properties is restored from a valid
// backup; then the backup is deleted.
func recoverProperties(ctx context.Context, st storage.Storage) error {
	_, mainErr := readPropertiesFile(ctx, st, PropertiesFile)
	if mainErr != nil {
		if !errors.Is(mainErr, storage.ErrNotExist) && !errors.Is(mainErr, ErrInvalidConfig) {
			return fmt.Errorf("table: recover properties: %w", mainErr)
		}
		if _, err := readPropertiesFile(ctx, st, PropertiesBackupFile); err != nil {
			if errors.Is(err, storage.ErrNotExist) && errors.Is(mainErr, storage.ErrNotExist) {
				return fmt.Errorf("%w: no %s", ErrNotHudiTable, PropertiesFile)
			}
			return fmt.Errorf("table: recover properties: %w", errors.Join(mainErr, err))
		}
		b, err := storage.ReadFile(ctx, st, PropertiesBackupFile)
		if err != nil {
			return fmt.Errorf("table: recover properties: %w", err)
		}
		if err := storage.WriteFile(ctx, st, PropertiesFile, b, storage.CreateOptions{}); err != nil {
			return fmt.Errorf("table: recover properties: %w", err)
		}
	}
	if err := st.Delete(ctx, PropertiesBackupFile); err != nil {
		return fmt.Errorf("table: recover properties: %w", err)
	}
	return nil
}
