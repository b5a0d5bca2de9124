package timeline

// Visible returns the visibility rule of a read of the table as of instant
// asOf ("" = the latest): whether the data written by the instant at
// instantTime (a base file's instant, a log block's INSTANT_TIME, an index
// entry's instant) is part of that read. It is when
//
//   - instantTime is a completed write instant (commit, deltacommit,
//     replacecommit; a compaction completes as a commit) at or before
//     asOf; or
//   - instantTime is older than the first instant of the active timeline
//     and not after asOf: its instant was archived, and only completed
//     instants are archived (archival moves a prefix of the timeline).
//
// Data of requested and inflight instants is not visible, nor is that of
// instants no longer on the active timeline but newer than its first
// instant (rolled back: their timeline files were deleted), nor that of
// instants after asOf.
//
// An empty active timeline has no completed instant and nothing archived
// before it, so nothing is visible: archival always keeps the latest
// commits, so the data files of a table with an empty timeline are a failed
// first write's leftovers.
//
// Every component of hoodie asks this one rule: the file-system view (which
// base files and slices a read sees), the merged log reader (which blocks
// count), the index (which entries to trust), the compactor (which logs a
// plan may take, and whose pending instant a carried-over log belongs to)
// and the cleaner (which replaced files are safe to delete).
func (tl *Timeline) Visible(asOf string) func(instantTime string) bool {
	first := tl.FirstInstantTime()
	return func(ts string) bool {
		if asOf != "" && ts > asOf {
			return false
		}
		if first == "" {
			return false
		}
		if ts < first {
			return true
		}
		i, ok := tl.Find(ts)
		return ok && i.State == Completed && i.IsWriteAction()
	}
}
