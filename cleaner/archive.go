package cleaner

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// ArchiveResult reports an Archive.
type ArchiveResult struct {
	// Archived are the completed instants moved out of the active
	// timeline, oldest first; empty when nothing was archived.
	Archived []timeline.Instant
	// File is the archive log file written (key relative to the table
	// base), "" if none.
	File string
	// Entries is the number of HoodieArchivedMetaEntry records written.
	Entries int
	// PrunedClaims is the number of instant-time claims deleted.
	PrunedClaims int
	// Metadata reports the archival of the table's Hudi metadata table
	// (nil without one).
	Metadata *ArchiveResult
}

// archivable are the actions Archive moves; any other completed action
// (savepoint, restore, indexing) stops archival, as Hudi stops at the first
// savepoint.
var archivable = map[timeline.Action]bool{
	timeline.Commit: true, timeline.DeltaCommit: true, timeline.ReplaceCommit: true,
	timeline.Clean: true, timeline.Rollback: true,
}

// archiver is one Archive of a timeline: the data table's, or its
// metadata table's.
type archiver struct {
	st     storage.Storage
	folder string // the archive folder, relative to the timeline's base
	res    *ArchiveResult
	// load refreshes and returns the timeline.
	load func(ctx context.Context) (*timeline.Timeline, error)
	// limit, if set, is an instant archival must stay before ("" with
	// set: keep everything).
	limit func(ctx context.Context) (ts string, err error)
}

// Archive moves the oldest completed instants of the active timeline into
// the archived timeline when more than MaxToKeep completed commits are
// active. See the package documentation for the rules and the crash order.
//
// A table keeping Hudi's metadata table is archived only up to the
// metadata table's latest base file (its initialisation or compaction):
// readers use the metadata log blocks of later data instants only while
// those are active. Then the metadata table's own timeline is archived
// by the same rules, up to the data table's first active instant and the
// same base file, as Hudi's HoodieTimelineArchiver does
// (ArchiveResult.Metadata).
//
// Archive refreshes tbl before it starts and once it is done. On an error
// the result reports what was archived before it.
func Archive(ctx context.Context, tbl *table.Table, opts ArchiveOptions) (*ArchiveResult, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	folder := tbl.Config().ArchiveLogFolder
	if folder == "" {
		folder = table.DefaultArchiveFolder
	}
	a := &archiver{st: tbl.Storage(), folder: timeline.MetaFolder + "/" + strings.Trim(folder, "/"), res: &ArchiveResult{},
		load: func(ctx context.Context) (*timeline.Timeline, error) {
			if err := tbl.Refresh(ctx); err != nil {
				return nil, err
			}
			return tbl.Timeline(ctx)
		}}
	tl, err := a.timeline(ctx)
	if err != nil {
		return a.res, err
	}
	mdt, err := metadata.For(ctx, tbl, metadata.Options{})
	if err != nil {
		return a.res, fmt.Errorf("cleaner: archive: %w", err)
	}
	if mdt != nil {
		a.limit = mdt.LatestBaseInstant
	}
	if err := a.run(ctx, opts, tl); err != nil {
		return a.res, err
	}
	if mdt == nil {
		return a.res, nil
	}
	m := &archiver{st: mdt.Storage(), folder: timeline.MetaFolder + "/" + table.DefaultArchiveFolder, res: &ArchiveResult{},
		load: func(ctx context.Context) (*timeline.Timeline, error) { return timeline.Load(ctx, mdt.Storage()) },
		limit: func(ctx context.Context) (string, error) {
			base, err := mdt.LatestBaseInstant(ctx)
			if err != nil || base == "" {
				return "", err
			}
			tl, err := tbl.Timeline(ctx)
			if err != nil {
				return "", err
			}
			if first := tl.FirstInstantTime(); first != "" && first < base {
				return first, nil
			}
			return base, nil
		}}
	a.res.Metadata = m.res
	mtl, err := m.timeline(ctx)
	if err != nil {
		return a.res, err
	}
	if err := m.run(ctx, opts, mtl); err != nil {
		return a.res, fmt.Errorf("cleaner: archive the metadata table: %w", err)
	}
	return a.res, nil
}

// run archives the archiver's timeline, freshly loaded as tl.
func (a *archiver) run(ctx context.Context, opts ArchiveOptions, tl *timeline.Timeline) error {
	done, err := lastArchived(ctx, a.st, a.folder)
	if err != nil {
		return err
	}
	if finished := interrupted(tl, done); len(finished) > 0 {
		if err := a.finish(ctx, finished); err != nil {
			return err
		}
		if tl, err = a.timeline(ctx); err != nil {
			return err
		}
	}
	in := archiveInputs{tl: tl}
	if needsArchival(tl, opts) {
		if err := in.gather(ctx, a.st); err != nil {
			return err
		}
		if a.limit != nil {
			in.limited = true
			if in.limit, err = a.limit(ctx); err != nil {
				return fmt.Errorf("cleaner: archive: %w", err)
			}
		}
	}
	victims := archiveVictims(in, opts)
	if len(victims) == 0 {
		return a.prune(ctx, tl)
	}
	if err := a.archive(ctx, victims, done); err != nil {
		return err
	}
	if tl, err = a.timeline(ctx); err != nil {
		return err
	}
	return a.prune(ctx, tl)
}

// timeline refreshes and returns the timeline.
func (a *archiver) timeline(ctx context.Context) (*timeline.Timeline, error) {
	tl, err := a.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("cleaner: archive: %w", err)
	}
	return tl, nil
}

// interrupted returns the oldest active instants whose completed state the
// newest archive file already holds (done): an archival that crashed
// before deleting them all.
func interrupted(tl *timeline.Timeline, done map[string]bool) []timeline.Instant {
	var out []timeline.Instant
	for _, i := range tl.Instants() {
		if !i.IsCompleted() || !done[instantKey(i)] {
			break
		}
		out = append(out, i)
	}
	return out
}

// finish deletes the instant files of an interrupted archival.
func (a *archiver) finish(ctx context.Context, finished []timeline.Instant) error {
	files, err := instantFiles(ctx, a.st, finished)
	if err != nil {
		return err
	}
	if err := deleteInstantFiles(ctx, a.st, files); err != nil {
		return err
	}
	a.res.Archived = finished
	return nil
}

// archive writes the entries of the victims' instant files (those not in
// done) as the next archive file, then deletes the instant files.
func (a *archiver) archive(ctx context.Context, victims []timeline.Instant, done map[string]bool) error {
	files, err := instantFiles(ctx, a.st, victims)
	if err != nil {
		return err
	}
	var datums [][]byte
	for _, f := range files {
		e, err := archivedEntry(ctx, a.st, f)
		if err != nil {
			return err
		}
		if done[entryKey(e)] {
			continue // archived by an attempt that crashed before deleting
		}
		b, err := avroplan.MarshalArchivedEntry(e)
		if err != nil {
			return fmt.Errorf("cleaner: archive: %w", err)
		}
		datums = append(datums, b)
	}
	if len(datums) > 0 {
		key, err := writeArchive(ctx, a.st, a.folder, datums)
		if err != nil {
			return err
		}
		a.res.File, a.res.Entries = key, len(datums)
	}
	if err := deleteInstantFiles(ctx, a.st, files); err != nil {
		return err
	}
	a.res.Archived = append(a.res.Archived, victims...)
	return nil
}

// prune deletes instant-time claims older than the oldest active instant,
// once something was archived.
func (a *archiver) prune(ctx context.Context, tl *timeline.Timeline) error {
	if len(a.res.Archived) == 0 {
		return nil
	}
	oldest := tl.FirstInstantTime()
	if oldest == "" {
		return nil
	}
	n, err := timeline.PruneClaims(ctx, a.st, oldest)
	if err != nil {
		return fmt.Errorf("cleaner: archive: %w", err)
	}
	a.res.PrunedClaims = n
	return nil
}

// archiveInputs is what the choice of instants to archive depends on
// besides the timeline: gathered only when archival is due (needsArchival).
type archiveInputs struct {
	tl *timeline.Timeline
	// compactionBases are the base instants of the pending compaction
	// plans' operations.
	compactionBases []string
	// cleanECTR is the earliestCommitToRetain of the latest completed
	// clean ("" when none).
	cleanECTR string
	// limit is where archival must stop besides the rules above (the
	// metadata table's latest base file, see Archive); with limited set,
	// "" means nothing may be archived.
	limit   string
	limited bool
}

// gather reads the pending compaction plans and the latest completed clean.
func (in *archiveInputs) gather(ctx context.Context, st storage.Storage) error {
	for _, inst := range in.tl.PendingCompactions() {
		plan, err := filegroup.ReadCompactionPlan(ctx, st, inst.Timestamp)
		if err != nil {
			return fmt.Errorf("cleaner: archive: %w", err)
		}
		for _, op := range plan.Operations {
			if op.BaseInstantTime != nil {
				in.compactionBases = append(in.compactionBases, *op.BaseInstantTime)
			}
		}
	}
	cleans := in.tl.Filter(func(i timeline.Instant) bool { return i.Action == timeline.Clean && i.IsCompleted() })
	if len(cleans) == 0 {
		return nil
	}
	last := cleans[len(cleans)-1]
	b, err := timeline.ReadInstant(ctx, st, last)
	if err != nil {
		return fmt.Errorf("cleaner: archive: %w", err)
	}
	md := &avroplan.HoodieCleanMetadata{}
	if err := avroplan.Decode(bytes.NewReader(b), md); err != nil {
		return fmt.Errorf("cleaner: archive: clean %s: %w", last.Timestamp, err)
	}
	in.cleanECTR = md.EarliestCommitToRetain
	return nil
}

// needsArchival reports whether more than MaxToKeep completed commits are
// active.
func needsArchival(tl *timeline.Timeline, opts ArchiveOptions) bool {
	return len(tl.CompletedCommits()) > opts.MaxToKeep
}

// archiveVictims returns the instants to archive, oldest first (none unless
// needsArchival): the longest prefix of the active timeline of completed
// instants of archivable actions before the MinToKeep-th newest completed
// commit and before archiveLimit. It does no I/O.
func archiveVictims(in archiveInputs, opts ArchiveOptions) []timeline.Instant {
	if !needsArchival(in.tl, opts) {
		return nil
	}
	commits := in.tl.CompletedCommits()
	stop := archiveLimit(in)
	if kept := commits[len(commits)-opts.MinToKeep].Timestamp; stop == "" || kept < stop {
		stop = kept
	}
	var victims []timeline.Instant
	for _, i := range in.tl.Instants() {
		if i.Timestamp >= stop || !i.IsCompleted() || !archivable[i.Action] {
			break // a prefix only: no holes in the active timeline
		}
		victims = append(victims, i)
	}
	return victims
}

// archiveLimit is the earliest instant archival must not reach: the
// earliest pending instant, the base instants of pending compaction plans,
// and the earliestCommitToRetain of the latest completed clean ("" = none).
func archiveLimit(in archiveInputs) string {
	limit := ""
	lower := func(ts string) {
		if ts != "" && (limit == "" || ts < limit) {
			limit = ts
		}
	}
	if p := in.tl.Pending(); len(p) > 0 {
		lower(p[0].Timestamp)
	}
	for _, ts := range in.compactionBases {
		lower(ts)
	}
	lower(in.cleanECTR)
	if in.limited && in.limit == "" {
		return "0" // sorts before every instant: keep everything
	}
	lower(in.limit)
	return limit
}

type instantFile struct {
	inst timeline.Instant
	obj  storage.ObjectInfo
}

// instantFiles lists every instant file (any state) of the instants.
func instantFiles(ctx context.Context, st storage.Storage, insts []timeline.Instant) ([]instantFile, error) {
	want := map[string]bool{}
	for _, v := range insts {
		want[v.Timestamp] = true
	}
	var files []instantFile
	for obj, err := range st.List(ctx, timeline.MetaFolder+"/", "/") {
		if err != nil {
			return nil, fmt.Errorf("cleaner: archive: %w", err)
		}
		if obj.IsDir {
			continue
		}
		inst, ok := timeline.ParseFileName(path.Base(obj.Path))
		if ok && want[inst.Timestamp] {
			files = append(files, instantFile{inst: inst, obj: obj})
		}
	}
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i].inst, files[j].inst
		if a.Timestamp != b.Timestamp {
			return a.Timestamp < b.Timestamp
		}
		return a.State < b.State
	})
	return files, nil
}

// deleteInstantFiles deletes requested and inflight files first (a
// completed instant stays completed without them), then the completed
// files oldest first, so the instants gone from .hoodie/ are always a
// prefix of the timeline.
func deleteInstantFiles(ctx context.Context, st storage.Storage, files []instantFile) error {
	for _, pass := range []bool{false, true} {
		for _, f := range files {
			if (f.inst.State == timeline.Completed) != pass {
				continue
			}
			if err := st.Delete(ctx, f.obj.Path); err != nil {
				return fmt.Errorf("cleaner: archive: %w", err)
			}
		}
	}
	return nil
}
