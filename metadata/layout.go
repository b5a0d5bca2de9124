package metadata

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Layout of the metadata table, as Hudi 0.14/0.15 write it.
const (
	// Folder is the metadata table's base, relative to the data table's.
	Folder = timeline.MetaFolder + "/metadata"
	// FilesPartition is the metadata partition listing the data table's
	// partitions and files, the one hoodie maintains.
	FilesPartition = "files"
	// FilesFileID is the file group of the files partition (Hudi gives it
	// one: "<partition>-%04d-0").
	FilesFileID = "files-0000-0"
	// MaxDeltaCommits is hoodie.metadata.compact.max.delta.commits's
	// default: the metadata table is compacted once this many deltacommits
	// followed its last base file.
	MaxDeltaCommits = 10
	// SoloCommitTime is Hudi's SOLO_COMMIT_TIMESTAMP, the initialisation
	// time of a metadata table made before the data table's first commit.
	SoloCommitTime = "00000000000000"

	compactionSuffix = "001" // OperationSuffix COMPACTION
	cleanSuffix      = "002" // OperationSuffix CLEAN
	initSuffix       = "010" // PARTITION_INITIALIZATION_TIME_SUFFIX
	baseExtension    = ".hfile"

	// Hudi's class and names in the metadata table's hoodie.properties.
	payloadClass   = "org.apache.hudi.metadata.HoodieMetadataPayload"
	keyGenClass    = "org.apache.hudi.metadata.HoodieTableMetadataKeyGenerator"
	mergerStrategy = "eeb8d96f-b1e4-49fd-bbf8-28ac514178e5"
	// writeToken is the write token of the files hoodie writes into the
	// metadata table (Java's tokens name Spark tasks; any well-formed one
	// is read alike).
	writeToken = "0-0-0"
)

// Enabled reports whether the data table keeps a metadata table:
// hoodie.table.metadata.partitions lists a partition, or one is being
// built.
func Enabled(cfg *table.Config) bool {
	return len(cfg.MetadataPartitions) > 0 || len(cfg.MetadataPartitionsInflight) > 0
}

// properties is the metadata table's hoodie.properties, as Hudi 0.15
// writes it for the metadata table of dataName.
func properties(dataName string) map[string]string {
	return map[string]string{
		"hoodie.compaction.payload.class":                payloadClass,
		"hoodie.table.type":                              string(table.MergeOnRead),
		"hoodie.archivelog.folder":                       table.DefaultArchiveFolder,
		"hoodie.timeline.layout.version":                 "1",
		"hoodie.table.checksum":                          strconv.FormatUint(uint64(table.Checksum("", dataName+"_metadata")), 10),
		"hoodie.datasource.write.drop.partition.columns": "false",
		"hoodie.table.recordkey.fields":                  "key",
		"hoodie.table.name":                              dataName + "_metadata",
		"hoodie.compaction.record.merger.strategy":       mergerStrategy,
		"hoodie.populate.meta.fields":                    "false",
		"hoodie.table.keygenerator.class":                keyGenClass,
		"hoodie.table.base.file.format":                  "HFILE",
		"hoodie.table.version":                           "6",
	}
}

// formatProperties renders props as a Java properties file with Hudi's
// header comments.
func formatProperties(props map[string]string, now time.Time) []byte {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "#Properties saved on %s\n", now.UTC().Format("2006-01-02T15:04:05.000000000Z"))
	fmt.Fprintf(&b, "#%s\n", now.UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	return []byte(b.String())
}

var (
	baseNameRE = regexp.MustCompile(`^` + regexp.QuoteMeta(FilesFileID) + `_(\d+-\d+-\d+)_(\d+)\.hfile$`)
	logNameRE  = regexp.MustCompile(`^\.` + regexp.QuoteMeta(FilesFileID) + `_(\d+)\.log\.(\d+)_(\d+-\d+-\d+)$`)
)

// baseFileName is the name of the files partition's base file of instant.
func baseFileName(instant string) string {
	return FilesFileID + "_" + writeToken + "_" + instant + baseExtension
}

// logFileName is the name of version v of the files partition's log file
// in the slice based at baseInstant.
func logFileName(baseInstant string, v int) string {
	return "." + FilesFileID + "_" + baseInstant + ".log." + strconv.Itoa(v) + "_" + writeToken
}

// parseBase parses a base file name of the files file group.
func parseBase(name string) (instant string, ok bool) {
	m := baseNameRE.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return m[2], true
}

// logName is a parsed log file name of the files file group.
type logName struct {
	name        string
	baseInstant string
	version     int
	token       string
	size        int64
}

// parseLog parses a log file name of the files file group.
func parseLog(name string) (logName, bool) {
	m := logNameRE.FindStringSubmatch(name)
	if m == nil {
		return logName{}, false
	}
	v, err := strconv.Atoi(m[2])
	if err != nil {
		return logName{}, false
	}
	return logName{name: name, baseInstant: m[1], version: v, token: m[3]}, true
}

// lessLog orders log files as Hudi's HoodieLogFile comparator does within
// one slice: by version, then write token.
func lessLog(a, b logName) bool {
	if a.version != b.version {
		return a.version < b.version
	}
	return a.token < b.token
}
