package filegroup

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// maxAppendTries bounds the versions AppendLog tries before giving up: each
// failed try is a version another appender took meanwhile.
const maxAppendTries = 1000

// LogAppend says where AppendLog puts a new log file: the slice (file group
// and base instant) and the name's write token.
type LogAppend struct {
	FileGroupID
	// BaseInstant is the base instant of the slice the file joins (for a
	// writer, the pending compaction's instant while one is pending for
	// the group).
	BaseInstant string
	// WriteToken names the task that writes the file (rollback blocks use
	// 1-0-1, as Hudi's rollback does).
	WriteToken WriteToken
	// Taken holds the versions of the slice the caller knows to be used (a
	// view's visible and hidden logs, or LogVersions); AppendLog adds the
	// versions it takes, so several appends to one slice share one set.
	// nil: none known.
	Taken map[int]bool
}

// AppendLog writes data as a new log file of slice (a.FileGroupID,
// a.BaseInstant) on behalf of the instant of txn, and returns the file. It
// is the one place log files are created (writers' deltacommits, their
// moves into a pending compaction's slice, a compaction's carry-over of
// late logs, rollback command blocks):
//
//  1. the version is one past the highest in a.Taken (1 when none): always
//     after the newest, because Hudi's readers process a slice's log files
//     in version order, and a block of a later instant placed before
//     earlier ones stops their scan (time travel) or reorders the merge;
//  2. txn's APPEND marker for the file is written before the file, so a
//     rollback of txn's instant finds and deletes it;
//  3. the file is created if absent: hoodie never appends to an existing
//     object (S3 cannot), so every log file holds one appender's blocks;
//  4. a version taken meanwhile (another writer, a carry-over, a rollback
//     block) fails the create: the marker is deleted — else a rollback of
//     txn's instant would delete the other appender's file — and the next
//     version is tried.
//
// Two appenders racing on one slice get distinct versions; neither file is
// overwritten.
func AppendLog(ctx context.Context, st storage.Storage, txn *timeline.Txn, a LogAppend, data []byte) (LogFileInfo, error) {
	if a.Taken == nil {
		a.Taken = map[int]bool{}
	}
	v := 1
	for t := range a.Taken {
		v = max(v, t+1)
	}
	for tries := 0; tries < maxAppendTries; tries++ {
		for a.Taken[v] {
			v++
		}
		a.Taken[v] = true
		lf := LogFile{FileID: a.FileID, BaseInstant: a.BaseInstant, Version: v, WriteToken: a.WriteToken, Ext: ExtLog}
		if err := lf.Validate(); err != nil {
			return LogFileInfo{}, fmt.Errorf("filegroup: append log: %w", err)
		}
		name := lf.String()
		p := DataPath(a.PartitionPath, name)
		if err := txn.Marker(ctx, p, timeline.MarkerAppend); err != nil {
			return LogFileInfo{}, fmt.Errorf("filegroup: append log: %w", err)
		}
		err := storage.WriteFile(ctx, st, p, data, storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			if err := txn.DeleteMarker(ctx, p, timeline.MarkerAppend); err != nil {
				return LogFileInfo{}, fmt.Errorf("filegroup: append log: %w", err)
			}
			continue
		}
		if err != nil {
			return LogFileInfo{}, fmt.Errorf("filegroup: append log %s: %w", p, err)
		}
		return LogFileInfo{DataFile: DataFile{Path: p, Name: name, Size: int64(len(data))}, LogFile: lf}, nil
	}
	return LogFileInfo{}, fmt.Errorf("filegroup: append log: no free log version in file group %s, base instant %s", a.FileGroupID, a.BaseInstant)
}

// LogVersions lists the versions of the log files of file group id in the
// slice with base instant baseInstant (one delimited LIST of the group's
// log files in its partition).
func LogVersions(ctx context.Context, st storage.Storage, id FileGroupID, baseInstant string) (map[int]bool, error) {
	taken := map[int]bool{}
	for obj, err := range st.List(ctx, DataPath(id.PartitionPath, "."+id.FileID+"_"), "/") {
		if err != nil {
			return nil, fmt.Errorf("filegroup: log versions of %s: %w", id, err)
		}
		if lf, err := ParseLogFileName(path.Base(obj.Path)); err == nil && lf.FileID == id.FileID && lf.BaseInstant == baseInstant {
			taken[lf.Version] = true
		}
	}
	return taken, nil
}
