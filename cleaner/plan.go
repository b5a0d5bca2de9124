package cleaner

import (
	"path"
	"strings"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Clean planning is a pure function of the gathered inputs (gatherClean):
// no context, no storage. earliestCommitToRetain fixes the retention
// boundary, protect what pending compactions and savepoints pin,
// expiredByCommits and expiredByVersions the slices of each file group
// that go, and replacedFiles the files of replaced file groups.

// planned is a clean plan with the sizes of its files.
type planned struct {
	plan  *avroplan.HoodieCleanerPlan
	ectr  string
	keys  []string // in plan order
	sizes map[string]int64
}

func (p *planned) empty() bool { return p == nil || len(p.keys) == 0 }

// earliestCommitToRetain is the retention boundary of a clean of tl under
// opts. Under KeepLatestCommits it is the CommitsRetained-th newest
// completed commit, but never later than the last completed commit before
// the earliest pending write; ok is false when there are not more commits
// than retained, or no completed commit precedes that pending write. Under
// KeepLatestFileVersions there is no boundary (nil), and ok is false only on
// a timeline without completed commits.
func earliestCommitToRetain(tl *timeline.Timeline, opts Options) (ectr *timeline.Instant, ok bool) {
	commits := tl.CompletedCommits()
	if len(commits) == 0 {
		return nil, false
	}
	if opts.Policy != KeepLatestCommits {
		return nil, true
	}
	if len(commits) <= opts.CommitsRetained {
		return nil, false
	}
	e := commits[len(commits)-opts.CommitsRetained]
	for _, p := range tl.Pending() {
		if !p.IsWriteAction() {
			continue
		}
		if p.Timestamp < e.Timestamp {
			found := false
			for i := len(commits) - 1; i >= 0; i-- {
				if commits[i].Timestamp < p.Timestamp {
					e, found = commits[i], true
					break
				}
			}
			if !found {
				return nil, false
			}
		}
		break // the earliest pending write only
	}
	return &e, true
}

// planClean computes the clean plan of the gathered inputs under opts (see
// the package documentation for what is kept); nil when nothing is to be
// deleted. It does no I/O.
func planClean(in *cleanInputs, opts Options) *planned {
	if in == nil {
		return nil
	}
	ectr, ok := earliestCommitToRetain(in.tl, opts)
	if !ok {
		return nil
	}
	prot := protect(in)
	b := &planBuilder{prot: prot, fullPath: in.fullPath,
		p: &planned{sizes: map[string]int64{}}, perPart: map[string][]avroplan.HoodieCleanFileInfo{}}
	for _, g := range in.groups {
		var expired []*filegroup.FileSlice
		switch opts.Policy {
		case KeepLatestCommits:
			expired = expiredByCommits(g, ectr.Timestamp, prot)
		case KeepLatestFileVersions:
			expired = expiredByVersions(g, opts.FileVersionsRetained, prot)
		}
		for _, s := range expired {
			b.addSlice(s)
		}
	}
	logs, bases := replacedFiles(in, ectr, prot)
	for _, df := range append(logs, bases...) {
		b.add(df)
	}
	if len(b.p.keys) == 0 {
		return nil
	}
	last := in.tl.CompletedCommits()
	return b.finish(last[len(last)-1].Timestamp, ectr, opts.Policy)
}

// expiredByCommits returns the slices of g that KeepLatestCommits deletes,
// oldest first: every slice before ectr except the newest one before it
// (what a reader as of ectr sees), never the latest slice, never a
// protected one.
func expiredByCommits(g *filegroup.FileGroup, ectr string, prot *protected) []*filegroup.FileSlice {
	slices := g.Slices
	if len(slices) < 2 {
		return nil
	}
	keepBefore := ""
	for i := len(slices) - 1; i >= 0; i-- {
		if slices[i].BaseInstant < ectr {
			keepBefore = slices[i].BaseInstant
			break
		}
	}
	var out []*filegroup.FileSlice
	for _, s := range slices[:len(slices)-1] { // the latest slice always stays
		if s.BaseInstant >= ectr || s.BaseInstant == keepBefore || prot.slice(s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// expiredByVersions returns the slices of g that KeepLatestFileVersions
// deletes, newest first: all but the newest retained unprotected slices (a
// pending compaction's slice counts as one version kept), never the latest
// slice, never a protected one.
func expiredByVersions(g *filegroup.FileGroup, retained int, prot *protected) []*filegroup.FileSlice {
	slices := g.Slices
	if len(slices) < 2 {
		return nil
	}
	keep := retained
	if prot.groups[g.FileGroupID] {
		keep-- // the pending compaction's slice counts as a version kept
	}
	keep = max(keep, 1) // the latest slice
	kept := 0
	var out []*filegroup.FileSlice
	for i := len(slices) - 1; i >= 0; i-- {
		s := slices[i]
		if prot.slice(s) {
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		out = append(out, s)
	}
	return out
}

// replacedFiles returns the hidden log and base files of file groups
// replaced before ectr (any replacement when ectr is nil) whose slices
// belong to completed instants and are not protected. The logs go first,
// so that a crash never leaves log files without their base file.
func replacedFiles(in *cleanInputs, ectr *timeline.Instant, prot *protected) (logs, bases []filegroup.DataFile) {
	if len(in.replaced) == 0 {
		return nil, nil
	}
	replaced := func(id filegroup.FileGroupID) bool {
		ts, ok := in.replaced[id]
		return ok && (ectr == nil || ts < ectr.Timestamp)
	}
	done := in.tl.Visible("")
	for _, df := range in.hidden {
		dir, name := path.Split(df.Path)
		part := strings.TrimSuffix(dir, "/")
		if bf, err := filegroup.ParseBaseFileName(name); err == nil {
			id := filegroup.FileGroupID{PartitionPath: part, FileID: bf.FileID}
			if replaced(id) && done(bf.InstantTime) && !prot.slices[sliceKey{id, bf.InstantTime}] {
				bases = append(bases, df)
			}
			continue
		}
		if lf, err := filegroup.ParseLogFileName(name); err == nil && lf.Ext == filegroup.ExtLog {
			id := filegroup.FileGroupID{PartitionPath: part, FileID: lf.FileID}
			if replaced(id) && done(lf.BaseInstant) && !prot.slices[sliceKey{id, lf.BaseInstant}] {
				logs = append(logs, df)
			}
		}
	}
	return logs, bases
}

// planBuilder collects the files of a plan, per partition, in order.
type planBuilder struct {
	prot     *protected
	fullPath func(key string) string
	p        *planned
	perPart  map[string][]avroplan.HoodieCleanFileInfo
}

// add plans one file unless it is protected or planned already.
func (b *planBuilder) add(df filegroup.DataFile) {
	if b.prot.files[df.Path] {
		return
	}
	if _, dup := b.p.sizes[df.Path]; dup {
		return
	}
	b.p.sizes[df.Path] = df.Size
	b.p.keys = append(b.p.keys, df.Path)
	full := b.fullPath(df.Path)
	no := false
	dir, _ := path.Split(df.Path)
	part := strings.TrimSuffix(dir, "/")
	b.perPart[part] = append(b.perPart[part], avroplan.HoodieCleanFileInfo{FilePath: &full, IsBootstrapBaseFile: &no})
}

// addSlice plans a slice's log files first, then its base file, so that a
// crash in between never leaves log files without their base file (which
// hudi-rs rejects).
func (b *planBuilder) addSlice(s *filegroup.FileSlice) {
	for _, l := range s.Logs {
		b.add(l.DataFile)
	}
	if s.Base != nil {
		b.add(s.Base.DataFile)
	}
}

// finish wraps the collected files into a version 2 HoodieCleanerPlan.
func (b *planBuilder) finish(lastCommit string, ectr *timeline.Instant, policy Policy) *planned {
	version := avroplan.CleanerPlanVersion
	b.p.plan = &avroplan.HoodieCleanerPlan{
		LastCompletedCommitTimestamp:     lastCommit,
		Policy:                           policy.String(),
		FilesToBeDeletedPerPartition:     &map[string][]string{},
		Version:                          &version,
		FilePathsToBeDeletedPerPartition: &b.perPart,
		PartitionsToBeDeleted:            []string{},
	}
	if ectr != nil {
		b.p.ectr = ectr.Timestamp
		b.p.plan.EarliestInstantToRetain = &avroplan.HoodieActionInstant{
			Timestamp: ectr.Timestamp, Action: string(ectr.Action), State: ectr.State.String(),
		}
	}
	return b.p
}

type sliceKey struct {
	id   filegroup.FileGroupID
	base string
}

// protected is what pending compactions and savepoints pin.
type protected struct {
	slices map[sliceKey]bool
	groups map[filegroup.FileGroupID]bool
	files  map[string]bool // keys
}

// slice reports whether a slice, or any of its files, is pinned.
func (p *protected) slice(s *filegroup.FileSlice) bool {
	if p.slices[sliceKey{s.FileGroupID, s.BaseInstant}] {
		return true
	}
	if s.Base != nil && p.files[s.Base.Path] {
		return true
	}
	for _, l := range s.Logs {
		if p.files[l.Path] || p.slices[sliceKey{s.FileGroupID, l.BaseInstant}] {
			return true
		}
	}
	return false
}

// protect collects what the pending compaction plans pin (the slice each
// operation compacts, the new slice it starts, its base and log files) and
// the files of the completed savepoints.
func protect(in *cleanInputs) *protected {
	p := &protected{slices: map[sliceKey]bool{}, groups: map[filegroup.FileGroupID]bool{}, files: map[string]bool{}}
	for _, c := range in.compactions {
		for _, op := range c.plan.Operations {
			if op.FileID == nil {
				continue
			}
			part := ""
			if op.PartitionPath != nil {
				part = *op.PartitionPath
			}
			id := filegroup.FileGroupID{PartitionPath: part, FileID: *op.FileID}
			p.groups[id] = true
			p.slices[sliceKey{id, c.instant}] = true
			if op.BaseInstantTime != nil {
				p.slices[sliceKey{id, *op.BaseInstantTime}] = true
			}
			if op.DataFilePath != nil && *op.DataFilePath != "" {
				p.files[filegroup.DataPath(part, path.Base(*op.DataFilePath))] = true
			}
			for _, d := range op.DeltaFilePaths {
				p.files[filegroup.DataPath(part, path.Base(d))] = true
			}
		}
	}
	for _, md := range in.savepoints {
		for part, pm := range md.PartitionMetadata {
			for _, f := range pm.SavepointDataFile {
				p.files[filegroup.DataPath(part, path.Base(f))] = true
			}
		}
	}
	return p
}
