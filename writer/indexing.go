package writer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// DefaultIndexDir is where the index of the table at location lives when
// Options.IndexDir is empty: under the user cache dir, one directory per
// table location.
func DefaultIndexDir(location string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(location))
	return filepath.Join(base, "hoodie", "index", hex.EncodeToString(sum[:8])), nil
}

// openIndex opens the record-key index (Options.IndexDir, or the default
// directory of the table's location) and catches it up with the table.
// minIndexMemory is the least Options.IndexMemory: two 1 MiB memtables
// and a front of at least 1 MiB.
const minIndexMemory = 4 << 20

// indexMemory splits a memory bound (0: the index's defaults) between the
// index's memory front and two Badger memtables (a sixteenth each,
// between 1 and 16 MiB; Badger holds only the dictionaries and the
// watermark there).
func indexMemory(o *index.Options, bound int64) {
	if bound == 0 {
		return
	}
	mt := min(max(bound/16, 1<<20), 16<<20)
	o.MemTableSize, o.NumMemtables = mt, 2
	o.FrontSize = max(bound-2*mt, 1<<20)
}

func (w *Writer) openIndex(ctx context.Context) (*index.Index, error) {
	dir := w.opts.IndexDir
	if dir == "" {
		loc := w.opts.IndexLocation
		if loc == "" {
			if l, ok := w.st.(*storage.Local); ok {
				loc = l.Root()
			} else {
				return nil, fmt.Errorf("writer: Options.IndexDir or IndexLocation is required for tables outside the local filesystem")
			}
		}
		var err error
		if dir, err = DefaultIndexDir(loc); err != nil {
			return nil, err
		}
	}
	io := index.Options{Dir: dir, Global: w.opts.GlobalIndex, TTL: w.opts.IndexTTL}
	indexMemory(&io, w.opts.IndexMemory)
	idx, err := index.Open(io)
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	w.idx = idx
	if err := w.catchUpIndex(ctx); err != nil {
		idx.Close()
		return nil, err
	}
	return idx, nil
}

// catchUpIndex brings the index level with the table's timeline as the
// writer last refreshed it: a full rebuild from the latest file slices
// when it is empty (or a rebuild was interrupted, or a failed insert left
// it dirty), else the entries of every completed commit it missed.
func (w *Writer) catchUpIndex(ctx context.Context) error {
	tl, err := w.tbl.Timeline(ctx)
	if err != nil {
		return err
	}
	commits := tl.CompletedCommits()
	if len(commits) == 0 {
		return nil
	}
	if w.indexDirty || w.idx.NeedsRebuild() || w.idx.IsEmpty() {
		if err := w.rebuildIndex(ctx); err != nil {
			return err
		}
		w.indexDirty = false
		return nil
	}
	missed := w.missedCommits(commits)
	// Many missed commits, or missed commits that the active timeline no
	// longer fully describes: rebuilding is simpler and as fast.
	if len(missed) > 20 {
		return w.rebuildIndex(ctx)
	}
	for _, c := range missed {
		replayed, err := w.replayCommit(ctx, tl, c)
		if err != nil {
			return err
		}
		if !replayed {
			return w.rebuildIndex(ctx)
		}
	}
	return nil
}

// missedCommits are the completed commits the index has not applied: every
// one since the oldest applied one, not only those after the newest, as
// concurrent writers complete out of instant order (an instant claimed
// earlier completes later). Instants before the oldest applied one predate
// the index's last rebuild, which covered them (a rebuild records every
// instant it covered; an index rebuilt by an older hoodie records only the
// newest).
func (w *Writer) missedCommits(commits []timeline.Instant) []timeline.Instant {
	oldest := w.idx.OldestApplied()
	var missed []timeline.Instant
	for _, c := range commits {
		if c.Timestamp > oldest && !w.idx.IsApplied(c.Timestamp) {
			missed = append(missed, c)
		}
	}
	return missed
}

// replayCommit applies completed commit c to the index: the keys of the
// files it wrote, and the keys its log files delete. It reports false,
// having changed nothing, when the index must be rebuilt instead: c
// replaced file groups, or a base file it wrote was cleaned since.
func (w *Writer) replayCommit(ctx context.Context, tl *timeline.Timeline, c timeline.Instant) (bool, error) {
	md, err := w.state.meta.CommitMetadata(ctx, w.st, c)
	if err != nil {
		return false, err
	}
	if c.Action == timeline.ReplaceCommit {
		return false, nil
	}
	if tl.IsCompaction(c.Timestamp) || md.OperationType == timeline.OpCompact {
		// A compaction keeps every key in its file group, and its base
		// files are a snapshot as of its plan: replaying them could bring
		// back keys that later commits deleted or moved.
		if err := w.idx.MarkApplied(ctx, []string{c.Timestamp}); err != nil {
			return false, fmt.Errorf("writer: index catch-up: %w", err)
		}
		return true, nil
	}
	var entries []index.Entry
	var removed []index.Key
	for _, s := range md.Stats() {
		keys, deleted, err := w.statKeys(ctx, s)
		if errors.Is(err, storage.ErrNotExist) && !s.IsLog() {
			// Cleaned since (a newer slice replaced it): the latest slices
			// tell where its keys are now.
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("writer: index catch-up from %s: %w", c, err)
		}
		loc := index.Location{PartitionPath: s.PartitionPath, FileID: s.FileID, Instant: c.Timestamp}
		for _, k := range keys {
			entries = append(entries, index.Entry{Key: index.Key{PartitionPath: s.PartitionPath, RecordKey: k}, Location: loc})
		}
		for _, k := range deleted {
			removed = append(removed, index.Key{PartitionPath: s.PartitionPath, RecordKey: k})
		}
	}
	if err := w.idx.Put(ctx, c.Timestamp, entries); err != nil {
		return false, fmt.Errorf("writer: index catch-up: %w", err)
	}
	if len(removed) > 0 {
		if err := w.idx.Delete(ctx, c.Timestamp, removed); err != nil {
			return false, fmt.Errorf("writer: index catch-up: %w", err)
		}
	}
	return true, nil
}

// statKeys reads the keys of the file one write stat describes: a base
// file's, or a deltacommit's log files' (the keys of data records, and of
// delete records).
func (w *Writer) statKeys(ctx context.Context, s timeline.WriteStat) (keys, deleted []string, err error) {
	if s.IsLog() {
		return w.logKeys(ctx, s)
	}
	if s.Path == "" {
		return nil, nil, nil
	}
	keys, err = readKeys(ctx, w.st, s.Path)
	return keys, nil, err
}

// logKeys reads the keys of the log files a deltacommit wrote: keys of
// data records and keys of delete records.
func (w *Writer) logKeys(ctx context.Context, s timeline.WriteStat) (keys, deleted []string, err error) {
	paths := []string{}
	for _, n := range s.LogFiles {
		if s.PartitionPath != "" {
			n = s.PartitionPath + "/" + n
		}
		paths = append(paths, n)
	}
	if len(paths) == 0 && s.Path != "" {
		paths = append(paths, s.Path)
	}
	for _, p := range paths {
		ra, err := storage.NewReaderAt(ctx, w.st, p)
		if err != nil {
			return nil, nil, err
		}
		for b, err := range logfile.NewReader(ra, ra.Size()).All() {
			if err != nil {
				b.Release()
				return nil, nil, fmt.Errorf("%s: %w", p, err)
			}
			for _, d := range b.Deletes {
				deleted = append(deleted, d.RecordKey)
			}
			for _, rec := range b.Records {
				if kc, ok := arrowutil.Column(rec, schema.RecordKeyField).(*array.String); ok {
					for i := 0; i < kc.Len(); i++ {
						keys = append(keys, kc.Value(i))
					}
				}
			}
			b.Release()
		}
	}
	return keys, deleted, nil
}

// rebuildIndex reloads the index from the record keys of the latest file
// slices of the table as the writer last refreshed it (bootstrap).
func (w *Writer) rebuildIndex(ctx context.Context) error {
	tl, err := w.tbl.Timeline(ctx)
	if err != nil {
		return err
	}
	view, err := w.tbl.View(ctx)
	if err != nil {
		return err
	}
	commits := tl.CompletedCommits()
	if len(commits) == 0 {
		return nil
	}
	slices := view.LatestSlices()
	include := tl.Visible("")
	src := func(yield func(index.Entry) bool) error {
		for i, s := range slices {
			keys, err := w.sliceKeys(ctx, s, include)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if !yield(index.Entry{
					Key:      index.Key{PartitionPath: s.PartitionPath, RecordKey: k},
					Location: index.Location{PartitionPath: s.PartitionPath, FileID: s.FileID, Instant: s.BaseInstant},
				}) {
					return nil
				}
			}
			if w.opts.Progress != nil {
				w.opts.Progress("index bootstrap", int64(i+1), int64(len(slices)))
			}
		}
		return nil
	}
	if err := w.idx.Rebuild(ctx, commits[len(commits)-1].Timestamp, src, nil); err != nil {
		return fmt.Errorf("writer: index bootstrap: %w", err)
	}
	// The latest slices hold every commit completed on tl, also those
	// before the last that completed after it.
	covered := make([]string, len(commits))
	for i, c := range commits {
		covered[i] = c.Timestamp
	}
	if err := w.idx.MarkApplied(ctx, covered); err != nil {
		return fmt.Errorf("writer: index bootstrap: %w", err)
	}
	return nil
}

// sliceKeys are the record keys file slice s holds: its base file's, less
// those its logs delete, plus those only in its logs. include selects the
// log blocks of visible instants.
func (w *Writer) sliceKeys(ctx context.Context, s *filegroup.FileSlice, include func(string) bool) ([]string, error) {
	var keys []string
	if s.Base != nil {
		var err error
		if keys, err = readKeys(ctx, w.st, s.Base.Path); err != nil {
			return nil, err
		}
	}
	if len(s.Logs) == 0 {
		return keys, nil
	}
	logs, err := merge.ScanLogs(ctx, w.st, s.Logs, merge.Options{Include: include, Target: w.logKeySchema()})
	if err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	inBase := map[string]bool{}
	for k, del := range logs.Keys() {
		gone[k] = del
	}
	logs.Release()
	kept := keys[:0]
	for _, k := range keys {
		inBase[k] = true
		if !gone[k] {
			kept = append(kept, k)
		}
	}
	keys = kept
	for k, del := range gone {
		if !del && !inBase[k] {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// pathDir is the partition path of a data file key ("" at the base).
func pathDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// openBase opens a base file of the table for reading.
func openBase(ctx context.Context, st storage.Storage, path string) (*basefile.Reader, error) {
	ra, err := storage.NewReaderAt(ctx, st, path)
	if err != nil {
		return nil, err
	}
	rd, err := basefile.Open(ra, ra.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rd, nil
}

// readKeys reads the _hoodie_record_key column of a base file.
func readKeys(ctx context.Context, st storage.Storage, path string) ([]string, error) {
	rd, err := openBase(ctx, st, path)
	if err != nil {
		return nil, err
	}
	ks, err := rd.RecordKeys()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ks, nil
}

// logKeySchema is the schema log records are read in to find their keys:
// the meta columns only.
func (w *Writer) logKeySchema() *arrow.Schema {
	fs := make([]arrow.Field, len(schema.MetaFields))
	for i, n := range schema.MetaFields {
		fs[i] = arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	return arrow.NewSchema(fs, nil)
}
