package avroplan_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
)

func ptr[T any](v T) *T { return &v }

// unzipFixture unzips the named fixture and returns the table's directory.
func unzipFixture(t *testing.T, fixture string) string {
	t.Helper()
	for _, f := range fixtures.All(t) {
		if f.Name == fixture {
			return fixtures.Unzip(t, f.Zip)
		}
	}
	t.Fatalf("fixture %s not found", fixture)
	return ""
}

// timelineFile returns the name and bytes of the one file in the table's
// .hoodie directory whose name ends in suffix (".rollback.requested"). The
// fixtures are generated from their SQL, so instant times are not fixed.
func timelineFile(t *testing.T, dir, suffix string) (string, []byte) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ".hoodie"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), suffix) {
			names = append(names, e.Name())
		}
	}
	require.Len(t, names, 1, "*%s in %s", suffix, dir)
	b, err := os.ReadFile(filepath.Join(dir, ".hoodie", names[0]))
	require.NoError(t, err)
	return names[0], b
}

const rollbackFixture = "mor/parquet/v6_nonpartitioned_rollback"

// rollbackSample is what v6_nonpartitioned_rollback's SQL implies: the
// first INSERT's deltacommit wrote one base file (file group fileID), the
// second INSERT (Alice updated into a log file, Diana into a new base file)
// was rolled back by the rollback instant, the third INSERT came after it.
type rollbackSample struct {
	dir      string
	first    string // the first deltacommit's instant time
	fileID   string // the first INSERT's file group
	rollback string // the rollback's instant time
	third    string // the last deltacommit's instant time
}

func loadRollbackSample(t *testing.T) rollbackSample {
	t.Helper()
	s := rollbackSample{dir: unzipFixture(t, rollbackFixture)}
	entries, err := os.ReadDir(filepath.Join(s.dir, ".hoodie"))
	require.NoError(t, err)
	var deltas []string
	for _, e := range entries {
		if ts, ok := strings.CutSuffix(e.Name(), ".deltacommit"); ok {
			deltas = append(deltas, ts)
		}
		if ts, ok := strings.CutSuffix(e.Name(), ".rollback"); ok {
			s.rollback = ts
		}
	}
	sort.Strings(deltas)
	require.Len(t, deltas, 2, "the rolled-back deltacommit is gone")
	s.first, s.third = deltas[0], deltas[1]
	require.NotEmpty(t, s.rollback)
	require.Less(t, s.first, s.rollback)
	require.Less(t, s.rollback, s.third)
	bases, err := filepath.Glob(filepath.Join(s.dir, "*.parquet"))
	require.NoError(t, err)
	require.Len(t, bases, 1, "the rolled-back INSERT's base file is deleted")
	base := filepath.Base(bases[0])
	require.True(t, strings.HasSuffix(base, "_"+s.first+".parquet"), base)
	s.fileID, _, _ = strings.Cut(base, "_")
	return s
}

// checkRolledBackInstant: the rolled-back instant is the second INSERT's,
// between the first deltacommit and the rollback.
func (s rollbackSample) checkRolledBackInstant(t *testing.T, info avroplan.HoodieInstantInfo) {
	t.Helper()
	assert.Equal(t, "deltacommit", info.Action)
	assert.Regexp(t, `^\d{17}$`, info.CommitTime)
	assert.Less(t, s.first, info.CommitTime)
	assert.Less(t, info.CommitTime, s.rollback)
}

// checkDeletedBase: path is the rolled-back INSERT's base file (Diana's new
// file group), absolute, in the table's directory, and gone from the table.
func (s rollbackSample) checkDeletedBase(t *testing.T, path, rolled string) {
	t.Helper()
	assert.True(t, strings.HasPrefix(path, "/"), path)
	dir, base := filepath.Split(path)
	assert.Equal(t, "v6_nonpartitioned_rollback", filepath.Base(dir), path)
	assert.Regexp(t, `^[0-9a-f-]{36}-0_\d+-\d+-\d+_`+rolled+`\.parquet$`, base)
	assert.NotContains(t, base, s.fileID)
	assert.NoFileExists(t, filepath.Join(s.dir, base))
}

// checkLog: path is file:<table dir>/.<fileID>_<first>.log.<version>_<token>
// and the log file is in the table.
func (s rollbackSample) checkLog(t *testing.T, path string, version int) {
	t.Helper()
	rest, ok := strings.CutPrefix(path, "file:/")
	require.True(t, ok, path)
	dir, base := filepath.Split("/" + rest)
	assert.Equal(t, "v6_nonpartitioned_rollback", filepath.Base(dir), path)
	assert.True(t, strings.HasPrefix(base, fmt.Sprintf(".%s_%s.log.%d_", s.fileID, s.first, version)), path)
	assert.FileExists(t, filepath.Join(s.dir, base))
}

func TestDecodeSparkRollbackPlan(t *testing.T) {
	s := loadRollbackSample(t)
	_, b := timelineFile(t, s.dir, ".rollback.requested")
	var p avroplan.HoodieRollbackPlan
	require.NoError(t, avroplan.Decode(bytes.NewReader(b), &p))

	require.NotNil(t, p.InstantToRollback)
	s.checkRolledBackInstant(t, *p.InstantToRollback)
	rolled := p.InstantToRollback.CommitTime
	assert.Equal(t, ptr(avroplan.RollbackPlanVersion), p.Version)
	require.Len(t, p.RollbackRequests, 2)

	// One request deletes the failed commit's base file, the other appends a
	// rollback block to the log file it wrote.
	var files, logs []string
	for _, r := range p.RollbackRequests {
		assert.Equal(t, "", r.PartitionPath)
		files = append(files, r.FilesToBeDeleted...)
		if r.LogBlocksToBeDeleted == nil {
			continue
		}
		for path, size := range *r.LogBlocksToBeDeleted {
			logs = append(logs, path)
			assert.Positive(t, size)
			assert.Equal(t, ptr(s.fileID), r.FileID)
			assert.Equal(t, ptr(s.first), r.LatestBaseInstant)
		}
	}
	require.Len(t, files, 1)
	s.checkDeletedBase(t, files[0], rolled)
	require.Len(t, logs, 1)
	s.checkLog(t, logs[0], 1)
}

func TestDecodeSparkRollbackMetadata(t *testing.T) {
	s := loadRollbackSample(t)
	_, b := timelineFile(t, s.dir, ".rollback")
	var m avroplan.HoodieRollbackMetadata
	require.NoError(t, avroplan.Decode(bytes.NewReader(b), &m))

	assert.Equal(t, s.rollback, m.StartRollbackTime)
	require.Len(t, m.CommitsRollback, 1)
	rolled := m.CommitsRollback[0]
	s.checkRolledBackInstant(t, avroplan.HoodieInstantInfo{CommitTime: rolled, Action: "deltacommit"})
	assert.Equal(t, []avroplan.HoodieInstantInfo{{CommitTime: rolled, Action: "deltacommit"}}, m.InstantsRollback)
	assert.Equal(t, ptr(avroplan.RollbackMetadataVersion), m.Version)
	assert.Equal(t, int32(1), m.TotalFilesDeleted)
	assert.Positive(t, m.TimeTakenInMillis)

	require.Len(t, m.PartitionMetadata, 1)
	pm, ok := m.PartitionMetadata[""]
	require.True(t, ok, "non-partitioned table keys metadata by empty partition path")
	assert.Equal(t, "", pm.PartitionPath)
	require.Len(t, pm.SuccessDeleteFiles, 1)
	s.checkDeletedBase(t, pm.SuccessDeleteFiles[0], rolled)
	assert.Empty(t, pm.FailedDeleteFiles)
	// The rollback block went into a new log file, version 2, written by
	// task 1-0-1; the failed commit's own log file (version 1) is listed.
	require.NotNil(t, pm.RollbackLogFiles)
	require.Len(t, *pm.RollbackLogFiles, 1)
	for path, size := range *pm.RollbackLogFiles {
		s.checkLog(t, path, 2)
		assert.True(t, strings.HasSuffix(path, ".log.2_1-0-1"), path)
		assert.Positive(t, size)
	}
	require.NotNil(t, pm.LogFilesFromFailedCommit)
	require.Len(t, *pm.LogFilesFromFailedCommit, 1)
	for path := range *pm.LogFilesFromFailedCommit {
		s.checkLog(t, path, 1)
	}
}

func TestDecodeSparkRequestedReplaceMetadata(t *testing.T) {
	for _, fixture := range []string{
		"cow/v6_simplekeygen_nonhivestyle_overwritetable",
		"mor/parquet/v6_simplekeygen_nonhivestyle_overwritetable",
	} {
		t.Run(fixture, func(t *testing.T) {
			_, b := timelineFile(t, unzipFixture(t, fixture), ".replacecommit.requested")
			var m avroplan.HoodieRequestedReplaceMetadata
			require.NoError(t, avroplan.Decode(bytes.NewReader(b), &m))
			// Spark's insert_overwrite_table writes an all-null record: the
			// datum is 00 00 00 02 (three null branches, then version's
			// null, branch 1 of ["int","null"]).
			assert.Equal(t, avroplan.HoodieRequestedReplaceMetadata{}, m)
			require.GreaterOrEqual(t, len(b), 16+4)
			assert.Equal(t, []byte{0, 0, 0, 2}, b[len(b)-16-4:len(b)-16])
		})
	}
}

// TestSparkHeadersMatchSchemaJSON: the writer schemas Java put in the
// samples are exactly the schemas Encode writes.
func TestSparkHeadersMatchSchemaJSON(t *testing.T) {
	for _, tc := range []struct {
		fixture, suffix string
		rec             avroplan.Record
	}{
		{rollbackFixture, ".rollback.requested", &avroplan.HoodieRollbackPlan{}},
		{rollbackFixture, ".rollback", &avroplan.HoodieRollbackMetadata{}},
		{"cow/v6_simplekeygen_nonhivestyle_overwritetable", ".replacecommit.requested", &avroplan.HoodieRequestedReplaceMetadata{}},
	} {
		t.Run(tc.suffix, func(t *testing.T) {
			_, b := timelineFile(t, unzipFixture(t, tc.fixture), tc.suffix)
			meta, _ := containerHeader(t, b)
			js, err := avroplan.SchemaJSON(tc.rec)
			require.NoError(t, err)
			assert.Equal(t, js, string(meta["avro.schema"]))
			assert.Equal(t, []string{"avro.schema"}, keys(meta), "Java writes no avro.codec for the null codec")
		})
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// containerHeader parses an Avro container header independently of the
// package: magic, metadata map, sync. It returns the metadata and the rest.
func containerHeader(t *testing.T, b []byte) (map[string][]byte, []byte) {
	t.Helper()
	require.True(t, bytes.HasPrefix(b, []byte("Obj\x01")), "magic")
	b = b[4:]
	long := func() int64 {
		var u uint64
		for shift := 0; ; shift += 7 {
			require.NotEmpty(t, b)
			c := b[0]
			b = b[1:]
			u |= uint64(c&0x7f) << shift
			if c&0x80 == 0 {
				return int64(u>>1) ^ -int64(u&1)
			}
		}
	}
	bytesVal := func() []byte {
		n := long()
		require.LessOrEqual(t, n, int64(len(b)))
		v := b[:n]
		b = b[n:]
		return v
	}
	meta := map[string][]byte{}
	for n := long(); n != 0; n = long() {
		require.Positive(t, n)
		for range n {
			k := bytesVal()
			meta[string(k)] = bytesVal()
		}
	}
	require.GreaterOrEqual(t, len(b), 16)
	return meta, b[16:]
}

func roundTripCases() []avroplan.Record {
	return []avroplan.Record{
		&avroplan.HoodieCompactionPlan{
			Operations: []avroplan.HoodieCompactionOperation{
				{
					BaseInstantTime: ptr("20250126040823628"),
					DeltaFilePaths:  []string{".f1-0_20250126040823628.log.1_0-33-43", ".f1-0_20250126040823628.log.2_1-0-1"},
					DataFilePath:    ptr("f1-0_0-10-12_20250126040823628.parquet"),
					FileID:          ptr("f1-0"),
					PartitionPath:   ptr("2025/01/26"),
					Metrics:         ptr(map[string]float64{"TOTAL_LOG_FILES": 2, "TOTAL_IO_MB": 1.5}),
				},
				{BaseInstantTime: ptr("20250126040823629"), FileID: ptr("f2-0"), PartitionPath: ptr("")},
			},
			ExtraMetadata:          ptr(map[string]string{"k": "v"}),
			Version:                ptr(avroplan.CompactionPlanVersion),
			PreserveHoodieMetadata: ptr(true),
		},
		&avroplan.HoodieCompactionPlan{
			Version:  ptr(avroplan.CompactionPlanVersion),
			Strategy: &avroplan.HoodieCompactionStrategy{CompactorClassName: ptr("org.apache.hudi.table.action.compact.LogCompactionExecutionHelper"), StrategyParams: ptr(map[string]string{"a": "b"}), Version: ptr(int32(1))},
		},
		&avroplan.HoodieCleanerPlan{
			EarliestInstantToRetain:      &avroplan.HoodieActionInstant{Timestamp: "20250126040823628", Action: "deltacommit", State: "COMPLETED"},
			LastCompletedCommitTimestamp: "20250126060846931",
			Policy:                       "KEEP_LATEST_COMMITS",
			Version:                      ptr(avroplan.CleanerPlanVersion),
			FilePathsToBeDeletedPerPartition: ptr(map[string][]avroplan.HoodieCleanFileInfo{
				"p1": {{FilePath: ptr("file:/t/p1/a.parquet"), IsBootstrapBaseFile: ptr(false)}},
				"p2": {{FilePath: ptr("file:/t/p2/b.parquet")}},
			}),
			FilesToBeDeletedPerPartition: ptr(map[string][]string{"p1": {"a.parquet"}}),
			PartitionsToBeDeleted:        []string{"p3"},
			ExtraMetadata:                ptr(map[string]string{"x": "y"}),
		},
		&avroplan.HoodieCleanMetadata{
			StartCleanTime:               "20250126070000000",
			TimeTakenInMillis:            42,
			TotalFilesDeleted:            2,
			EarliestCommitToRetain:       "20250126040823628",
			LastCompletedCommitTimestamp: "20250126060846931",
			PartitionMetadata: map[string]avroplan.HoodieCleanPartitionMetadata{
				"p1": {PartitionPath: "p1", Policy: "KEEP_LATEST_COMMITS", DeletePathPatterns: []string{"a.parquet"}, SuccessDeleteFiles: []string{"a.parquet"}, FailedDeleteFiles: []string{"b.parquet"}, IsPartitionDeleted: ptr(false)},
			},
			Version:                    ptr(avroplan.CleanMetadataVersion),
			BootstrapPartitionMetadata: ptr(map[string]avroplan.HoodieCleanPartitionMetadata{"p2": {PartitionPath: "p2", Policy: "KEEP_LATEST_COMMITS", DeletePathPatterns: []string{"c"}, SuccessDeleteFiles: []string{"c"}, FailedDeleteFiles: []string{"d"}}}),
			ExtraMetadata:              ptr(map[string]string{"x": "y"}),
		},
		&avroplan.HoodieRollbackPlan{
			InstantToRollback: &avroplan.HoodieInstantInfo{CommitTime: "20250126040826878", Action: "deltacommit"},
			RollbackRequests: []avroplan.HoodieRollbackRequest{
				{PartitionPath: "p1", FilesToBeDeleted: []string{"file:/t/p1/a.parquet"}},
				{PartitionPath: "p1", FileID: ptr("f1-0"), LatestBaseInstant: ptr("20250126040823628"), FilesToBeDeleted: []string{}, LogBlocksToBeDeleted: ptr(map[string]int64{"file:/t/p1/.f1-0_1.log.1_0-1-1": 1234})},
			},
			Version: ptr(avroplan.RollbackPlanVersion),
		},
		&avroplan.HoodieRollbackMetadata{
			StartRollbackTime: "20250126040936578",
			TimeTakenInMillis: 7,
			TotalFilesDeleted: 1,
			CommitsRollback:   []string{"20250126040826878"},
			PartitionMetadata: map[string]avroplan.HoodieRollbackPartitionMetadata{
				"p1": {PartitionPath: "p1", SuccessDeleteFiles: []string{"a"}, FailedDeleteFiles: []string{"b"}, RollbackLogFiles: ptr(map[string]int64{"l2": 99}), LogFilesFromFailedCommit: ptr(map[string]int64{"l1": 12})},
			},
			Version:          ptr(avroplan.RollbackMetadataVersion),
			InstantsRollback: []avroplan.HoodieInstantInfo{{CommitTime: "20250126040826878", Action: "deltacommit"}},
		},
		&avroplan.HoodieRequestedReplaceMetadata{OperationType: ptr("INSERT_OVERWRITE_TABLE"), Version: ptr(avroplan.RequestedReplaceMetadataVersion)},
		&avroplan.HoodieRequestedReplaceMetadata{
			OperationType: ptr("CLUSTER"),
			ClusteringPlan: &avroplan.HoodieClusteringPlan{
				InputGroups: []avroplan.HoodieClusteringGroup{{
					Slices:              []avroplan.HoodieSliceInfo{{DataFilePath: ptr("p1/a.parquet"), DeltaFilePaths: []string{"p1/.a.log.1"}, FileID: ptr("a"), PartitionPath: ptr("p1"), Version: ptr(int32(1))}},
					Metrics:             ptr(map[string]float64{"m": 1}),
					NumOutputFileGroups: ptr(int32(1)),
					Version:             ptr(int32(1)),
				}},
				Strategy:               &avroplan.HoodieClusteringStrategy{StrategyClassName: ptr("S"), StrategyParams: ptr(map[string]string{"k": "v"}), Version: ptr(int32(1))},
				ExtraMetadata:          ptr(map[string]string{"e": "f"}),
				Version:                ptr(int32(1)),
				PreserveHoodieMetadata: ptr(true),
			},
			ExtraMetadata: ptr(map[string]string{"e": "f"}),
			Version:       ptr(avroplan.RequestedReplaceMetadataVersion),
		},
		&avroplan.HoodieSavepointMetadata{
			SavepointedBy:     "hoodie",
			SavepointedAt:     1737864000,
			Comments:          "before backfill",
			PartitionMetadata: map[string]avroplan.HoodieSavepointPartitionMetadata{"p1": {PartitionPath: "p1", SavepointDataFile: []string{"a.parquet", "b.parquet"}}},
			Version:           ptr(avroplan.SavepointMetadataVersion),
		},
	}
}

func TestRoundTrip(t *testing.T) {
	for i, rec := range roundTripCases() {
		name, err := avroplan.SchemaJSON(rec)
		require.NoError(t, err)
		t.Run(fmt.Sprintf("%d/%T", i, rec), func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, avroplan.Encode(&buf, rec))
			got := newOf(t, rec)
			require.NoError(t, avroplan.Decode(bytes.NewReader(buf.Bytes()), got))
			assert.Equal(t, rec, got)

			// Header: the release schema, no codec key (null), one record.
			meta, rest := containerHeader(t, buf.Bytes())
			assert.Equal(t, name, string(meta["avro.schema"]))
			assert.NotContains(t, meta, "avro.codec")
			assert.Equal(t, byte(2), rest[0], "block count 1 (zig-zag)")
		})
	}
}

// newOf returns a new zero value of rec's type.
func newOf(t *testing.T, rec avroplan.Record) avroplan.Record {
	t.Helper()
	switch rec.(type) {
	case *avroplan.HoodieCompactionPlan:
		return &avroplan.HoodieCompactionPlan{}
	case *avroplan.HoodieCleanerPlan:
		return &avroplan.HoodieCleanerPlan{}
	case *avroplan.HoodieCleanMetadata:
		return &avroplan.HoodieCleanMetadata{}
	case *avroplan.HoodieRollbackPlan:
		return &avroplan.HoodieRollbackPlan{}
	case *avroplan.HoodieRollbackMetadata:
		return &avroplan.HoodieRollbackMetadata{}
	case *avroplan.HoodieRequestedReplaceMetadata:
		return &avroplan.HoodieRequestedReplaceMetadata{}
	case *avroplan.HoodieSavepointMetadata:
		return &avroplan.HoodieSavepointMetadata{}
	}
	t.Fatalf("unknown record %T", rec)
	return nil
}

func TestDecodeErrors(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, avroplan.Encode(&buf, &avroplan.HoodieRollbackPlan{Version: ptr(int32(1))}))
	full := buf.Bytes()

	t.Run("empty", func(t *testing.T) {
		err := avroplan.Decode(bytes.NewReader(nil), &avroplan.HoodieRollbackPlan{})
		assert.ErrorIs(t, err, avroplan.ErrCorrupt)
	})
	t.Run("json", func(t *testing.T) {
		err := avroplan.Decode(bytes.NewReader([]byte(`{"partitionToWriteStats":{}}`)), &avroplan.HoodieRollbackPlan{})
		assert.ErrorIs(t, err, avroplan.ErrCorrupt)
	})
	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{5, 40, len(full) - 20, len(full) - 1} {
			err := avroplan.Decode(bytes.NewReader(full[:n]), &avroplan.HoodieRollbackPlan{})
			assert.ErrorIs(t, err, avroplan.ErrCorrupt, "cut at %d", n)
		}
	})
	t.Run("no record", func(t *testing.T) {
		_, rest := containerHeader(t, full)
		headerOnly := full[:len(full)-len(rest)]
		err := avroplan.Decode(bytes.NewReader(headerOnly), &avroplan.HoodieRollbackPlan{})
		assert.ErrorIs(t, err, avroplan.ErrNoRecord)
	})
	t.Run("wrong record", func(t *testing.T) {
		err := avroplan.Decode(bytes.NewReader(full), &avroplan.HoodieCompactionPlan{})
		assert.ErrorIs(t, err, avroplan.ErrSchemaMismatch)
		assert.ErrorContains(t, err, "avroplan: ")
	})
}
