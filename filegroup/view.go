package filegroup

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// PartitionMetadataFile marks a directory as a Hudi partition (the table
// package reads and writes it). Names starting with it (the base-file-format
// variants, e.g. ".hoodie_partition_metadata.parquet") mark one too.
const PartitionMetadataFile = ".hoodie_partition_metadata"

// View is the file-system view of a table as of one instant: its partitions
// and the file groups and slices that readers see.
//
// A slice is visible when its base instant is visible by the timeline's
// rule (Timeline.Visible as of the view's instant): a completed write
// instant (commit, deltacommit, replacecommit; a compaction completes as a
// commit) at or before the view's instant, or one that predates the active
// timeline (archived). Files of requested, inflight or rolled-back instants are
// excluded, as are file groups replaced by a completed replacecommit.
// Log files whose base instant is a pending compaction are folded into the
// previous slice, as Hudi's readers do while a compaction is pending.
// Which log blocks count (completed deltacommits only) is decided by the log
// reader from the block headers, since log file names carry the base
// instant, not the deltacommit.
type View struct {
	AsOf       string // instant the view is as of; "" when the table has no completed commit
	timeline   *timeline.Timeline
	partitions []string
	groups     map[FileGroupID]*FileGroup
	replaced   map[FileGroupID]bool
	// Hidden holds the base and log files that are not visible (of
	// instants that are not completed or are after AsOf, of replaced file
	// groups, duplicate base files), for diagnostics, log version
	// allocation and cleaning.
	Hidden []DataFile
}

// ViewOptions configure BuildView.
type ViewOptions struct {
	// AsOf is the instant to view the table as of (time travel). Default:
	// the latest completed commit.
	AsOf string
	// Partitions, when not nil, restricts the view to these partition paths
	// ("" is the table root of a non-partitioned table): one delimited LIST
	// per partition instead of a LIST of the whole table, so a writer's
	// cost does not grow with the partitions it does not touch. Listed
	// paths without partition metadata are not partitions (yet).
	Partitions []string
	// Files, when not nil, replaces the listing of storage: every
	// partition of the table and its files' names and sizes, e.g. read
	// from Hudi's metadata table (package metadata), as Spark lists a
	// table that keeps one. Partitions filters it.
	Files map[string]map[string]int64
	// Metadata, if set, keeps the commit metadata a view reads (of
	// replacecommits, and of instants with duplicate base files) for the
	// next views: a long-lived process passes one cache to every view it
	// builds, so each instant file is read once. nil reads them each time.
	Metadata *timeline.MetadataCache
}

// EnsureDefaults fills the zero values with defaults; the zero value is
// already the default view (the latest commit, every partition).
func (o *ViewOptions) EnsureDefaults() {}

// Validate checks that AsOf, when set, is an instant time.
func (o *ViewOptions) Validate() error {
	if o.AsOf != "" {
		if err := timeline.ValidateInstantTime(o.AsOf); err != nil {
			return fmt.Errorf("filegroup: view as of: %w", err)
		}
	}
	return nil
}

// BuildView builds the file-system view of the table in st against the
// timeline tl: the files visible as of opts.AsOf by the timeline's one rule
// (Timeline.Visible), sorted into slices and file groups. It lists the table
// once (every key outside .hoodie/; with opts.Partitions one delimited LIST
// per partition) and reads the commit metadata of completed replacecommits
// (and of instants with duplicate base files).
func BuildView(ctx context.Context, st storage.Storage, tl *timeline.Timeline, opts ViewOptions) (*View, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	v := &View{timeline: tl, AsOf: opts.AsOf, groups: map[FileGroupID]*FileGroup{}, replaced: map[FileGroupID]bool{}}
	if v.AsOf == "" {
		if last, ok := tl.LastCompletedCommit(); ok {
			v.AsOf = last.Timestamp
		}
	}
	if err := v.loadReplaced(ctx, st, opts.Metadata); err != nil {
		return nil, err
	}
	var l *listing
	if opts.Files != nil {
		l = listingOf(opts.Files, opts.Partitions)
	} else {
		var err error
		if l, err = listTable(ctx, st, opts.Partitions); err != nil {
			return nil, err
		}
	}
	for p := range l.partitions {
		v.partitions = append(v.partitions, p)
	}
	sort.Strings(v.partitions)
	b := newBuilder(v)
	for _, p := range v.partitions {
		for _, obj := range l.files[p] {
			b.add(p, obj)
		}
	}
	if err := v.resolveDuplicateBases(ctx, st, opts.Metadata, b.dupBases); err != nil {
		return nil, err
	}
	b.assemble()
	return v, nil
}

// loadReplaced records the file groups replaced by completed replacecommits
// up to the view's instant.
func (v *View) loadReplaced(ctx context.Context, st storage.Storage, cache *timeline.MetadataCache) error {
	for _, inst := range v.timeline.CompletedCommits() {
		if inst.Action != timeline.ReplaceCommit || inst.Timestamp > v.AsOf {
			continue
		}
		md, err := commitMetadata(ctx, st, cache, inst)
		if err != nil {
			return fmt.Errorf("filegroup: view: %w", err)
		}
		for id := range md.ReplacedFileIDs() {
			v.replaced[id] = true
		}
	}
	return nil
}

// commitMetadata reads inst's commit metadata through cache, if set.
func commitMetadata(ctx context.Context, st storage.Storage, cache *timeline.MetadataCache, inst timeline.Instant) (*timeline.CommitMetadata, error) {
	if cache != nil {
		return cache.CommitMetadata(ctx, st, inst)
	}
	return timeline.ReadCommitMetadata(ctx, st, inst)
}

// listing is what one listing of a table found: its partitions
// (directories holding partition metadata) and the files of each directory.
type listing struct {
	partitions map[string]bool
	files      map[string][]storage.ObjectInfo // directory -> its files
}

// listTable lists the whole table (partitions == nil), or each of the
// given partitions with a delimited LIST.
func listTable(ctx context.Context, st storage.Storage, partitions []string) (*listing, error) {
	l := &listing{partitions: map[string]bool{}, files: map[string][]storage.ObjectInfo{}}
	if partitions == nil {
		return l, l.list(ctx, st, "", "")
	}
	seen := map[string]bool{}
	for _, p := range partitions {
		if seen[p] {
			continue
		}
		seen[p] = true
		prefix := ""
		if p != "" {
			prefix = p + "/"
		}
		if err := l.list(ctx, st, prefix, "/"); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// listingOf is the listing of a given file list (ViewOptions.Files),
// restricted to partitions when not nil.
func listingOf(files map[string]map[string]int64, partitions []string) *listing {
	l := &listing{partitions: map[string]bool{}, files: map[string][]storage.ObjectInfo{}}
	keep := func(string) bool { return true }
	if partitions != nil {
		want := map[string]bool{}
		for _, p := range partitions {
			want[p] = true
		}
		keep = func(p string) bool { return want[p] }
	}
	for p, names := range files {
		if !keep(p) {
			continue
		}
		l.partitions[p] = true
		for name, size := range names {
			key := name
			if p != "" {
				key = p + "/" + name
			}
			l.files[p] = append(l.files[p], storage.ObjectInfo{Path: key, Size: size})
		}
		sort.Slice(l.files[p], func(i, j int) bool { return l.files[p][i].Path < l.files[p][j].Path })
	}
	return l
}

func (l *listing) list(ctx context.Context, st storage.Storage, prefix, delim string) error {
	for obj, err := range st.List(ctx, prefix, delim) {
		if err != nil {
			return fmt.Errorf("filegroup: view: %w", err)
		}
		if obj.IsDir || strings.HasPrefix(obj.Path, timeline.MetaFolder+"/") {
			continue
		}
		dir, name := path.Split(obj.Path)
		dir = strings.TrimSuffix(dir, "/")
		if strings.HasPrefix(name, PartitionMetadataFile) {
			l.partitions[dir] = true
			continue
		}
		l.files[dir] = append(l.files[dir], obj)
	}
	return nil
}

type sliceKey struct {
	id   FileGroupID
	base string
}

// builder sorts the listed files of a view into slices.
type builder struct {
	v                 *View
	visible           func(instantTime string) bool
	pendingCompaction map[string]bool
	slices            map[sliceKey]*FileSlice
	dupBases          map[*FileSlice][]DataFile // slice -> extra base-file candidates
}

func newBuilder(v *View) *builder {
	b := &builder{v: v, visible: v.timeline.Visible(v.AsOf), pendingCompaction: map[string]bool{},
		slices: map[sliceKey]*FileSlice{}, dupBases: map[*FileSlice][]DataFile{}}
	for _, i := range v.timeline.PendingCompactions() {
		b.pendingCompaction[i.Timestamp] = true
	}
	return b
}

func (b *builder) slice(id FileGroupID, base string) *FileSlice {
	k := sliceKey{id, base}
	s := b.slices[k]
	if s == nil {
		s = &FileSlice{FileGroupID: id, BaseInstant: base}
		b.slices[k] = s
	}
	return s
}

// add sorts one listed file of partition p into its slice, or into Hidden.
// Other files (not base or log files) are not part of the view.
func (b *builder) add(p string, obj storage.ObjectInfo) {
	name := path.Base(obj.Path)
	df := DataFile{Path: obj.Path, Name: name, Size: obj.Size}
	if bf, err := ParseBaseFileName(name); err == nil {
		b.addBase(p, df, bf)
		return
	}
	if lf, err := ParseLogFileName(name); err == nil && lf.Ext == ExtLog {
		b.addLog(p, df, lf)
	}
}

func (b *builder) addBase(p string, df DataFile, bf BaseFile) {
	id := FileGroupID{PartitionPath: p, FileID: bf.FileID}
	if !b.visible(bf.InstantTime) || b.v.replaced[id] {
		b.v.Hidden = append(b.v.Hidden, df)
		return
	}
	s := b.slice(id, bf.InstantTime)
	if s.Base != nil {
		b.dupBases[s] = append(b.dupBases[s], df)
		return
	}
	s.Base = &BaseFileInfo{DataFile: df, BaseFile: bf}
}

func (b *builder) addLog(p string, df DataFile, lf LogFile) {
	id := FileGroupID{PartitionPath: p, FileID: lf.FileID}
	if b.v.replaced[id] {
		b.v.Hidden = append(b.v.Hidden, df)
		return
	}
	if !b.visible(lf.BaseInstant) && !b.pendingCompaction[lf.BaseInstant] {
		// Logs on a slice whose base is not visible (a failed or later
		// write) are not part of this view.
		b.v.Hidden = append(b.v.Hidden, df)
		return
	}
	s := b.slice(id, lf.BaseInstant)
	s.Logs = append(s.Logs, LogFileInfo{DataFile: df, LogFile: lf})
}

// assemble orders each slice's logs by (version, write token) and each
// group's slices by base instant, and folds the logs of a pending
// compaction's slice into the previous slice, as Hudi's readers do while
// the compaction is pending.
func (b *builder) assemble() {
	for k, s := range b.slices {
		sort.Slice(s.Logs, func(i, j int) bool {
			a, c := s.Logs[i].LogFile, s.Logs[j].LogFile
			if a.Version != c.Version {
				return a.Version < c.Version
			}
			return a.WriteToken.String() < c.WriteToken.String()
		})
		g := b.v.groups[k.id]
		if g == nil {
			g = &FileGroup{FileGroupID: k.id}
			b.v.groups[k.id] = g
		}
		g.Slices = append(g.Slices, s)
	}
	for _, g := range b.v.groups {
		sort.Slice(g.Slices, func(i, j int) bool { return g.Slices[i].BaseInstant < g.Slices[j].BaseInstant })
		var kept []*FileSlice
		for _, s := range g.Slices {
			if b.pendingCompaction[s.BaseInstant] && s.Base == nil && len(kept) > 0 {
				prev := kept[len(kept)-1]
				prev.Logs = append(prev.Logs, s.Logs...)
				continue
			}
			kept = append(kept, s)
		}
		g.Slices = kept
	}
}

// resolveDuplicateBases handles two base files of one file group at the same
// instant (leftovers of a retried task): the one named in the instant's
// commit metadata wins; the others are hidden.
func (v *View) resolveDuplicateBases(ctx context.Context, st storage.Storage, cache *timeline.MetadataCache, dups map[*FileSlice][]DataFile) error {
	for s, extra := range dups {
		inst, ok := v.timeline.Find(s.BaseInstant)
		var want string
		if ok && inst.State == timeline.Completed {
			md, err := commitMetadata(ctx, st, cache, inst)
			if err != nil {
				return fmt.Errorf("filegroup: view: %w", err)
			}
			for _, ws := range md.PartitionToWriteStats[s.PartitionPath] {
				if ws.FileID == s.FileID && !ws.IsLog() {
					want = ws.Path
				}
			}
		}
		cands := append([]DataFile{s.Base.DataFile}, extra...)
		sort.Slice(cands, func(i, j int) bool { return cands[i].Name < cands[j].Name })
		pick := cands[len(cands)-1]
		for _, c := range cands {
			if c.Path == want {
				pick = c
			}
		}
		for _, c := range cands {
			if c.Path != pick.Path {
				v.Hidden = append(v.Hidden, c)
			}
		}
		bf, err := ParseBaseFileName(pick.Name)
		if err != nil {
			return fmt.Errorf("filegroup: view: %w", err)
		}
		s.Base = &BaseFileInfo{DataFile: pick, BaseFile: bf}
	}
	return nil
}

// Timeline is the timeline the view was built against.
func (v *View) Timeline() *timeline.Timeline { return v.timeline }

// Partitions returns the partition paths ("" for a non-partitioned table),
// sorted.
func (v *View) Partitions() []string { return append([]string(nil), v.partitions...) }

// FileGroups returns the file groups with at least one visible slice,
// sorted by partition and file ID.
func (v *View) FileGroups() []*FileGroup {
	out := make([]*FileGroup, 0, len(v.groups))
	for _, g := range v.groups {
		if len(g.Slices) > 0 {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PartitionPath != out[j].PartitionPath {
			return out[i].PartitionPath < out[j].PartitionPath
		}
		return out[i].FileID < out[j].FileID
	})
	return out
}

// FileGroup returns one file group, or nil.
func (v *View) FileGroup(id FileGroupID) *FileGroup { return v.groups[id] }

// LatestSlices returns the latest visible slice of every file group, sorted
// by partition and file ID.
func (v *View) LatestSlices() []*FileSlice {
	var out []*FileSlice
	for _, g := range v.FileGroups() {
		out = append(out, g.Latest())
	}
	return out
}

// LatestSlicesIn returns the latest slices of one partition.
func (v *View) LatestSlicesIn(partition string) []*FileSlice {
	var out []*FileSlice
	for _, s := range v.LatestSlices() {
		if s.PartitionPath == partition {
			out = append(out, s)
		}
	}
	return out
}

// LatestBaseFiles returns the base files of the latest slices (the
// read-optimized view), sorted.
func (v *View) LatestBaseFiles() []BaseFileInfo {
	var out []BaseFileInfo
	for _, s := range v.LatestSlices() {
		if s.Base != nil {
			out = append(out, *s.Base)
		}
	}
	return out
}
