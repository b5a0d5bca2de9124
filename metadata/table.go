package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"

	"github.com/hoodie-lake/hoodie/internal/mdtrecord"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Errors returned by this package; test with errors.Is.
var (
	// ErrUnsupported: the metadata table has partitions or content hoodie
	// does not maintain (column_stats, bloom_filters, record_index, an
	// index being built, ...). Such errors also match
	// table.ErrMetadataTableEnabled.
	ErrUnsupported = errors.New("metadata: unsupported metadata table")
	// ErrCorrupt: the metadata table's files disagree with its format.
	ErrCorrupt = errors.New("metadata: corrupt metadata table")
	// ErrPendingInstants: the data table has pending instants, so the
	// metadata table cannot be initialised from a listing now.
	ErrPendingInstants = errors.New("metadata: data table has pending instants")
	// ErrNotEnabled: the data table keeps no metadata table.
	ErrNotEnabled = errors.New("metadata: no metadata table")
)

// Table is the metadata table of a data table.
type Table struct {
	data storage.Storage // the data table's store
	st   storage.Storage // rooted at Folder
	log  *slog.Logger
}

// Options tune a Table.
type Options struct {
	// Logger receives the metadata table's compactions, cleans and
	// rollbacks at Info. Default: discard.
	Logger *slog.Logger
}

// EnsureDefaults fills unset options.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the options.
func (o *Options) Validate() error { return nil }

// Open returns the metadata table of the data table in st whose
// configuration is cfg, or ErrNotEnabled. It fails with ErrUnsupported
// when the table keeps metadata partitions hoodie cannot maintain.
func Open(st storage.Storage, cfg *table.Config, opts Options) (*Table, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if !Enabled(cfg) {
		return nil, ErrNotEnabled
	}
	if err := Supported(cfg); err != nil {
		return nil, err
	}
	return newTable(st, opts), nil
}

func newTable(st storage.Storage, opts Options) *Table {
	return &Table{data: st, st: prefixed{inner: st, prefix: Folder + "/"}, log: opts.Logger}
}

// Supported checks that hoodie can maintain the metadata table cfg
// describes: exactly the files partition, none being built.
func Supported(cfg *table.Config) error {
	if err := cfg.ValidateWrite(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return nil
}

// Listing is the data table's partitions and files as readers listing
// through the metadata table see them.
type Listing struct {
	// Partitions are the data table's partitions, sorted ("" for a
	// non-partitioned table).
	Partitions []string
	// Files maps each partition to its files' names and sizes.
	Files map[string]map[string]int64
}

// Listing reads the files partition as a reader of the data table at its
// timeline data would.
func (m *Table) Listing(ctx context.Context, data *timeline.Timeline) (*Listing, error) {
	s, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := m.records(ctx, s, data)
	if err != nil {
		return nil, err
	}
	return listingOf(recs), nil
}

// listingOf turns merged records into a Listing.
func listingOf(recs map[string]mdtrecord.Record) *Listing {
	l := &Listing{Files: map[string]map[string]int64{}}
	if all, ok := recs[mdtrecord.AllPartitionsKey]; ok {
		for p := range mdtrecord.Live(all) {
			l.Partitions = append(l.Partitions, dataPartition(p))
		}
	}
	sort.Strings(l.Partitions)
	for _, p := range l.Partitions {
		files := map[string]int64{}
		if r, ok := recs[mdtPartition(p)]; ok {
			for f, size := range mdtrecord.Live(r) {
				files[f] = size
			}
		}
		l.Files[p] = files
	}
	return l
}

// mdtPartition is the record key of data partition p ("." for a
// non-partitioned table).
func mdtPartition(p string) string {
	if p == "" {
		return mdtrecord.NonPartitionedName
	}
	return p
}

// dataPartition reverses mdtPartition.
func dataPartition(k string) string {
	if k == mdtrecord.NonPartitionedName {
		return ""
	}
	return k
}

// For returns the metadata table tbl keeps, or nil when it keeps none. It
// first compares the table's properties with the timeline tbl holds (if
// it loaded one; For itself lists nothing): when the timeline's listing
// saw .hoodie/metadata and the properties do not name a metadata table,
// or the other way round, another writer (e.g. Spark bootstrapping its
// metadata table) changed them since they were read, and they are read
// again. A metadata table
// hoodie cannot maintain fails with ErrUnsupported.
func For(ctx context.Context, tbl *table.Table, opts Options) (*Table, error) {
	if tl := tbl.LoadedTimeline(); tl != nil && tl.HasMetadataFolder() != Enabled(tbl.Config()) {
		if err := tbl.ReloadConfig(ctx); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
	}
	cfg := tbl.Config()
	if !Enabled(cfg) {
		return nil, nil
	}
	return Open(tbl.Storage(), cfg, opts)
}

// LatestBaseInstant is the instant of the files partition's latest
// visible base file (its initialisation or latest compaction): the data
// table's archival must not reach it, because readers use the metadata
// log blocks of later data instants only while those are on the active
// timeline. "" when there is none.
func (m *Table) LatestBaseInstant(ctx context.Context) (string, error) {
	s, err := m.load(ctx)
	if err != nil {
		return "", err
	}
	if sl := s.latestBase(); sl != nil {
		return sl.baseInstant, nil
	}
	return "", nil
}

// Storage is the metadata table's store: the data table's, rooted at
// Folder (for services that work on any Hudi timeline, such as archival).
func (m *Table) Storage() storage.Storage { return m.st }

// OpenForRead returns the metadata table of the data table in st for
// listing its files (Listing), whatever other partitions it keeps: those
// are not read. ErrNotEnabled when the files partition is not (fully)
// built.
func OpenForRead(st storage.Storage, cfg *table.Config) (*Table, error) {
	if !slices.Contains(cfg.MetadataPartitions, FilesPartition) || slices.Contains(cfg.MetadataPartitionsInflight, FilesPartition) {
		return nil, ErrNotEnabled
	}
	var o Options
	o.EnsureDefaults()
	return newTable(st, o), nil
}
