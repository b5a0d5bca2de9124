package table

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// PartitionMetadataFile marks a directory as a Hudi partition.
const partitionMetaPrefix = ".hoodie_partition_metadata"

// FileGroupID names a file group: partition path and file ID.
type FileGroupID = timeline.FileGroupID

// DataFile is one listed base or log file.
type DataFile struct {
	Path string // key relative to the table base, "<partition>/<name>" or "<name>"
	Name string
	Size int64
}

// BaseFileInfo is a listed base file.
type BaseFileInfo struct {
	DataFile
	BaseFile
}

// LogFileInfo is a listed log file.
type LogFileInfo struct {
	DataFile
	LogFile
}

// FileSlice is a base file at instant BaseInstant plus the log files written
// against it, logs ordered by (version, write token).
type FileSlice struct {
	FileGroupID
	BaseInstant string
	Base        *BaseFileInfo // nil for a log-only slice
	Logs        []LogFileInfo
}

// Size is the total size of the slice's files.
func (s *FileSlice) Size() int64 {
	var n int64
	if s.Base != nil {
		n = s.Base.Size
	}
	for _, l := range s.Logs {
		n += l.Size
	}
	return n
}

// FileGroup is every visible slice of one file group, oldest first.
type FileGroup struct {
	FileGroupID
	Slices []*FileSlice
}

// Latest returns the newest slice, or nil.
func (g *FileGroup) Latest() *FileSlice {
	if len(g.Slices) == 0 {
		return nil
	}
	return g.Slices[len(g.Slices)-1]
}

// View is the file-system view of a table as of one instant: its partitions
// and the file groups and slices that readers see.
//
// A slice is visible when its base instant is a completed write instant
// (commit, deltacommit, replacecommit; a compaction completes as a commit)
// at or before the view's instant, or predates the active timeline
// (archived). Files of requested, inflight or rolled-back instants are
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
	// Pending holds files of instants that are not visible (uncompleted or
	// after AsOf), for diagnostics and rollback.
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
}

// BuildView lists the table once (every key outside .hoodie/) and builds
// the file-system view against the timeline tl.
func BuildView(ctx context.Context, st storage.Storage, tl *timeline.Timeline, opts ViewOptions) (*View, error) {
	v := &View{timeline: tl, groups: map[FileGroupID]*FileGroup{}, replaced: map[FileGroupID]bool{}}
	if opts.AsOf != "" {
		if err := timeline.ValidateInstantTime(opts.AsOf); err != nil {
			return nil, fmt.Errorf("table: view as of: %w", err)
		}
		v.AsOf = opts.AsOf
	} else if last, ok := tl.LastCompletedCommit(); ok {
		v.AsOf = last.Timestamp
	}

	// Replaced file groups from completed replacecommits up to AsOf.
	for _, inst := range tl.CompletedCommits() {
		if inst.Action != timeline.ReplaceCommit || inst.Timestamp > v.AsOf {
			continue
		}
		md, err := timeline.ReadCommitMetadata(ctx, st, inst)
		if err != nil {
			return nil, fmt.Errorf("table: view: %w", err)
		}
		for id := range md.ReplacedFileIDs() {
			v.replaced[id] = true
		}
	}

	partSet := map[string]bool{}
	byDir := map[string][]storage.ObjectInfo{}
	add := func(obj storage.ObjectInfo) {
		if obj.IsDir || strings.HasPrefix(obj.Path, timeline.MetaFolder+"/") {
			return
		}
		dir, name := path.Split(obj.Path)
		dir = strings.TrimSuffix(dir, "/")
		if strings.HasPrefix(name, partitionMetaPrefix) {
			partSet[dir] = true
			return
		}
		byDir[dir] = append(byDir[dir], obj)
	}
	if opts.Partitions == nil {
		for obj, err := range st.List(ctx, "", "") {
			if err != nil {
				return nil, fmt.Errorf("table: view: %w", err)
			}
			add(obj)
		}
	} else {
		seen := map[string]bool{}
		for _, p := range opts.Partitions {
			if seen[p] {
				continue
			}
			seen[p] = true
			prefix := ""
			if p != "" {
				prefix = p + "/"
			}
			for obj, err := range st.List(ctx, prefix, "/") {
				if err != nil {
					return nil, fmt.Errorf("table: view: %w", err)
				}
				add(obj)
			}
		}
	}
	for p := range partSet {
		v.partitions = append(v.partitions, p)
	}
	sort.Strings(v.partitions)

	first := tl.FirstInstantTime()
	visible := func(instant string) bool {
		if v.AsOf == "" || instant > v.AsOf {
			return false
		}
		if first == "" || instant < first {
			return true // archived
		}
		i, ok := tl.Find(instant)
		return ok && i.State == timeline.Completed && i.IsWriteAction()
	}
	pendingCompaction := map[string]bool{}
	for _, i := range tl.PendingCompactions() {
		pendingCompaction[i.Timestamp] = true
	}

	type sliceKey struct {
		id   FileGroupID
		base string
	}
	slices := map[sliceKey]*FileSlice{}
	getSlice := func(id FileGroupID, base string) *FileSlice {
		k := sliceKey{id, base}
		s := slices[k]
		if s == nil {
			s = &FileSlice{FileGroupID: id, BaseInstant: base}
			slices[k] = s
		}
		return s
	}
	dupBases := map[*FileSlice][]DataFile{} // slice -> extra base-file candidates
	for _, p := range v.partitions {
		for _, obj := range byDir[p] {
			name := path.Base(obj.Path)
			df := DataFile{Path: obj.Path, Name: name, Size: obj.Size}
			if bf, err := ParseBaseFileName(name); err == nil {
				id := FileGroupID{PartitionPath: p, FileID: bf.FileID}
				if !visible(bf.InstantTime) || v.replaced[id] {
					v.Hidden = append(v.Hidden, df)
					continue
				}
				s := getSlice(id, bf.InstantTime)
				if s.Base != nil {
					dupBases[s] = append(dupBases[s], df)
					continue
				}
				s.Base = &BaseFileInfo{DataFile: df, BaseFile: bf}
				continue
			}
			if lf, err := ParseLogFileName(name); err == nil && lf.Ext == "log" {
				id := FileGroupID{PartitionPath: p, FileID: lf.FileID}
				if v.replaced[id] {
					v.Hidden = append(v.Hidden, df)
					continue
				}
				base := lf.BaseInstant
				if !visible(base) && !pendingCompaction[base] {
					// Logs on a slice whose base is not visible (a failed or
					// later write) are not part of this view.
					v.Hidden = append(v.Hidden, df)
					continue
				}
				s := getSlice(id, base)
				s.Logs = append(s.Logs, LogFileInfo{DataFile: df, LogFile: lf})
			}
		}
	}
	if err := v.resolveDuplicateBases(ctx, st, dupBases); err != nil {
		return nil, err
	}

	for k, s := range slices {
		sort.Slice(s.Logs, func(i, j int) bool {
			a, b := s.Logs[i].LogFile, s.Logs[j].LogFile
			if a.Version != b.Version {
				return a.Version < b.Version
			}
			return a.WriteToken.String() < b.WriteToken.String()
		})
		g := v.groups[k.id]
		if g == nil {
			g = &FileGroup{FileGroupID: k.id}
			v.groups[k.id] = g
		}
		g.Slices = append(g.Slices, s)
	}
	for _, g := range v.groups {
		sort.Slice(g.Slices, func(i, j int) bool { return g.Slices[i].BaseInstant < g.Slices[j].BaseInstant })
		// Fold logs of a pending compaction's slice into the previous slice.
		var kept []*FileSlice
		for _, s := range g.Slices {
			if pendingCompaction[s.BaseInstant] && s.Base == nil && len(kept) > 0 {
				prev := kept[len(kept)-1]
				prev.Logs = append(prev.Logs, s.Logs...)
				continue
			}
			kept = append(kept, s)
		}
		g.Slices = kept
	}
	return v, nil
}

// resolveDuplicateBases handles two base files of one file group at the same
// instant (leftovers of a retried task): the one named in the instant's
// commit metadata wins; the others are hidden.
func (v *View) resolveDuplicateBases(ctx context.Context, st storage.Storage, dups map[*FileSlice][]DataFile) error {
	for s, extra := range dups {
		inst, ok := v.timeline.Find(s.BaseInstant)
		var want string
		if ok && inst.State == timeline.Completed {
			md, err := timeline.ReadCommitMetadata(ctx, st, inst)
			if err != nil {
				return fmt.Errorf("table: view: %w", err)
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
			return fmt.Errorf("table: view: %w", err)
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
