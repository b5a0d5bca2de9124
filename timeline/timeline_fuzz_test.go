package timeline_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/require"
)

// FuzzInstantFileName checks that ParseFileName never panics, that every
// name it accepts is exactly the FileName of the instant it returns, and
// that every instant it returns renders and parses back to itself. The
// committed corpus (testdata/fuzz/FuzzInstantFileName) holds every
// .hoodie/ entry name of the Spark-written samples.
func FuzzInstantFileName(f *testing.F) {
	for _, s := range []string{
		"20240418173213674.commit", "20240418173213674.inflight", "20240418173213674.commit.requested",
		"20240418173213674.compaction.requested", "20240418173213674.savepoint.inflight",
		"20240418173213.deltacommit", "hoodie.properties", ".20240418173213674.commit", "2024041817321367a.commit",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		inst, ok := timeline.ParseFileName(name)
		if !ok {
			require.Equal(t, timeline.Instant{}, inst)
			return
		}
		require.NoError(t, timeline.ValidateInstantTime(inst.Timestamp))
		got, err := inst.FileName()
		require.NoError(t, err, "parsed instant %s has no file name", inst)
		require.Equal(t, name, got)
		again, ok := timeline.ParseFileName(got)
		require.True(t, ok)
		require.Equal(t, inst, again)
		// The instant time alone names a real moment or is refused cleanly.
		if _, err := timeline.ParseInstantTime(inst.Timestamp); err != nil {
			require.ErrorIs(t, err, timeline.ErrInvalidInstant)
		}
	})
}

// FuzzCommitMetadata checks commit metadata JSON: ParseCommitMetadata
// never panics; its errors carry the package prefix; and parse → Marshal →
// parse is stable (the second parse equals the first, and marshalling it
// again yields the same bytes). The committed corpus
// (testdata/fuzz/FuzzCommitMetadata) holds the completed commit,
// deltacommit and replacecommit files of the Spark-written samples.
func FuzzCommitMetadata(f *testing.F) {
	for _, s := range []string{
		"", "{}", "null", "[]", `{"partitionToWriteStats":{"a":[{"fileId":"f","logVersion":1,"recordsStats":null}]}}`,
		`{"partitionToWriteStats":{"":[{"recordsStats":{"x":[1,2]},"minEventTime":null,"runtimeStats":{}}]},"extraMetadata":{"schema":"\u00e9\ud800"}}`,
		`{"partitionToReplaceFileIds":{"p":["a","b"]},"compacted":true,"operationType":"INSERT_OVERWRITE"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := timeline.ParseCommitMetadata(in)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "timeline: "), "error %q lacks the package prefix", err)
			return
		}
		out, err := m.Marshal()
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "timeline: "), "error %q lacks the package prefix", err)
			return
		}
		require.True(t, json.Valid(out), "Marshal wrote invalid JSON %q", out)
		m2, err := timeline.ParseCommitMetadata(out)
		require.NoError(t, err, "re-parse of %q", out)
		out2, err := m2.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(out), string(out2), "Marshal(Parse(Marshal(m))) differs")
		m3, err := timeline.ParseCommitMetadata(out2)
		require.NoError(t, err)
		require.Equal(t, m2, m3)
		// Derived views never panic and agree with the stats.
		_, _, _, _, _, files := m2.Totals()
		require.Len(t, m2.Stats(), files)
		_ = m2.ReplacedFileIDs()
	})
}
