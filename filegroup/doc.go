// Package filegroup owns the data files of a Hudi table (version 6): their
// names, how they group into file groups and slices, the file-system view
// a read or a write sees, and the creation of log files. Apache hudi-rs's
// file_group crate is the model.
//
// A file group is the history of one set of records in one partition,
// named by a file ID. Each write to it starts a new slice (a new base file)
// or adds log files to the latest slice (merge-on-read); a compaction merges
// a slice into the base file of a new one:
//
//	partition/
//	  <fileId>_<token>_<t1>.parquet           base file  ┐ slice t1
//	  .<fileId>_<t1>.log.1_<token>            log file   │ (base + logs)
//	  .<fileId>_<t1>.log.2_<token>            log file   ┘
//	  <fileId>_<token>_<t3>.parquet           base file  ] slice t3 (compaction t3)
//	  .hoodie_partition_metadata              marks the partition
//
// The file names (BaseFile, LogFile, WriteToken and their parsers) follow
// Java's FSUtils exactly; see filenames.go for the grammar.
//
// BuildView lists the table and sorts the files into FileGroups and
// FileSlices as of an instant, by the timeline's one visibility rule
// (timeline.Timeline.Visible): files of pending, rolled-back or later
// instants are hidden, as are file groups a replacecommit replaced. While a
// compaction is pending, log files sent to its new slice are folded into the
// previous slice (PendingCompactionGroups says which groups that concerns).
//
// AppendLog is the one place log files are created: the next version of the
// slice, a marker through the instant's timeline.Txn, create-if-absent, and
// a retry on a version another appender took:
//
//	f, err := filegroup.AppendLog(ctx, st, txn, filegroup.LogAppend{
//		FileGroupID: id, BaseInstant: slice.BaseInstant, WriteToken: token, Taken: taken,
//	}, blocks)
//
// filegroup depends on timeline and storage; it never imports table (the
// table package builds on it).
package filegroup
