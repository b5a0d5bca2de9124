package metadata

import (
	"path"
	"sort"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/internal/mdtrecord"
	"github.com/hoodie-lake/hoodie/timeline"
)

// changes are what one data instant did to the data table's files, by
// partition ("" = non-partitioned).
type changes struct {
	added             map[string]map[string]int64
	deleted           map[string][]string
	partitions        map[string]bool // partitions the instant wrote into
	deletedPartitions []string
	// dead are data instants this one rolls back: a metadata compaction
	// they ran is abandoned.
	dead map[string]bool
}

func newChanges() *changes {
	return &changes{added: map[string]map[string]int64{}, deleted: map[string][]string{}, partitions: map[string]bool{}}
}

func (c *changes) add(partition, name string, size int64) {
	m := c.added[partition]
	if m == nil {
		m = map[string]int64{}
		c.added[partition] = m
	}
	// A file appended to twice in one instant: its largest size, as
	// HoodieTableMetadataUtil keeps.
	if size >= m[name] {
		m[name] = size
	}
}

// commitChanges are the files a commit, deltacommit, replacecommit or
// compaction commit wrote (HoodieTableMetadataUtil's
// convertMetadataToFilesPartitionRecords): every partition in its write
// stats, each file at its size.
func commitChanges(md *timeline.CommitMetadata) *changes {
	c := newChanges()
	for p, stats := range md.PartitionToWriteStats {
		c.partitions[p] = true
		for _, s := range stats {
			if s.Path == "" {
				continue
			}
			c.add(p, path.Base(s.Path), s.FileSizeInBytes)
		}
	}
	return c
}

// cleanChanges are the files a clean deleted (its planned patterns, as
// Hudi records them) and the partitions it deleted.
func cleanChanges(md *avroplan.HoodieCleanMetadata) *changes {
	c := newChanges()
	for p, pm := range md.PartitionMetadata {
		for _, f := range pm.DeletePathPatterns {
			c.deleted[p] = append(c.deleted[p], path.Base(f))
		}
		if _, ok := c.deleted[p]; !ok {
			c.deleted[p] = nil // Hudi writes a record for every partition of the clean
		}
		if pm.IsPartitionDeleted != nil && *pm.IsPartitionDeleted {
			c.deletedPartitions = append(c.deletedPartitions, p)
		}
	}
	return c
}

// rollbackChanges are the log files a rollback wrote command blocks into
// (at their new sizes, as Hudi 0.15 records them) and the files it
// deleted (marked deleted too, so a rollback of a commit the metadata
// table already compacted leaves no trace of its files).
func rollbackChanges(md *avroplan.HoodieRollbackMetadata) *changes {
	c := newChanges()
	c.dead = map[string]bool{}
	for _, F := range md.CommitsRollback {
		c.dead[F] = true
	}
	for p, pm := range md.PartitionMetadata {
		for _, f := range pm.SuccessDeleteFiles {
			c.deleted[p] = append(c.deleted[p], path.Base(f))
		}
		if pm.RollbackLogFiles != nil {
			for f, size := range *pm.RollbackLogFiles {
				c.add(p, path.Base(f), size)
			}
		}
	}
	return c
}

// records are the metadata records of c, sorted by key: the partition
// list (partitions written into, and deleted ones), then one files
// record per partition touched.
func (c *changes) records() []mdtrecord.Record {
	var out []mdtrecord.Record
	if len(c.partitions) > 0 || len(c.deletedPartitions) > 0 {
		all := mdtrecord.Record{Key: mdtrecord.AllPartitionsKey, Type: mdtrecord.TypePartitionList, Files: map[string]mdtrecord.FileInfo{}}
		for p := range c.partitions {
			all.Files[mdtPartition(p)] = mdtrecord.FileInfo{}
		}
		for _, p := range c.deletedPartitions {
			all.Files[mdtPartition(p)] = mdtrecord.FileInfo{Deleted: true}
		}
		out = append(out, all)
	}
	touched := map[string]bool{}
	for p := range c.added {
		touched[p] = true
	}
	for p := range c.deleted {
		touched[p] = true
	}
	for p := range c.partitions {
		touched[p] = true
	}
	for p := range touched {
		r := mdtrecord.Record{Key: mdtPartition(p), Type: mdtrecord.TypeFiles, Files: map[string]mdtrecord.FileInfo{}}
		for f, size := range c.added[p] {
			r.Files[f] = mdtrecord.FileInfo{Size: size}
		}
		for _, f := range c.deleted[p] {
			if _, ok := r.Files[f]; !ok {
				r.Files[f] = mdtrecord.FileInfo{Deleted: true}
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
