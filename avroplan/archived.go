package avroplan

import (
	"bytes"
	"fmt"

	"github.com/hamba/avro/v2"
)

// Archived timeline records. Hudi's archiver moves old instants out of the
// active timeline into .hoodie/archived/.commits_.archive.<N>_<token>: log
// files whose Avro data blocks (header SCHEMA = HoodieArchivedMetaEntry's
// schema, no INSTANT_TIME) hold one HoodieArchivedMetaEntry per instant
// file (requested, inflight and completed states each get an entry). The
// entry carries the instant (commitTime, actionType, actionState) and the
// decoded content of its file in the field of its action:
//
//	action         state                 field
//	commit         any (content)         hoodieCommitMetadata
//	deltacommit    any (content)         hoodieCommitMetadata
//	replacecommit  COMPLETED             hoodieReplaceCommitMetadata
//	replacecommit  INFLIGHT (content)    HoodieInflightReplaceMetadata
//	replacecommit  REQUESTED (content)   hoodieRequestedReplaceMetadata
//	clean          COMPLETED             hoodieCleanMetadata
//	clean          REQUESTED, INFLIGHT   hoodieCleanerPlan
//	rollback       COMPLETED             hoodieRollbackMetadata
//	savepoint      COMPLETED             hoodieSavePointMetadata
//	compaction     REQUESTED             hoodieCompactionPlan
//
// (Hudi 0.15.0's MetadataConversionUtils.createMetaWrapper.) Commit
// metadata is converted from the instant's JSON to the Avro
// HoodieCommitMetadata, with extraMetadata gaining "ROLLING_STAT": "" as
// Java adds it.
//
// schemas/HoodieArchivedMetaEntry.avsc is org.apache.hudi.avro.model.
// HoodieArchivedMetaEntry.SCHEMA$.toString() from hudi-common-0.15.0.jar
// (Maven Central), byte for byte, like the other schemas here.

// HoodieArchivedMetaEntry is one archived instant file.
type HoodieArchivedMetaEntry struct {
	HoodieCommitMetadata    *HoodieCommitMetadata    `avro:"hoodieCommitMetadata"`
	HoodieCleanMetadata     *HoodieCleanMetadata     `avro:"hoodieCleanMetadata"`
	HoodieRollbackMetadata  *HoodieRollbackMetadata  `avro:"hoodieRollbackMetadata"`
	HoodieSavePointMetadata *HoodieSavepointMetadata `avro:"hoodieSavePointMetadata"`
	CommitTime              *string                  `avro:"commitTime"`
	ActionType              *string                  `avro:"actionType"`
	Version                 *int32                   `avro:"version"`
	HoodieCompactionPlan    *HoodieCompactionPlan    `avro:"hoodieCompactionPlan"`
	HoodieCleanerPlan       *HoodieCleanerPlan       `avro:"hoodieCleanerPlan"`
	ActionState             *string                  `avro:"actionState"`
	// HoodieReplaceCommitMetadata is a completed replacecommit's metadata.
	HoodieReplaceCommitMetadata *HoodieReplaceCommitMetadata `avro:"hoodieReplaceCommitMetadata"`
	// HoodieRequestedReplaceMetadata is a replacecommit.requested's content.
	HoodieRequestedReplaceMetadata *HoodieRequestedReplaceMetadata `avro:"hoodieRequestedReplaceMetadata"`
	// HoodieInflightReplaceMetadata is a replacecommit.inflight's workload
	// profile (the Avro field name is capitalised in Hudi's schema).
	HoodieInflightReplaceMetadata *HoodieCommitMetadata `avro:"HoodieInflightReplaceMetadata"`
	// StateTransitionTime is when the instant file was written (its
	// modification time, as an instant time).
	StateTransitionTime *string `avro:"stateTransitionTime"`
	// The deprecated hoodieCompactionMetadata and the hoodieIndexCommitMetadata
	// fields are left to their null defaults.
}

// ArchivedMetaEntryVersion is the version Java's archiver leaves on
// entries (the schema default).
const ArchivedMetaEntryVersion int32 = 1

// HoodieCommitMetadata is the Avro form of commit metadata in archived
// entries (the active timeline holds it as JSON).
type HoodieCommitMetadata struct {
	PartitionToWriteStats *map[string][]HoodieWriteStat `avro:"partitionToWriteStats"`
	ExtraMetadata         *map[string]string            `avro:"extraMetadata"`
	Version               *int32                        `avro:"version"`
	OperationType         *string                       `avro:"operationType"`
}

// HoodieReplaceCommitMetadata is the Avro form of replacecommit metadata.
type HoodieReplaceCommitMetadata struct {
	PartitionToWriteStats     *map[string][]HoodieWriteStat `avro:"partitionToWriteStats"`
	ExtraMetadata             *map[string]string            `avro:"extraMetadata"`
	Version                   *int32                        `avro:"version"`
	OperationType             *string                       `avro:"operationType"`
	PartitionToReplaceFileIds *map[string][]string          `avro:"partitionToReplaceFileIds"`
}

// HoodieWriteStat is the Avro form of a write stat (a subset of the JSON
// HoodieWriteStat's fields).
type HoodieWriteStat struct {
	FileID                       *string `avro:"fileId"`
	Path                         *string `avro:"path"`
	PrevCommit                   *string `avro:"prevCommit"`
	NumWrites                    *int64  `avro:"numWrites"`
	NumDeletes                   *int64  `avro:"numDeletes"`
	NumUpdateWrites              *int64  `avro:"numUpdateWrites"`
	TotalWriteBytes              *int64  `avro:"totalWriteBytes"`
	TotalWriteErrors             *int64  `avro:"totalWriteErrors"`
	PartitionPath                *string `avro:"partitionPath"`
	TotalLogRecords              *int64  `avro:"totalLogRecords"`
	TotalLogFiles                *int64  `avro:"totalLogFiles"`
	TotalUpdatedRecordsCompacted *int64  `avro:"totalUpdatedRecordsCompacted"`
	NumInserts                   *int64  `avro:"numInserts"`
	TotalLogBlocks               *int64  `avro:"totalLogBlocks"`
	TotalCorruptLogBlock         *int64  `avro:"totalCorruptLogBlock"`
	TotalRollbackBlocks          *int64  `avro:"totalRollbackBlocks"`
	FileSizeInBytes              *int64  `avro:"fileSizeInBytes"`
}

func (*HoodieArchivedMetaEntry) avroName() string { return "HoodieArchivedMetaEntry" }

// MarshalArchivedEntry returns the plain Avro binary datum of e in the
// HoodieArchivedMetaEntry schema (ArchivedEntrySchemaJSON), as an Avro data
// block of an archive log file holds it.
func MarshalArchivedEntry(e *HoodieArchivedMetaEntry) ([]byte, error) {
	s, err := schemaFor(e.avroName())
	if err != nil {
		return nil, err
	}
	b, err := avro.Marshal(s.schema, e)
	if err != nil {
		return nil, fmt.Errorf("avroplan: encode HoodieArchivedMetaEntry: %w", err)
	}
	return b, nil
}

// UnmarshalArchivedEntry decodes one datum written in writerSchema (the
// SCHEMA header of the block that held it; "" means Hudi 0.15.0's schema),
// resolving it against Hudi 0.15.0's schema.
func UnmarshalArchivedEntry(datum []byte, writerSchema string) (*HoodieArchivedMetaEntry, error) {
	e := &HoodieArchivedMetaEntry{}
	ent, err := schemaFor(e.avroName())
	if err != nil {
		return nil, err
	}
	s := ent.schema
	if writerSchema != "" && writerSchema != ent.json {
		w, err := parseSchema(writerSchema)
		if err != nil {
			return nil, fmt.Errorf("%w: writer schema: %w", ErrCorrupt, err)
		}
		if s, err = resolve(ent.schema, w); err != nil {
			return nil, err
		}
	}
	if err := avro.NewDecoderForSchema(s, bytes.NewReader(datum)).Decode(e); err != nil {
		return nil, fmt.Errorf("%w: decode HoodieArchivedMetaEntry: %w", ErrCorrupt, err)
	}
	return e, nil
}

// ArchivedEntrySchemaJSON is Hudi 0.15.0's HoodieArchivedMetaEntry schema,
// byte for byte as Java's archiver puts it in the SCHEMA header of archive
// log blocks.
func ArchivedEntrySchemaJSON() (string, error) {
	return SchemaJSON(&HoodieArchivedMetaEntry{})
}
