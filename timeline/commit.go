package timeline

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Write operation types recorded in HoodieCommitMetadata.operationType.
const (
	OpInsert             = "INSERT"
	OpUpsert             = "UPSERT"
	OpBulkInsert         = "BULK_INSERT"
	OpDelete             = "DELETE"
	OpInsertOverwrite    = "INSERT_OVERWRITE"
	OpInsertOverwriteTbl = "INSERT_OVERWRITE_TABLE"
	OpDeletePartition    = "DELETE_PARTITION"
	OpCompact            = "COMPACT"
	OpCluster            = "CLUSTER"
	OpUnknown            = "UNKNOWN"
	SchemaKey            = "schema" // extraMetadata key of the writer schema
	NullPrevCommit       = "null"   // prevCommit of a new file group
)

// CommitMetadata is Hudi's HoodieCommitMetadata (and, with
// PartitionToReplaceFileIDs, HoodieReplaceCommitMetadata) as the JSON that
// completed commit, deltacommit and replacecommit instants hold. Field names
// and order follow Java's Jackson output.
type CommitMetadata struct {
	PartitionToWriteStats map[string][]WriteStat `json:"partitionToWriteStats"`
	Compacted             bool                   `json:"compacted"`
	ExtraMetadata         map[string]string      `json:"extraMetadata"`
	OperationType         string                 `json:"operationType"`
	// PartitionToReplaceFileIDs is set on replacecommits only.
	PartitionToReplaceFileIDs map[string][]string `json:"partitionToReplaceFileIds,omitempty"`
}

// WriteStat is HoodieWriteStat, plus the HoodieDeltaWriteStat fields that
// log-file writes carry (nil/empty for base files, and then omitted).
type WriteStat struct {
	FileID                       string           `json:"fileId"`
	Path                         string           `json:"path"`
	CDCStats                     map[string]int64 `json:"cdcStats"`
	PrevCommit                   string           `json:"prevCommit"`
	NumWrites                    int64            `json:"numWrites"`
	NumDeletes                   int64            `json:"numDeletes"`
	NumUpdateWrites              int64            `json:"numUpdateWrites"`
	NumInserts                   int64            `json:"numInserts"`
	TotalWriteBytes              int64            `json:"totalWriteBytes"`
	TotalWriteErrors             int64            `json:"totalWriteErrors"`
	TempPath                     *string          `json:"tempPath"`
	PartitionPath                string           `json:"partitionPath"`
	TotalLogRecords              int64            `json:"totalLogRecords"`
	TotalLogFilesCompacted       int64            `json:"totalLogFilesCompacted"`
	TotalLogSizeCompacted        int64            `json:"totalLogSizeCompacted"`
	TotalUpdatedRecordsCompacted int64            `json:"totalUpdatedRecordsCompacted"`
	TotalLogBlocks               int64            `json:"totalLogBlocks"`
	TotalCorruptLogBlock         int64            `json:"totalCorruptLogBlock"`
	TotalRollbackBlocks          int64            `json:"totalRollbackBlocks"`
	FileSizeInBytes              int64            `json:"fileSizeInBytes"`
	MinEventTime                 *int64           `json:"minEventTime"`
	MaxEventTime                 *int64           `json:"maxEventTime"`
	RuntimeStats                 *RuntimeStats    `json:"runtimeStats"`

	// HoodieDeltaWriteStat fields.
	LogVersion   *int            `json:"logVersion,omitempty"`
	LogOffset    *int64          `json:"logOffset,omitempty"`
	BaseFile     *string         `json:"baseFile,omitempty"`
	LogFiles     []string        `json:"logFiles,omitempty"`
	RecordsStats json.RawMessage `json:"recordsStats,omitempty"`
}

// RuntimeStats is HoodieWriteStat.RuntimeStats (milliseconds).
type RuntimeStats struct {
	TotalScanTime   int64 `json:"totalScanTime"`
	TotalUpsertTime int64 `json:"totalUpsertTime"`
	TotalCreateTime int64 `json:"totalCreateTime"`
}

// IsLog reports whether the stat describes a log file write.
func (s *WriteStat) IsLog() bool { return s.LogVersion != nil || len(s.LogFiles) > 0 }

// ParseCommitMetadata decodes commit metadata JSON. Empty content (requested
// instants) yields empty metadata.
func ParseCommitMetadata(b []byte) (*CommitMetadata, error) {
	m := &CommitMetadata{}
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("timeline: parse commit metadata: %w", err)
	}
	return m, nil
}

// Marshal encodes the metadata as JSON the way Hudi's Jackson writer lays it
// out (indented; map keys sorted, which Java readers do not care about).
func (m *CommitMetadata) Marshal() ([]byte, error) {
	c := *m
	if c.PartitionToWriteStats == nil {
		c.PartitionToWriteStats = map[string][]WriteStat{}
	}
	if c.ExtraMetadata == nil {
		c.ExtraMetadata = map[string]string{}
	}
	if c.OperationType == "" {
		c.OperationType = OpUnknown
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("timeline: encode commit metadata: %w", err)
	}
	return b, nil
}

// Schema returns extraMetadata.schema, the writer's Avro schema (data fields
// only), or "".
func (m *CommitMetadata) Schema() string { return m.ExtraMetadata[SchemaKey] }

// Stats returns every write stat, ordered by partition then file ID.
func (m *CommitMetadata) Stats() []WriteStat {
	parts := make([]string, 0, len(m.PartitionToWriteStats))
	for p := range m.PartitionToWriteStats {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	var out []WriteStat
	for _, p := range parts {
		out = append(out, m.PartitionToWriteStats[p]...)
	}
	return out
}

// AddStat appends a stat under its partition.
func (m *CommitMetadata) AddStat(s WriteStat) {
	if m.PartitionToWriteStats == nil {
		m.PartitionToWriteStats = map[string][]WriteStat{}
	}
	m.PartitionToWriteStats[s.PartitionPath] = append(m.PartitionToWriteStats[s.PartitionPath], s)
}

// ReplacedFileIDs returns the file groups a replacecommit replaced.
func (m *CommitMetadata) ReplacedFileIDs() map[FileGroupID]bool {
	out := map[FileGroupID]bool{}
	for p, ids := range m.PartitionToReplaceFileIDs {
		for _, id := range ids {
			out[FileGroupID{PartitionPath: p, FileID: id}] = true
		}
	}
	return out
}

// FileGroupID names a file group: a partition and a file ID.
type FileGroupID struct {
	PartitionPath string
	FileID        string
}

func (g FileGroupID) String() string {
	if g.PartitionPath == "" {
		return g.FileID
	}
	return g.PartitionPath + "/" + g.FileID
}

// Totals sums the write stats.
func (m *CommitMetadata) Totals() (writes, inserts, updates, deletes, bytes int64, files int) {
	for _, stats := range m.PartitionToWriteStats {
		for _, s := range stats {
			writes += s.NumWrites
			inserts += s.NumInserts
			updates += s.NumUpdateWrites
			deletes += s.NumDeletes
			bytes += s.TotalWriteBytes
			files++
		}
	}
	return
}
