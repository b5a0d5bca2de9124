package filegroup

import "github.com/hoodie-lake/hoodie/timeline"

// FileGroupID names a file group: partition path and file ID. It is the
// timeline's type (commit metadata names replaced file groups with it).
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

// DataPath is the key of file name in partition, relative to the table
// base: "<partition>/<name>", or name in a non-partitioned table.
func DataPath(partition, name string) string {
	if partition == "" {
		return name
	}
	return partition + "/" + name
}
