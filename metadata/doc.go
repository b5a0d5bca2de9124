// Package metadata maintains the `files` partition of Hudi's metadata table
// (table version 6, as Hudi 0.14/0.15 write it) beside a data table, so
// that readers listing files through it (Spark's default since Hudi 0.11)
// see every file hoodie writes.
//
// The metadata table is itself a merge-on-read Hudi table under
// .hoodie/metadata: its own hoodie.properties (HFILE base files, record key
// "key", no meta fields, HoodieMetadataPayload), its own timeline, and one
// partition, files/, with one file group, files-0000-0. Its records are
// HoodieMetadataRecords (internal/mdtrecord): "__all_partitions__" lists the
// data table's partitions, and one record per partition maps the names of
// its files to their sizes (or marks them deleted). Base files are HFiles;
// log files hold HFILE_DATA_BLOCKs, one log file per deltacommit (object
// stores cannot append).
//
// The protocol, as Hudi's HoodieBackedTableMetadataWriter for table version
// 6 runs it:
//
//   - Every action of the data table that adds or deletes files — commit,
//     deltacommit, replacecommit, compaction commit, clean, rollback — first
//     writes a metadata deltacommit at the data instant's time, completed
//     before the data instant completes. Readers use only the metadata log
//     blocks whose data instant completed (HoodieTableMetadataUtil's
//     getValidInstantTimestamps), so a write that fails between the two is
//     invisible, and the data table's rollback of it also rolls the
//     metadata deltacommit back.
//   - After 10 deltacommits (hoodie.metadata.compact.max.delta.commits)
//     since its last compaction, and only when no data instant at or before
//     its latest deltacommit is pending, the metadata table is compacted
//     into a new HFile base file at "<latest deltacommit>001"; the file
//     slices before the previous one are then cleaned and the metadata
//     timeline archived.
//   - Enable bootstraps the metadata table of an existing table from a
//     listing of its committed files (instant "<latest data instant>010"),
//     then adds "files" to hoodie.table.metadata.partitions.
//   - The data table's archival never passes the latest metadata base
//     instant (blocks of archived data instants would no longer be valid).
//
// Sources (facts, not code): Hudi 0.15 HoodieBackedTableMetadataWriter,
// HoodieBackedTableMetadataWriterTableVersionSix (Hudi 1.0), HoodieTableMetadataUtil,
// HoodieMetadataPayload, HoodieTimelineArchiver; and metadata tables Spark
// (Hudi 0.15, default settings) writes, which the tests compare with.
package metadata
