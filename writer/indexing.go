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
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
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

func (w *Writer) openIndex(ctx context.Context, tl *timeline.Timeline) (*index.Index, error) {
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
	idx, err := index.Open(index.Options{Dir: dir, Global: w.opts.GlobalIndex, TTL: w.opts.IndexTTL})
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	w.idx = idx
	if err := w.catchUpIndex(ctx, tl); err != nil {
		idx.Close()
		return nil, err
	}
	return idx, nil
}

// catchUpIndex brings the index level with the timeline: a full rebuild
// from the latest file slices when it is empty (or a rebuild was
// interrupted), else the entries of every completed commit it missed.
func (w *Writer) catchUpIndex(ctx context.Context, tl *timeline.Timeline) error {
	commits := tl.CompletedCommits()
	if len(commits) == 0 {
		return nil
	}
	last := commits[len(commits)-1].Timestamp
	if w.indexDirty || w.idx.NeedsRebuild() || w.idx.IsEmpty() {
		if err := w.rebuildIndex(ctx, tl, last); err != nil {
			return err
		}
		w.indexDirty = false
		return nil
	}
	// Missed: every completed commit not applied since the oldest applied
	// one, not only those after the newest: concurrent writers complete
	// out of instant order (an instant claimed earlier completes later).
	// Instants before the oldest applied one predate the index's last
	// rebuild, which covered them (a rebuild records every instant it
	// covered; an index rebuilt by an older hoodie records only the
	// newest).
	oldest := w.idx.OldestApplied()
	var missed []timeline.Instant
	for _, c := range commits {
		if c.Timestamp > oldest && !w.idx.IsApplied(c.Timestamp) {
			missed = append(missed, c)
		}
	}
	if len(missed) == 0 {
		return nil
	}
	// Many missed commits, or missed commits that the active timeline no
	// longer fully describes: rebuilding is simpler and as fast.
	if len(missed) > 20 {
		return w.rebuildIndex(ctx, tl, last)
	}
	for _, c := range missed {
		md, err := timeline.ReadCommitMetadata(ctx, w.st, c)
		if err != nil {
			return err
		}
		if c.Action == timeline.ReplaceCommit {
			return w.rebuildIndex(ctx, tl, last)
		}
		if tl.IsCompaction(c.Timestamp) || md.OperationType == timeline.OpCompact {
			// A compaction keeps every key in its file group, and its base
			// files are a snapshot as of its plan: replaying them could
			// bring back keys that later commits deleted or moved.
			if err := w.idx.MarkApplied(ctx, []string{c.Timestamp}); err != nil {
				return fmt.Errorf("writer: index catch-up: %w", err)
			}
			continue
		}
		var entries []index.Entry
		var removed []index.Key
		for _, s := range md.Stats() {
			if s.IsLog() {
				keys, deleted, err := w.logKeys(ctx, s)
				if err != nil {
					return fmt.Errorf("writer: index catch-up from %s: %w", c, err)
				}
				loc := index.Location{PartitionPath: s.PartitionPath, FileID: s.FileID, Instant: c.Timestamp}
				for _, k := range keys {
					entries = append(entries, index.Entry{Key: index.Key{PartitionPath: s.PartitionPath, RecordKey: k}, Location: loc})
				}
				for _, k := range deleted {
					removed = append(removed, index.Key{PartitionPath: s.PartitionPath, RecordKey: k})
				}
				continue
			}
			if s.Path == "" {
				continue
			}
			keys, err := readKeys(ctx, w.st, s.Path)
			if errors.Is(err, storage.ErrNotExist) {
				// Cleaned since (a newer slice replaced it): the latest
				// slices tell where its keys are now.
				return w.rebuildIndex(ctx, tl, last)
			}
			if err != nil {
				return fmt.Errorf("writer: index catch-up from %s: %w", c, err)
			}
			for _, k := range keys {
				entries = append(entries, index.Entry{
					Key:      index.Key{PartitionPath: s.PartitionPath, RecordKey: k},
					Location: index.Location{PartitionPath: s.PartitionPath, FileID: s.FileID, Instant: c.Timestamp},
				})
			}
		}
		if err := w.idx.Put(ctx, c.Timestamp, entries); err != nil {
			return fmt.Errorf("writer: index catch-up: %w", err)
		}
		if len(removed) > 0 {
			if err := w.idx.Delete(ctx, c.Timestamp, removed); err != nil {
				return fmt.Errorf("writer: index catch-up: %w", err)
			}
		}
	}
	return nil
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

// rebuildIndex reloads the index from the record keys of the latest base
// files (bootstrap).
func (w *Writer) rebuildIndex(ctx context.Context, tl *timeline.Timeline, last string) error {
	view, err := table.BuildView(ctx, w.st, tl, table.ViewOptions{})
	if err != nil {
		return err
	}
	slices := view.LatestSlices()
	total := int64(len(slices))
	include := tl.Visible("")
	src := func(yield func(index.Entry) bool) error {
		for i, s := range slices {
			var keys []string
			if s.Base != nil {
				var err error
				if keys, err = readKeys(ctx, w.st, s.Base.Path); err != nil {
					return err
				}
			}
			if len(s.Logs) > 0 {
				// Keys the logs delete are left out; keys only in logs
				// are added.
				logs, err := merge.ScanLogs(ctx, w.st, s.Logs, merge.Options{Include: include, Target: w.logKeySchema()})
				if err != nil {
					return err
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
				w.opts.Progress("index bootstrap", int64(i+1), total)
			}
		}
		return nil
	}
	if err := w.idx.Rebuild(ctx, last, src, nil); err != nil {
		return fmt.Errorf("writer: index bootstrap: %w", err)
	}
	// The latest slices hold every commit completed on tl, also those
	// before last that completed after it.
	var covered []string
	for _, c := range tl.CompletedCommits() {
		covered = append(covered, c.Timestamp)
	}
	if err := w.idx.MarkApplied(ctx, covered); err != nil {
		return fmt.Errorf("writer: index bootstrap: %w", err)
	}
	return nil
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
