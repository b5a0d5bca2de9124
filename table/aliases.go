package table

import "github.com/hoodie-lake/hoodie/filegroup"

// Transitional aliases of the names that moved to package filegroup, one per
// moved exported name, so the rest of the tree keeps compiling until a
// tree-wide rename replaces table.X by filegroup.X and this file goes.

// Moved from filenames.go.
const (
	ExtParquet = filegroup.ExtParquet
	ExtLog     = filegroup.ExtLog
	ExtArchive = filegroup.ExtArchive
)

var ErrInvalidFileName = filegroup.ErrInvalidFileName

type (
	WriteToken = filegroup.WriteToken
	BaseFile   = filegroup.BaseFile
	LogFile    = filegroup.LogFile
)

var (
	ParseWriteToken   = filegroup.ParseWriteToken
	IsInstantTime     = filegroup.IsInstantTime
	ValidateFileID    = filegroup.ValidateFileID
	NewFileID         = filegroup.NewFileID
	ParseBaseFileName = filegroup.ParseBaseFileName
	ParseLogFileName  = filegroup.ParseLogFileName
	CompareLogFiles   = filegroup.CompareLogFiles
)

// Moved from fsview.go.
type (
	FileGroupID  = filegroup.FileGroupID
	DataFile     = filegroup.DataFile
	BaseFileInfo = filegroup.BaseFileInfo
	LogFileInfo  = filegroup.LogFileInfo
	FileSlice    = filegroup.FileSlice
	FileGroup    = filegroup.FileGroup
	View         = filegroup.View
	ViewOptions  = filegroup.ViewOptions
)

var BuildView = filegroup.BuildView

// Moved from compaction.go.
var (
	ReadCompactionPlan      = filegroup.ReadCompactionPlan
	PendingCompactionGroups = filegroup.PendingCompactionGroups
)
