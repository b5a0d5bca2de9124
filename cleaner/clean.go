package cleaner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Policy is a cleaning policy, Hudi's hoodie.cleaner.policy.
type Policy int

// Cleaning policies.
const (
	// KeepLatestCommits keeps what readers of the last CommitsRetained
	// commits need (KEEP_LATEST_COMMITS).
	KeepLatestCommits Policy = iota
	// KeepLatestFileVersions keeps the newest FileVersionsRetained slices
	// of every file group (KEEP_LATEST_FILE_VERSIONS).
	KeepLatestFileVersions
)

// String is the policy as Hudi spells it in plans and metadata.
func (p Policy) String() string {
	switch p {
	case KeepLatestCommits:
		return "KEEP_LATEST_COMMITS"
	case KeepLatestFileVersions:
		return "KEEP_LATEST_FILE_VERSIONS"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Defaults of Options, as Hudi's hoodie.cleaner.commits.retained and
// hoodie.cleaner.fileversions.retained.
const (
	DefaultCommitsRetained      = 10
	DefaultFileVersionsRetained = 3
)

// Options configure Clean. The zero value cleans with KeepLatestCommits
// retaining 10 commits.
type Options struct {
	// Policy picks which slices go. Default KeepLatestCommits.
	Policy Policy
	// CommitsRetained is the number of newest completed commits whose
	// readers keep working (KeepLatestCommits). Default 10; at least 1.
	CommitsRetained int
	// FileVersionsRetained is the number of slices kept per file group
	// (KeepLatestFileVersions). Default 3; at least 1.
	FileVersionsRetained int
	// DryRun plans the clean and reports it without writing or deleting
	// anything (and without finishing interrupted cleans).
	DryRun bool
}

func (o Options) withDefaults() (Options, error) {
	if o.CommitsRetained == 0 {
		o.CommitsRetained = DefaultCommitsRetained
	}
	if o.FileVersionsRetained == 0 {
		o.FileVersionsRetained = DefaultFileVersionsRetained
	}
	switch {
	case o.Policy != KeepLatestCommits && o.Policy != KeepLatestFileVersions:
		return o, fmt.Errorf("cleaner: unknown policy %v", o.Policy)
	case o.CommitsRetained < 1:
		return o, fmt.Errorf("cleaner: CommitsRetained %d: want at least 1", o.CommitsRetained)
	case o.FileVersionsRetained < 1:
		return o, fmt.Errorf("cleaner: FileVersionsRetained %d: want at least 1", o.FileVersionsRetained)
	}
	return o, nil
}

// Result reports a Clean.
type Result struct {
	// Instant is the completed clean instant; zero when nothing was to be
	// cleaned or on a dry run.
	Instant timeline.Instant
	// EarliestCommitToRetain is the plan's ECTR ("" under
	// KeepLatestFileVersions or when there was nothing to plan).
	EarliestCommitToRetain string
	// Plan is the new clean's plan (on a dry run: the plan that would be
	// written); nil when there was nothing to clean.
	Plan *avroplan.HoodieCleanerPlan
	// Deleted are the keys (relative to the table base) deleted, including
	// those of resumed cleans; on a dry run the keys that would be.
	Deleted []string
	// Bytes is the total size of Deleted.
	Bytes int64
	// Failed are planned files that were already gone or lie outside the
	// table (Hudi's failedDeleteFiles), as full paths.
	Failed []string
	// Resumed are interrupted cleans that were finished first.
	Resumed []timeline.Instant
}

// planned is a clean plan with the sizes of its files.
type planned struct {
	plan  *avroplan.HoodieCleanerPlan
	ectr  string
	keys  []string // in plan order
	sizes map[string]int64
}

func (p *planned) empty() bool { return p == nil || len(p.keys) == 0 }

// Clean finishes any interrupted clean, then plans and runs a new one
// under opts. See the package documentation for what is kept.
func Clean(ctx context.Context, tbl *table.Table, opts Options) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	st := tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("cleaner: %w", err)
	}
	res := &Result{}
	if !opts.DryRun {
		resumed := false
		for _, inst := range tl.Pending() {
			if inst.Action != timeline.Clean {
				continue
			}
			if err := resume(ctx, st, inst, res); err != nil {
				return res, err
			}
			res.Resumed = append(res.Resumed, inst)
			resumed = true
		}
		if resumed {
			if tl, err = timeline.Load(ctx, st); err != nil {
				return res, fmt.Errorf("cleaner: %w", err)
			}
		}
	}

	for range 5 {
		p, err := plan(ctx, st, tl, opts)
		if err != nil {
			return res, err
		}
		if p.empty() {
			return res, nil
		}
		res.Plan, res.EarliestCommitToRetain = p.plan, p.ectr
		if opts.DryRun {
			res.Deleted = append(res.Deleted, p.keys...)
			for _, k := range p.keys {
				res.Bytes += p.sizes[k]
			}
			return res, nil
		}
		var buf bytes.Buffer
		if err := avroplan.Encode(&buf, p.plan); err != nil {
			return res, fmt.Errorf("cleaner: %w", err)
		}
		tx, err := timeline.Begin(ctx, st, timeline.Clean, buf.Bytes(), timeline.BeginOptions{})
		if err != nil {
			return res, fmt.Errorf("cleaner: schedule clean: %w", err)
		}
		inst := tx.Instant()
		ok, tl2, err := stillSafe(ctx, st, tl, inst, p, opts)
		if err != nil {
			return res, err
		}
		if !ok {
			// Another process scheduled work our plan could hurt: withdraw
			// the plan (nothing was deleted yet) and plan again.
			if err := tx.Abort(ctx); err != nil {
				return res, fmt.Errorf("cleaner: withdraw %s: %w", inst, err)
			}
			tl = tl2
			continue
		}
		if err := execute(ctx, tx, st, p.plan, buf.Bytes(), time.Now(), res); err != nil {
			return res, err
		}
		res.Instant = inst.WithState(timeline.Completed)
		return res, nil
	}
	return res, errors.New("cleaner: pending instants kept changing while planning; try again")
}

// stillSafe re-checks a plan after its instant was claimed: if the pending
// instants other than the clean itself changed since tl was loaded (a
// compaction or write scheduled by another process meanwhile), the plan is
// recomputed and must still delete every planned file.
func stillSafe(ctx context.Context, st storage.Storage, tl *timeline.Timeline, inst timeline.Instant, p *planned, opts Options) (bool, *timeline.Timeline, error) {
	tl2, err := timeline.Load(ctx, st)
	if err != nil {
		return false, nil, fmt.Errorf("cleaner: %w", err)
	}
	pendingSet := func(t *timeline.Timeline) map[string]bool {
		m := map[string]bool{}
		for _, i := range t.Pending() {
			if i.Timestamp != inst.Timestamp && i.Action != timeline.Clean {
				m[i.Timestamp] = true
			}
		}
		return m
	}
	before, after := pendingSet(tl), pendingSet(tl2)
	changed := len(before) != len(after)
	for ts := range after {
		if !before[ts] {
			changed = true
		}
	}
	if !changed {
		return true, tl2, nil
	}
	// Plan again against the new timeline (our own pending clean plays no
	// part in planning).
	p2, err := plan(ctx, st, tl2, opts)
	if err != nil {
		return false, nil, err
	}
	still := map[string]bool{}
	if p2 != nil {
		for _, k := range p2.keys {
			still[k] = true
		}
	}
	for _, k := range p.keys {
		if !still[k] {
			return false, tl2, nil
		}
	}
	return true, tl2, nil
}

// resume finishes an interrupted clean from its stored plan.
func resume(ctx context.Context, st storage.Storage, inst timeline.Instant, res *Result) error {
	req := inst
	req.State = timeline.Requested
	b, err := timeline.ReadInstant(ctx, st, req)
	if errors.Is(err, timeline.ErrNotFound) && inst.State == timeline.Inflight {
		b, err = timeline.ReadInstant(ctx, st, inst)
	}
	if err != nil {
		return fmt.Errorf("cleaner: resume %s: %w", inst, err)
	}
	plan := &avroplan.HoodieCleanerPlan{}
	if err := avroplan.Decode(bytes.NewReader(b), plan); err != nil {
		return fmt.Errorf("cleaner: resume %s: %w", inst, err)
	}
	start := time.Now()
	if t, err := timeline.ParseInstantTime(inst.Timestamp); err == nil {
		start = t
	}
	tx, err := timeline.Resume(st, inst)
	if err != nil {
		return fmt.Errorf("cleaner: resume %s: %w", inst, err)
	}
	return execute(ctx, tx, st, plan, b, start, res)
}

// execute moves a clean to inflight, deletes its files and completes it.
func execute(ctx context.Context, tx *timeline.Txn, st storage.Storage, plan *avroplan.HoodieCleanerPlan, planBytes []byte, start time.Time, res *Result) error {
	if tx.Instant().State == timeline.Requested {
		// ErrInstantExists: another cleaner got there; inflight all the same.
		if err := tx.Inflight(ctx, planBytes); err != nil && !errors.Is(err, timeline.ErrInstantExists) {
			return fmt.Errorf("cleaner: %w", err)
		}
	}
	inst := tx.Instant()
	parts := map[string]*avroplan.HoodieCleanPartitionMetadata{}
	partMD := func(p string) *avroplan.HoodieCleanPartitionMetadata {
		m := parts[p]
		if m == nil {
			m = &avroplan.HoodieCleanPartitionMetadata{PartitionPath: p, Policy: plan.Policy,
				DeletePathPatterns: []string{}, SuccessDeleteFiles: []string{}, FailedDeleteFiles: []string{}}
			no := false
			m.IsPartitionDeleted = &no
			parts[p] = m
		}
		return m
	}
	var total int32
	for _, f := range planFiles(st, plan) {
		m := partMD(f.partition)
		name := path.Base(f.full)
		m.DeletePathPatterns = append(m.DeletePathPatterns, name)
		if f.key == "" {
			m.FailedDeleteFiles = append(m.FailedDeleteFiles, name)
			res.Failed = append(res.Failed, f.full)
			continue
		}
		info, err := st.Stat(ctx, f.key)
		if errors.Is(err, storage.ErrNotExist) {
			// Deleted by an earlier attempt: Hudi reports it as failed too.
			m.FailedDeleteFiles = append(m.FailedDeleteFiles, name)
			res.Failed = append(res.Failed, f.full)
			continue
		}
		if err != nil {
			return fmt.Errorf("cleaner: %s: %w", inst, err)
		}
		if err := st.Delete(ctx, f.key); err != nil {
			return fmt.Errorf("cleaner: %s: delete %s: %w", inst, f.key, err)
		}
		m.SuccessDeleteFiles = append(m.SuccessDeleteFiles, name)
		res.Deleted = append(res.Deleted, f.key)
		res.Bytes += info.Size
		total++
	}
	ectr := ""
	if plan.EarliestInstantToRetain != nil {
		ectr = plan.EarliestInstantToRetain.Timestamp
	}
	version := avroplan.CleanMetadataVersion
	md := &avroplan.HoodieCleanMetadata{
		StartCleanTime:               inst.Timestamp,
		TimeTakenInMillis:            time.Since(start).Milliseconds(),
		TotalFilesDeleted:            total,
		EarliestCommitToRetain:       ectr,
		LastCompletedCommitTimestamp: plan.LastCompletedCommitTimestamp,
		PartitionMetadata:            map[string]avroplan.HoodieCleanPartitionMetadata{},
		Version:                      &version,
		BootstrapPartitionMetadata:   &map[string]avroplan.HoodieCleanPartitionMetadata{},
	}
	for p, m := range parts {
		md.PartitionMetadata[p] = *m
	}
	var buf bytes.Buffer
	if err := avroplan.Encode(&buf, md); err != nil {
		return fmt.Errorf("cleaner: %w", err)
	}
	if err := tx.Complete(ctx, buf.Bytes()); err != nil {
		if errors.Is(err, timeline.ErrAlreadyCompleted) {
			return nil // another cleaner finished the same plan
		}
		return fmt.Errorf("cleaner: %w", err)
	}
	return nil
}

type planFile struct {
	partition string
	full      string // as in the plan
	key       string // "" when outside the table
}

// planFiles lists a plan's files in plan order (partitions sorted): version
// 2 full paths, or version 1 file names.
func planFiles(st storage.Storage, plan *avroplan.HoodieCleanerPlan) []planFile {
	var out []planFile
	if plan.FilePathsToBeDeletedPerPartition != nil && len(*plan.FilePathsToBeDeletedPerPartition) > 0 {
		m := *plan.FilePathsToBeDeletedPerPartition
		for _, p := range sortedKeys(m) {
			for _, fi := range m[p] {
				if fi.FilePath == nil {
					continue
				}
				k, ok := storage.KeyOf(st, *fi.FilePath)
				if !ok || k == "" || isMetaKey(k) {
					k = ""
				}
				out = append(out, planFile{partition: p, full: *fi.FilePath, key: k})
			}
		}
		return out
	}
	if plan.FilesToBeDeletedPerPartition != nil {
		m := *plan.FilesToBeDeletedPerPartition
		for _, p := range sortedKeys(m) {
			for _, name := range m[p] {
				k := name
				if p != "" {
					k = p + "/" + name
				}
				out = append(out, planFile{partition: p, full: k, key: k})
			}
		}
	}
	return out
}

// isMetaKey reports whether a key lies in .hoodie/: a plan never deletes
// timeline files.
func isMetaKey(k string) bool {
	return k == timeline.MetaFolder || len(k) > len(timeline.MetaFolder) && k[:len(timeline.MetaFolder)+1] == timeline.MetaFolder+"/"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// plan computes a new clean plan from tl (nil when nothing is to be deleted).
func plan(ctx context.Context, st storage.Storage, tl *timeline.Timeline, opts Options) (*planned, error) {
	commits := tl.CompletedCommits()
	if len(commits) == 0 {
		return nil, nil
	}
	last := commits[len(commits)-1]
	var ectr *timeline.Instant
	if opts.Policy == KeepLatestCommits {
		if len(commits) <= opts.CommitsRetained {
			return nil, nil
		}
		e := commits[len(commits)-opts.CommitsRetained]
		// Never past the last completed commit before the earliest pending
		// write.
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
					return nil, nil
				}
			}
			break
		}
		ectr = &e
	}

	view, err := table.BuildView(ctx, st, tl, table.ViewOptions{})
	if err != nil {
		return nil, fmt.Errorf("cleaner: plan: %w", err)
	}
	prot, err := protection(ctx, st, tl)
	if err != nil {
		return nil, err
	}

	p := &planned{sizes: map[string]int64{}}
	perPart := map[string][]avroplan.HoodieCleanFileInfo{}
	add := func(part string, df table.DataFile) {
		if prot.files[df.Path] {
			return
		}
		if _, dup := p.sizes[df.Path]; dup {
			return
		}
		p.sizes[df.Path] = df.Size
		p.keys = append(p.keys, df.Path)
		full := storage.FullPath(st, df.Path)
		no := false
		perPart[part] = append(perPart[part], avroplan.HoodieCleanFileInfo{FilePath: &full, IsBootstrapBaseFile: &no})
	}
	// deleteSlice deletes logs first, then the base file, so that a crash
	// in between never leaves log files without their base file (which
	// hudi-rs rejects).
	deleteSlice := func(s *table.FileSlice) {
		for _, l := range s.Logs {
			add(s.PartitionPath, l.DataFile)
		}
		if s.Base != nil {
			add(s.PartitionPath, s.Base.DataFile)
		}
	}

	for _, g := range view.FileGroups() {
		slices := g.Slices
		if len(slices) < 2 {
			continue
		}
		older := slices[:len(slices)-1] // the latest slice always stays
		switch opts.Policy {
		case KeepLatestCommits:
			keepBefore := ""
			for i := len(slices) - 1; i >= 0; i-- {
				if slices[i].BaseInstant < ectr.Timestamp {
					keepBefore = slices[i].BaseInstant
					break
				}
			}
			for _, s := range older {
				if s.BaseInstant >= ectr.Timestamp || s.BaseInstant == keepBefore || prot.slice(s) {
					continue
				}
				deleteSlice(s)
			}
		case KeepLatestFileVersions:
			keep := opts.FileVersionsRetained
			if prot.groups[g.FileGroupID] {
				keep-- // the pending compaction's slice counts as a version kept
			}
			keep = max(keep, 1) // the latest slice
			kept := 0
			for i := len(slices) - 1; i >= 0; i-- {
				s := slices[i]
				if prot.slice(s) {
					continue
				}
				if kept < keep {
					kept++
					continue
				}
				deleteSlice(s)
			}
		}
	}

	// File groups replaced by a completed replacecommit (before ECTR) go
	// whole, as long as their files belong to completed instants.
	replaced := map[table.FileGroupID]bool{}
	for _, inst := range tl.CompletedCommits() {
		if inst.Action != timeline.ReplaceCommit || (ectr != nil && inst.Timestamp >= ectr.Timestamp) {
			continue
		}
		md, err := timeline.ReadCommitMetadata(ctx, st, inst)
		if err != nil {
			return nil, fmt.Errorf("cleaner: plan: %w", err)
		}
		for id := range md.ReplacedFileIDs() {
			replaced[id] = true
		}
	}
	if len(replaced) > 0 {
		done := tl.Visible("")
		var logs, bases []table.DataFile
		var parts []string
		for _, df := range view.Hidden {
			part, name := path.Split(df.Path)
			part = trimSlash(part)
			if bf, err := table.ParseBaseFileName(name); err == nil {
				id := table.FileGroupID{PartitionPath: part, FileID: bf.FileID}
				if replaced[id] && done(bf.InstantTime) && !prot.slices[sliceKey{id, bf.InstantTime}] {
					bases = append(bases, df)
					parts = append(parts, part)
				}
				continue
			}
			if lf, err := table.ParseLogFileName(name); err == nil && lf.Ext == table.ExtLog {
				id := table.FileGroupID{PartitionPath: part, FileID: lf.FileID}
				if replaced[id] && done(lf.BaseInstant) && !prot.slices[sliceKey{id, lf.BaseInstant}] {
					logs = append(logs, df)
				}
			}
		}
		for _, df := range logs {
			part, _ := path.Split(df.Path)
			add(trimSlash(part), df)
		}
		for i, df := range bases {
			add(parts[i], df)
		}
	}

	if len(p.keys) == 0 {
		return nil, nil
	}
	version := avroplan.CleanerPlanVersion
	p.plan = &avroplan.HoodieCleanerPlan{
		LastCompletedCommitTimestamp:     last.Timestamp,
		Policy:                           opts.Policy.String(),
		FilesToBeDeletedPerPartition:     &map[string][]string{},
		Version:                          &version,
		FilePathsToBeDeletedPerPartition: &perPart,
		PartitionsToBeDeleted:            []string{},
	}
	if ectr != nil {
		p.ectr = ectr.Timestamp
		p.plan.EarliestInstantToRetain = &avroplan.HoodieActionInstant{
			Timestamp: ectr.Timestamp, Action: string(ectr.Action), State: ectr.State.String(),
		}
	}
	return p, nil
}

func trimSlash(s string) string {
	if len(s) > 0 && s[len(s)-1] == '/' {
		return s[:len(s)-1]
	}
	return s
}

type sliceKey struct {
	id   table.FileGroupID
	base string
}

// protected is what pending compactions and savepoints pin.
type protected struct {
	slices map[sliceKey]bool
	groups map[table.FileGroupID]bool
	files  map[string]bool // keys
}

// slice reports whether a slice, or any of its files, is pinned.
func (p *protected) slice(s *table.FileSlice) bool {
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

// protection collects the slices and files of pending compaction plans
// and completed savepoints.
func protection(ctx context.Context, st storage.Storage, tl *timeline.Timeline) (*protected, error) {
	p := &protected{slices: map[sliceKey]bool{}, groups: map[table.FileGroupID]bool{}, files: map[string]bool{}}
	join := func(part, name string) string {
		if part == "" {
			return name
		}
		return part + "/" + name
	}
	for _, inst := range tl.PendingCompactions() {
		plan, err := table.ReadCompactionPlan(ctx, st, inst.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("cleaner: %w", err)
		}
		for _, op := range plan.Operations {
			if op.FileID == nil {
				continue
			}
			part := ""
			if op.PartitionPath != nil {
				part = *op.PartitionPath
			}
			id := table.FileGroupID{PartitionPath: part, FileID: *op.FileID}
			p.groups[id] = true
			p.slices[sliceKey{id, inst.Timestamp}] = true
			if op.BaseInstantTime != nil {
				p.slices[sliceKey{id, *op.BaseInstantTime}] = true
			}
			if op.DataFilePath != nil && *op.DataFilePath != "" {
				p.files[join(part, path.Base(*op.DataFilePath))] = true
			}
			for _, d := range op.DeltaFilePaths {
				p.files[join(part, path.Base(d))] = true
			}
		}
	}
	for _, inst := range tl.Completed() {
		if inst.Action != timeline.Savepoint {
			continue
		}
		b, err := timeline.ReadInstant(ctx, st, inst)
		if err != nil {
			return nil, fmt.Errorf("cleaner: %w", err)
		}
		md := &avroplan.HoodieSavepointMetadata{}
		if err := avroplan.Decode(bytes.NewReader(b), md); err != nil {
			return nil, fmt.Errorf("cleaner: savepoint %s: %w", inst.Timestamp, err)
		}
		for part, pm := range md.PartitionMetadata {
			for _, f := range pm.SavepointDataFile {
				p.files[join(part, path.Base(f))] = true
			}
		}
	}
	return p, nil
}
