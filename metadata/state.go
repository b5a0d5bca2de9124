package metadata

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/mdtrecord"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// slice is a file slice of the files file group: a base file (absent for
// the slice of a pending compaction) and the log files based on it.
type slice struct {
	baseInstant string
	base        string // base file name, "" if none
	baseSize    int64
	logs        []logName // sorted by lessLog
}

// state is what one look at the metadata table saw: its timeline and the
// files of its files partition.
type state struct {
	tl     *timeline.Timeline
	slices map[string]*slice // by base instant
}

// load lists the metadata timeline and the files partition.
func (m *Table) load(ctx context.Context) (*state, error) {
	tl, err := timeline.Load(ctx, m.st)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	s := &state{tl: tl, slices: map[string]*slice{}}
	get := func(b string) *slice {
		sl := s.slices[b]
		if sl == nil {
			sl = &slice{baseInstant: b}
			s.slices[b] = sl
		}
		return sl
	}
	for obj, err := range m.st.List(ctx, FilesPartition+"/", "/") {
		if err != nil {
			return nil, fmt.Errorf("metadata: list %s: %w", FilesPartition, err)
		}
		if obj.IsDir {
			continue
		}
		name := path.Base(obj.Path)
		if inst, ok := parseBase(name); ok {
			sl := get(inst)
			// Two base files of one instant: a compaction retried with
			// another token (not hoodie's); the later name wins, as any.
			if sl.base == "" || name > sl.base {
				sl.base, sl.baseSize = name, obj.Size
			}
			continue
		}
		if lg, ok := parseLog(name); ok {
			lg.size = obj.Size
			sl := get(lg.baseInstant)
			sl.logs = append(sl.logs, lg)
		}
	}
	for _, sl := range s.slices {
		sort.Slice(sl.logs, func(i, j int) bool { return lessLog(sl.logs[i], sl.logs[j]) })
	}
	return s, nil
}

// completedBase reports whether instant ts made a visible base file: a
// completed deltacommit (the initialisation) or commit (a compaction), or
// an instant older than the active timeline (archived).
func (s *state) completedBase(ts string) bool {
	if inst, ok := s.tl.Find(ts); ok {
		return inst.IsCompleted()
	}
	first := s.tl.FirstInstantTime()
	return first != "" && ts < first
}

// pendingCompactions are the metadata table's compaction instants not yet
// completed.
func (s *state) pendingCompactions() []timeline.Instant {
	var out []timeline.Instant
	for _, i := range s.tl.Instants() {
		if i.Action == timeline.Compaction && !i.IsCompleted() {
			out = append(out, i)
		}
	}
	return out
}

// latestBase is the newest slice whose base file is visible.
func (s *state) latestBase() *slice {
	var best *slice
	for b, sl := range s.slices {
		if sl.base == "" || !s.completedBase(b) {
			continue
		}
		if best == nil || b > best.baseInstant {
			best = sl
		}
	}
	return best
}

// latestBaseInstant is the instant of the latest visible base file: the
// slice hoodie writes new log files into (never a pending compaction's,
// see writeDeltaCommit).
func (s *state) latestBaseInstant() (string, error) {
	sl := s.latestBase()
	if sl == nil {
		return "", fmt.Errorf("%w: the files partition has no base file", ErrCorrupt)
	}
	return sl.baseInstant, nil
}

// readSlices are the slices a reader merges: the latest visible base
// slice, then the slices of later pending compactions (Hudi's merged file
// slice), oldest first.
func (s *state) readSlices() ([]*slice, error) {
	base := s.latestBase()
	if base == nil {
		return nil, fmt.Errorf("%w: the files partition has no base file", ErrCorrupt)
	}
	out := []*slice{base}
	for _, c := range s.pendingCompactions() {
		if c.Timestamp > base.baseInstant {
			if sl := s.slices[c.Timestamp]; sl != nil {
				out = append(out, sl)
			}
		}
	}
	return out, nil
}

// mdtCompleted reports whether metadata instant ts completed (or is older
// than the active timeline).
func (s *state) mdtCompleted(ts string) bool {
	return s.completedBase(ts)
}

// deltaCommitsSinceBase counts the completed deltacommits after the latest
// compaction (all of them, the initialisation included, before the first),
// and returns the latest deltacommit time.
func (s *state) deltaCommitsSinceBase() (n int, latest string) {
	last := ""
	for _, i := range s.tl.Instants() {
		if i.Action == timeline.Commit && i.IsCompleted() {
			last = i.Timestamp
		}
	}
	for _, i := range s.tl.Instants() {
		if i.Action == timeline.DeltaCommit && i.IsCompleted() {
			if i.Timestamp > last {
				n++
			}
			if i.Timestamp > latest {
				latest = i.Timestamp
			}
		}
	}
	return n, latest
}

// validity decides which log blocks readers use: blocks of metadata
// deltacommits that completed, written for a data instant that completed
// (or for the metadata table's own initialisation).
type validity struct {
	st   *state
	data *timeline.Timeline
}

func (v validity) valid(ts string) bool {
	if !v.st.mdtCompleted(ts) {
		return false
	}
	if v.data.IsCompleted(ts) {
		return true
	}
	// The initialisation deltacommit ("<time>010") has no data instant.
	if inst, ok := v.st.tl.Find(ts); ok && inst.Action == timeline.DeltaCommit && isInitTime(ts) {
		return true
	}
	return false
}

// pending reports whether ts is a data instant not completed yet, or a
// metadata deltacommit not completed yet: its blocks may become valid.
func (v validity) pending(ts string) bool {
	if i, ok := v.data.Find(ts); ok && !i.IsCompleted() {
		return true
	}
	if i, ok := v.st.tl.Find(ts); ok && !i.IsCompleted() {
		if _, onData := v.data.Find(ts); onData {
			return true
		}
	}
	return false
}

// errPendingBlock: a compaction met a log block that may still become
// valid.
var errPendingBlock = errors.New("metadata: log block of a pending instant")

// isInitTime reports whether ts is an initialisation time: 17 digits then
// "010", or SOLO_COMMIT_TIMESTAMP + "010".
func isInitTime(ts string) bool {
	return (len(ts) == 20 && ts[17:] == initSuffix) || ts == SoloCommitTime+initSuffix
}

// records reads the merged records of the files partition as readers see
// them: the base file, then every valid log block in order, each record
// merged onto the one before it by HoodieMetadataPayload's rules.
func (m *Table) records(ctx context.Context, s *state, data *timeline.Timeline) (map[string]mdtrecord.Record, error) {
	slices, err := s.readSlices()
	if err != nil {
		return nil, err
	}
	out := map[string]mdtrecord.Record{}
	recs, err := m.readBase(ctx, slices[0])
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		out[r.Key] = r
	}
	v := validity{st: s, data: data}
	for _, sl := range slices {
		if err := m.mergeLogs(ctx, sl, v, false, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readBase reads the records of a slice's base file.
func (m *Table) readBase(ctx context.Context, sl *slice) ([]mdtrecord.Record, error) {
	p := FilesPartition + "/" + sl.base
	ra, err := storage.NewReaderAt(ctx, m.st, p)
	if err != nil {
		return nil, fmt.Errorf("metadata: open %s: %w", p, err)
	}
	recs, err := mdtrecord.ReadBaseFile(ra, ra.Size())
	if err != nil {
		return nil, fmt.Errorf("metadata: read %s: %w", p, err)
	}
	return recs, nil
}

// block is a data block of a log file, kept until the slice's rollback
// command blocks are known.
type block struct {
	instant string
	recs    []mdtrecord.Record
}

// mergeLogs merges the valid data blocks of a slice's log files onto out,
// skipping invalid blocks and blocks a command block of the slice rolled
// back. With forCompaction, a block of a data instant still pending fails
// with errPendingBlock: it may become valid later, and a new base file
// would leave it behind in the old slice.
func (m *Table) mergeLogs(ctx context.Context, sl *slice, v validity, forCompaction bool, out map[string]mdtrecord.Record) error {
	var blocks []block
	rolledBack := map[string]bool{}
	for _, lg := range sl.logs {
		p := FilesPartition + "/" + lg.name
		ra, err := storage.NewReaderAt(ctx, m.st, p)
		if err != nil {
			if errors.Is(err, storage.ErrNotExist) {
				continue // rolled back since the listing
			}
			return fmt.Errorf("metadata: open %s: %w", p, err)
		}
		r := logfile.NewReader(ra, ra.Size())
		for b, err := range r.All() {
			if err != nil {
				return fmt.Errorf("metadata: read %s: %w", p, err)
			}
			ts := b.Header.Value(logfile.InstantTime)
			switch b.Type {
			case logfile.CorruptBlock:
				continue
			case logfile.CommandBlock:
				if b.Header.Value(logfile.CommandBlockType) == logfile.RollbackCommand && v.st.mdtCompleted(ts) {
					rolledBack[b.Header.Value(logfile.TargetInstantTime)] = true
				}
				continue
			case logfile.DeleteBlock:
				// Hudi writes an empty delete block to create a file group's
				// first log file; the files partition deletes no keys.
				continue
			case logfile.HFileDataBlock:
			default:
				return fmt.Errorf("%w: %s: a %v in the files partition", ErrUnsupported, p, b.Type)
			}
			if !v.valid(ts) {
				if forCompaction && v.pending(ts) {
					return fmt.Errorf("%w: %s in %s", errPendingBlock, ts, p)
				}
				continue
			}
			recs, err := mdtrecord.DecodeLogBlockContent(b.Content)
			if err != nil {
				return fmt.Errorf("metadata: %s block of %s: %w", p, ts, err)
			}
			blocks = append(blocks, block{instant: ts, recs: recs})
		}
	}
	for _, b := range blocks {
		if rolledBack[b.instant] {
			continue
		}
		for _, r := range b.recs {
			prev, ok := out[r.Key]
			if !ok {
				out[r.Key] = r
				continue
			}
			merged, err := mdtrecord.Merge(prev, r)
			if err != nil {
				return fmt.Errorf("metadata: merge %q of %s: %w", r.Key, b.instant, err)
			}
			out[r.Key] = merged
		}
	}
	return nil
}
