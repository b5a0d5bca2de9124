package avroplan

// Go mirrors of Hudi 0.15.0's Avro timeline records. Field names follow the
// Avro schemas through `avro` tags; the mapping is:
//
//	"string", "long", "int"            string, int64, int32
//	["null","string"], ["null","boolean"], ["int","null"]
//	                                   *string, *bool, *int32 (nil = null)
//	["null", array]                    slice (nil = null)
//	["null", map]                      *map (nil = null; hamba/avro needs the pointer)
//	["null", record]                   *Record (nil = null)
//	array|map (not nullable)           slice or map (nil encodes as empty)
//
// Version fields are ["int","null"]: nil encodes null, which Java's plan
// migrators do not expect; writers should set them (see the Version
// constants).

// Timeline metadata versions Hudi 0.15.0 writes (its migrators' latest
// versions). Java upgrades older versions when it reads them.
const (
	// CompactionPlanVersion: version 2 deltaFilePaths and dataFilePath hold
	// file names, not full paths.
	CompactionPlanVersion int32 = 2
	// CleanerPlanVersion: version 2 fills filePathsToBeDeletedPerPartition
	// (full paths) instead of filesToBeDeletedPerPartition (names).
	CleanerPlanVersion int32 = 2
	// CleanMetadataVersion is 2.
	CleanMetadataVersion int32 = 2
	// RollbackPlanVersion and RollbackMetadataVersion are 1.
	RollbackPlanVersion     int32 = 1
	RollbackMetadataVersion int32 = 1
	// SavepointMetadataVersion is 1.
	SavepointMetadataVersion int32 = 1
	// RequestedReplaceMetadataVersion is 1 (clustering). Spark's
	// insert_overwrite writes an all-null record, version included.
	RequestedReplaceMetadataVersion int32 = 1
)

// HoodieCompactionPlan is the content of T.compaction.requested (and
// T.logcompaction.requested).
type HoodieCompactionPlan struct {
	Operations    []HoodieCompactionOperation `avro:"operations"`
	ExtraMetadata *map[string]string          `avro:"extraMetadata"`
	Version       *int32                      `avro:"version"`
	// Strategy is set by log compaction plans only.
	Strategy               *HoodieCompactionStrategy `avro:"strategy"`
	PreserveHoodieMetadata *bool                     `avro:"preserveHoodieMetadata"`
}

// HoodieCompactionOperation compacts one file slice: its base file (if any)
// merged with its log files.
type HoodieCompactionOperation struct {
	BaseInstantTime   *string             `avro:"baseInstantTime"`
	DeltaFilePaths    []string            `avro:"deltaFilePaths"`
	DataFilePath      *string             `avro:"dataFilePath"`
	FileID            *string             `avro:"fileId"`
	PartitionPath     *string             `avro:"partitionPath"`
	Metrics           *map[string]float64 `avro:"metrics"`
	BootstrapFilePath *string             `avro:"bootstrapFilePath"`
}

// HoodieCompactionStrategy names the executor of a (log) compaction plan.
type HoodieCompactionStrategy struct {
	CompactorClassName *string            `avro:"compactorClassName"`
	StrategyParams     *map[string]string `avro:"strategyParams"`
	Version            *int32             `avro:"version"`
}

// HoodieCleanerPlan is the content of T.clean.requested and T.clean.inflight.
type HoodieCleanerPlan struct {
	EarliestInstantToRetain      *HoodieActionInstant `avro:"earliestInstantToRetain"`
	LastCompletedCommitTimestamp string               `avro:"lastCompletedCommitTimestamp"`
	Policy                       string               `avro:"policy"`
	// FilesToBeDeletedPerPartition is the version 1 field (file names);
	// version 2 plans use FilePathsToBeDeletedPerPartition.
	FilesToBeDeletedPerPartition     *map[string][]string              `avro:"filesToBeDeletedPerPartition"`
	Version                          *int32                            `avro:"version"`
	FilePathsToBeDeletedPerPartition *map[string][]HoodieCleanFileInfo `avro:"filePathsToBeDeletedPerPartition"`
	PartitionsToBeDeleted            []string                          `avro:"partitionsToBeDeleted"`
	// ExtraMetadata is new in 0.15.0.
	ExtraMetadata *map[string]string `avro:"extraMetadata"`
}

// HoodieActionInstant identifies an instant: timestamp, action and state
// ("COMPLETED", "INFLIGHT", "REQUESTED").
type HoodieActionInstant struct {
	Timestamp string `avro:"timestamp"`
	Action    string `avro:"action"`
	State     string `avro:"state"`
}

// HoodieCleanFileInfo is one file a cleaner plan deletes.
type HoodieCleanFileInfo struct {
	FilePath            *string `avro:"filePath"`
	IsBootstrapBaseFile *bool   `avro:"isBootstrapBaseFile"`
}

// HoodieCleanMetadata is the content of a completed T.clean.
type HoodieCleanMetadata struct {
	StartCleanTime               string                                   `avro:"startCleanTime"`
	TimeTakenInMillis            int64                                    `avro:"timeTakenInMillis"`
	TotalFilesDeleted            int32                                    `avro:"totalFilesDeleted"`
	EarliestCommitToRetain       string                                   `avro:"earliestCommitToRetain"`
	LastCompletedCommitTimestamp string                                   `avro:"lastCompletedCommitTimestamp"`
	PartitionMetadata            map[string]HoodieCleanPartitionMetadata  `avro:"partitionMetadata"`
	Version                      *int32                                   `avro:"version"`
	BootstrapPartitionMetadata   *map[string]HoodieCleanPartitionMetadata `avro:"bootstrapPartitionMetadata"`
	// ExtraMetadata is new in 0.15.0.
	ExtraMetadata *map[string]string `avro:"extraMetadata"`
}

// HoodieCleanPartitionMetadata is what one clean did in one partition.
type HoodieCleanPartitionMetadata struct {
	PartitionPath      string   `avro:"partitionPath"`
	Policy             string   `avro:"policy"`
	DeletePathPatterns []string `avro:"deletePathPatterns"`
	SuccessDeleteFiles []string `avro:"successDeleteFiles"`
	FailedDeleteFiles  []string `avro:"failedDeleteFiles"`
	IsPartitionDeleted *bool    `avro:"isPartitionDeleted"`
}

// HoodieRollbackPlan is the content of T.rollback.requested.
type HoodieRollbackPlan struct {
	InstantToRollback *HoodieInstantInfo      `avro:"instantToRollback"`
	RollbackRequests  []HoodieRollbackRequest `avro:"RollbackRequests"`
	Version           *int32                  `avro:"version"`
}

// HoodieInstantInfo identifies an instant by time and action.
type HoodieInstantInfo struct {
	CommitTime string `avro:"commitTime"`
	Action     string `avro:"action"`
}

// HoodieRollbackRequest lists what to undo in one partition or file group:
// files to delete, and log files (path -> size) that get a rollback block.
type HoodieRollbackRequest struct {
	PartitionPath        string            `avro:"partitionPath"`
	FileID               *string           `avro:"fileId"`
	LatestBaseInstant    *string           `avro:"latestBaseInstant"`
	FilesToBeDeleted     []string          `avro:"filesToBeDeleted"`
	LogBlocksToBeDeleted *map[string]int64 `avro:"logBlocksToBeDeleted"`
}

// HoodieRollbackMetadata is the content of a completed T.rollback.
type HoodieRollbackMetadata struct {
	StartRollbackTime string                                     `avro:"startRollbackTime"`
	TimeTakenInMillis int64                                      `avro:"timeTakenInMillis"`
	TotalFilesDeleted int32                                      `avro:"totalFilesDeleted"`
	CommitsRollback   []string                                   `avro:"commitsRollback"`
	PartitionMetadata map[string]HoodieRollbackPartitionMetadata `avro:"partitionMetadata"`
	Version           *int32                                     `avro:"version"`
	InstantsRollback  []HoodieInstantInfo                        `avro:"instantsRollback"`
}

// HoodieRollbackPartitionMetadata is what one rollback did in one partition.
// RollbackLogFiles maps log file paths to their sizes after the rollback
// block was appended.
type HoodieRollbackPartitionMetadata struct {
	PartitionPath            string            `avro:"partitionPath"`
	SuccessDeleteFiles       []string          `avro:"successDeleteFiles"`
	FailedDeleteFiles        []string          `avro:"failedDeleteFiles"`
	RollbackLogFiles         *map[string]int64 `avro:"rollbackLogFiles"`
	LogFilesFromFailedCommit *map[string]int64 `avro:"logFilesFromFailedCommit"`
}

// HoodieRequestedReplaceMetadata is the content of T.replacecommit.requested:
// all fields null (even OperationType and Version) for Spark's
// insert_overwrite, a ClusteringPlan for clustering.
type HoodieRequestedReplaceMetadata struct {
	OperationType  *string               `avro:"operationType"`
	ClusteringPlan *HoodieClusteringPlan `avro:"clusteringPlan"`
	ExtraMetadata  *map[string]string    `avro:"extraMetadata"`
	Version        *int32                `avro:"version"`
}

// HoodieClusteringPlan groups file slices to rewrite.
type HoodieClusteringPlan struct {
	InputGroups            []HoodieClusteringGroup   `avro:"inputGroups"`
	Strategy               *HoodieClusteringStrategy `avro:"strategy"`
	ExtraMetadata          *map[string]string        `avro:"extraMetadata"`
	Version                *int32                    `avro:"version"`
	PreserveHoodieMetadata *bool                     `avro:"preserveHoodieMetadata"`
}

// HoodieClusteringGroup is one unit of clustering work.
type HoodieClusteringGroup struct {
	Slices              []HoodieSliceInfo   `avro:"slices"`
	Metrics             *map[string]float64 `avro:"metrics"`
	NumOutputFileGroups *int32              `avro:"numOutputFileGroups"`
	ExtraMetadata       *map[string]string  `avro:"extraMetadata"`
	Version             *int32              `avro:"version"`
}

// HoodieSliceInfo is one file slice in a clustering group.
type HoodieSliceInfo struct {
	DataFilePath      *string  `avro:"dataFilePath"`
	DeltaFilePaths    []string `avro:"deltaFilePaths"`
	FileID            *string  `avro:"fileId"`
	PartitionPath     *string  `avro:"partitionPath"`
	BootstrapFilePath *string  `avro:"bootstrapFilePath"`
	Version           *int32   `avro:"version"`
}

// HoodieClusteringStrategy names the executor of a clustering plan.
type HoodieClusteringStrategy struct {
	StrategyClassName *string            `avro:"strategyClassName"`
	StrategyParams    *map[string]string `avro:"strategyParams"`
	Version           *int32             `avro:"version"`
}

// HoodieSavepointMetadata is the content of a completed T.savepoint.
type HoodieSavepointMetadata struct {
	SavepointedBy     string                                      `avro:"savepointedBy"`
	SavepointedAt     int64                                       `avro:"savepointedAt"`
	Comments          string                                      `avro:"comments"`
	PartitionMetadata map[string]HoodieSavepointPartitionMetadata `avro:"partitionMetadata"`
	Version           *int32                                      `avro:"version"`
}

// HoodieSavepointPartitionMetadata lists the base files a savepoint keeps in
// one partition.
type HoodieSavepointPartitionMetadata struct {
	PartitionPath     string   `avro:"partitionPath"`
	SavepointDataFile []string `avro:"savepointDataFile"`
}

func (*HoodieCompactionPlan) avroName() string           { return "HoodieCompactionPlan" }
func (*HoodieCleanerPlan) avroName() string              { return "HoodieCleanerPlan" }
func (*HoodieCleanMetadata) avroName() string            { return "HoodieCleanMetadata" }
func (*HoodieRollbackPlan) avroName() string             { return "HoodieRollbackPlan" }
func (*HoodieRollbackMetadata) avroName() string         { return "HoodieRollbackMetadata" }
func (*HoodieRequestedReplaceMetadata) avroName() string { return "HoodieRequestedReplaceMetadata" }
func (*HoodieSavepointMetadata) avroName() string        { return "HoodieSavepointMetadata" }
