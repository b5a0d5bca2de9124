package timeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hoodie-lake/hoodie/storage"
)

// MetaFolder is the folder holding the timeline, relative to the table base.
const MetaFolder = ".hoodie"

// claimFolder holds create-if-absent instant-time claims, so that two
// processes (or two actions) never take the same instant time. Readers and
// Hudi ignore .hoodie/.aux.
const claimFolder = MetaFolder + "/.aux/.instant-claims"

// Timeline is a snapshot of the active timeline: every instant in its
// highest state, sorted by instant time.
type Timeline struct {
	instants []Instant
	sizes    map[string]int64 // file name -> size, from the listing
	// metadataFolder: the listing showed .hoodie/metadata/ (a Hudi
	// metadata table, or the start of one).
	metadataFolder bool
}

// MetadataFolder is the metadata table's folder, relative to the table base.
const MetadataFolder = MetaFolder + "/metadata"

// HasMetadataFolder reports whether the listing that loaded the timeline
// showed .hoodie/metadata/: a writer compares it with the table's
// properties to notice, at no extra cost, a metadata table another writer
// created or deleted since it read them.
func (tl *Timeline) HasMetadataFolder() bool { return tl.metadataFolder }

// Load lists .hoodie/ once (delimited, so sub-folders are not walked) and
// builds the active timeline. No instant file is read.
func Load(ctx context.Context, st storage.Storage) (*Timeline, error) {
	best := map[string]Instant{} // timestamp -> highest-state instant
	sizes := map[string]int64{}
	mdt := false
	for obj, err := range st.List(ctx, MetaFolder+"/", "/") {
		if err != nil {
			return nil, fmt.Errorf("timeline: load: %w", err)
		}
		if obj.IsDir {
			if strings.TrimSuffix(obj.Path, "/") == MetadataFolder {
				mdt = true
			}
			continue
		}
		name := path.Base(obj.Path)
		inst, ok := ParseFileName(name)
		if !ok {
			continue
		}
		sizes[name] = obj.Size
		cur, seen := best[inst.Timestamp]
		if !seen || inst.State > cur.State {
			best[inst.Timestamp] = inst
		}
	}
	tl := &Timeline{sizes: sizes, metadataFolder: mdt}
	for _, inst := range best {
		tl.instants = append(tl.instants, inst)
	}
	sort.Slice(tl.instants, func(i, j int) bool { return tl.instants[i].Timestamp < tl.instants[j].Timestamp })
	return tl, nil
}

// FromInstants builds a timeline from instants (tests, filtered views).
func FromInstants(instants []Instant) *Timeline {
	tl := &Timeline{instants: append([]Instant(nil), instants...), sizes: map[string]int64{}}
	sort.Slice(tl.instants, func(i, j int) bool { return tl.instants[i].Timestamp < tl.instants[j].Timestamp })
	return tl
}

// Instants returns all instants, oldest first.
func (tl *Timeline) Instants() []Instant { return append([]Instant(nil), tl.instants...) }

// Filter returns the instants for which keep returns true, oldest first.
func (tl *Timeline) Filter(keep func(Instant) bool) []Instant {
	var out []Instant
	for _, i := range tl.instants {
		if keep(i) {
			out = append(out, i)
		}
	}
	return out
}

// Completed returns the completed instants, oldest first.
func (tl *Timeline) Completed() []Instant {
	return tl.Filter(func(i Instant) bool { return i.State == Completed })
}

// Pending returns the requested and inflight instants, oldest first.
func (tl *Timeline) Pending() []Instant {
	return tl.Filter(func(i Instant) bool { return i.State != Completed })
}

// CompletedCommits returns completed commit, deltacommit and replacecommit
// instants (compactions complete as commits), oldest first: the instants
// whose files readers see.
func (tl *Timeline) CompletedCommits() []Instant {
	return tl.Filter(func(i Instant) bool { return i.State == Completed && i.IsWriteAction() })
}

// LastCompletedCommit returns the newest completed commit/deltacommit/
// replacecommit, or ok=false.
func (tl *Timeline) LastCompletedCommit() (Instant, bool) {
	c := tl.CompletedCommits()
	if len(c) == 0 {
		return Instant{}, false
	}
	return c[len(c)-1], true
}

// PendingCompactions returns requested or inflight compaction instants.
func (tl *Timeline) PendingCompactions() []Instant {
	return tl.Filter(func(i Instant) bool { return i.State != Completed && i.Action == Compaction })
}

// Find returns the instant with timestamp ts.
func (tl *Timeline) Find(ts string) (Instant, bool) {
	i := sort.Search(len(tl.instants), func(i int) bool { return tl.instants[i].Timestamp >= ts })
	if i < len(tl.instants) && tl.instants[i].Timestamp == ts {
		return tl.instants[i], true
	}
	return Instant{}, false
}

// IsCompleted reports whether the instant at ts is completed.
func (tl *Timeline) IsCompleted(ts string) bool {
	i, ok := tl.Find(ts)
	return ok && i.State == Completed
}

// LastInstantTime returns the greatest instant time on the timeline, or "".
func (tl *Timeline) LastInstantTime() string {
	if len(tl.instants) == 0 {
		return ""
	}
	return tl.instants[len(tl.instants)-1].Timestamp
}

// FirstInstantTime returns the smallest instant time on the active timeline,
// or "". Slices based on earlier instants predate the active timeline
// (archived) and count as committed.
func (tl *Timeline) FirstInstantTime() string {
	if len(tl.instants) == 0 {
		return ""
	}
	return tl.instants[0].Timestamp
}

// Size returns the listed size of the instant's file, or -1 if unknown.
func (tl *Timeline) Size(inst Instant) int64 {
	name, err := inst.FileName()
	if err != nil {
		return -1
	}
	if s, ok := tl.sizes[name]; ok {
		return s
	}
	return -1
}

// InstantPath is the instant file's key relative to the table base.
func InstantPath(inst Instant) (string, error) {
	name, err := inst.FileName()
	if err != nil {
		return "", err
	}
	return MetaFolder + "/" + name, nil
}

// ReadInstant reads an instant file's content.
func ReadInstant(ctx context.Context, st storage.Storage, inst Instant) ([]byte, error) {
	p, err := InstantPath(inst)
	if err != nil {
		return nil, err
	}
	b, err := storage.ReadFile(ctx, st, p)
	if err != nil {
		if errors.Is(err, storage.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, inst, err)
		}
		return nil, fmt.Errorf("timeline: read %s: %w", inst, err)
	}
	return b, nil
}

// ReadCommitMetadata reads and decodes the commit metadata of a completed
// commit, deltacommit or replacecommit (or an inflight workload profile).
func ReadCommitMetadata(ctx context.Context, st storage.Storage, inst Instant) (*CommitMetadata, error) {
	b, err := ReadInstant(ctx, st, inst)
	if err != nil {
		return nil, err
	}
	m, err := ParseCommitMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("timeline: %s: %w", inst, err)
	}
	return m, nil
}

// writeInstant writes an instant file with create-if-absent.
func writeInstant(ctx context.Context, st storage.Storage, inst Instant, content []byte) error {
	p, err := InstantPath(inst)
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, st, p, content, storage.CreateOptions{IfAbsent: true}); err != nil {
		if errors.Is(err, storage.ErrExist) {
			// On S3 a conditional PUT whose response was lost is retried and
			// then reports a conflict with itself: the same content means the
			// write took effect.
			if cur, rerr := storage.ReadFile(ctx, st, p); rerr == nil && bytes.Equal(cur, content) {
				return nil
			}
			if inst.State == Completed {
				return fmt.Errorf("%w: %s", ErrAlreadyCompleted, inst)
			}
			return fmt.Errorf("%w: %s", ErrInstantExists, inst)
		}
		return fmt.Errorf("timeline: write %s: %w", inst, err)
	}
	return nil
}

// PruneClaims deletes instant-time claims older than before (archival calls
// it with the oldest instant it keeps).
func PruneClaims(ctx context.Context, st storage.Storage, before string) (int, error) {
	var stale []string
	for obj, err := range st.List(ctx, claimFolder+"/", "") {
		if err != nil {
			return 0, fmt.Errorf("timeline: prune claims: %w", err)
		}
		if ts := path.Base(obj.Path); ts < before {
			stale = append(stale, obj.Path)
		}
	}
	for _, p := range stale {
		if err := st.Delete(ctx, p); err != nil {
			return 0, fmt.Errorf("timeline: prune claims: %w", err)
		}
	}
	return len(stale), nil
}

// IsEmptyContent reports whether instant content is empty or whitespace.
func IsEmptyContent(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// String renders the timeline one instant per line.
func (tl *Timeline) String() string {
	var sb strings.Builder
	for _, i := range tl.instants {
		sb.WriteString(i.String())
		sb.WriteByte('\n')
	}
	return sb.String()
}

// IsWriterInstant reports whether inst is a write by a writer (commit,
// deltacommit, replacecommit), not a compaction, which table services
// schedule and which writers coexist with (cleans and rollbacks are not
// writes).
func (tl *Timeline) IsWriterInstant(inst Instant) bool {
	switch inst.Action {
	case Commit, DeltaCommit, ReplaceCommit:
		return !tl.IsCompaction(inst.Timestamp)
	}
	return false
}

// IsCompaction reports whether instant ts is a compaction (pending, or
// completed as a commit): its compaction.requested file is listed.
func (tl *Timeline) IsCompaction(ts string) bool {
	_, ok := tl.sizes[ts+"."+string(Compaction)+".requested"]
	if !ok {
		for _, i := range tl.instants {
			if i.Timestamp == ts {
				return i.Action == Compaction
			}
		}
	}
	return ok
}

// Compactions returns the timestamps of every compaction on the active
// timeline, pending or completed, oldest first.
func (tl *Timeline) Compactions() []string {
	var out []string
	for _, i := range tl.instants {
		if tl.IsCompaction(i.Timestamp) {
			out = append(out, i.Timestamp)
		}
	}
	return out
}
