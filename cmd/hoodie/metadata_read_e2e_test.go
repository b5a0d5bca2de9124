package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envStorage opens loc with the environment's S3 flags.
func envStorage(t *testing.T, e *e2eEnv, loc string) storage.Storage {
	t.Helper()
	var opts storage.Options
	for i := 0; i < len(e.flags); i++ {
		switch e.flags[i] {
		case "--s3-endpoint":
			i++
			opts.S3.Endpoint = e.flags[i]
		case "--s3-path-style":
			opts.S3.PathStyle = true
		}
	}
	st, err := storage.Open(context.Background(), loc, opts)
	require.NoError(t, err)
	return st
}

// addMetadataTable turns the table at loc, whose metadata table keeps the
// files partition (hoodie metadata enable), into one Spark left with
// metadata indexes hoodie does not maintain: hoodie.table.metadata.partitions
// (and its inflight list) set to parts and inflight, and those partitions
// under .hoodie/metadata with partition metadata, an HFile base file and a
// log file. Their contents are placeholders: hoodie must never read them.
func addMetadataTable(t *testing.T, st storage.Storage, parts, inflight string) {
	t.Helper()
	ctx := context.Background()
	b, err := storage.ReadFile(ctx, st, table.PropertiesFile)
	require.NoError(t, err)
	props, err := table.ParseProperties(strings.NewReader(string(b)))
	require.NoError(t, err)
	require.Equal(t, "files", props[table.KeyMetadataPartitions])
	props[table.KeyMetadataPartitions] = parts
	props[table.KeyMetadataPartitionsInfl] = inflight
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesFile,
		table.FormatProperties(props, table.PropertiesOptions{Last: []string{table.KeyChecksum}}), storage.CreateOptions{}))
	for _, p := range append(strings.Split(parts, ","), strings.Split(inflight, ",")...) {
		if p == "" || p == "files" {
			continue
		}
		for k, v := range map[string]string{
			".hoodie_partition_metadata":                      "#partition metadata\npartitionDepth=1\n",
			p + "-0000-0_0-5-5_00000000000000010.hfile":       "HFILE",
			"." + p + "-0000-0_00000000000000010.log.1_0-0-0": "#HUDI#",
		} {
			require.NoError(t, storage.WriteFile(ctx, st, ".hoodie/metadata/"+p+"/"+k, []byte(v), storage.CreateOptions{}))
		}
	}
}

// storeContent maps every key of st to its content.
func storeContent(t *testing.T, st storage.Storage) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for obj, err := range st.List(ctx, "", "") {
		require.NoError(t, err)
		b, err := storage.ReadFile(ctx, st, obj.Path)
		require.NoError(t, err)
		out[obj.Path] = string(b)
	}
	return out
}

// TestMetadataTableE2E: query, files, timeline and stats read a table that
// keeps a Hudi metadata table with partitions hoodie does not maintain
// (copy-on-write, and merge-on-read with log files; locally and on S3;
// files,column_stats, files,record_index, or an index being built) exactly
// as before it had one; ingest, cdc, compact, clean and rollback refuse it
// with an error naming the metadata partitions and telling how to make the
// table writable, and change nothing. (A metadata table of the files
// partition alone, which hoodie maintains, is tested in
// metadata_e2e_test.go; the real Spark-made table in
// interop/metadata_read_test.go.)
func TestMetadataTableE2E(t *testing.T) {
	// Each run refuses another metadata table hoodie does not maintain.
	variants := [][2]string{{"files,column_stats", ""}, {"files,record_index", ""}, {"files", "column_stats"}, {"files,bloom_filters,column_stats", "record_index"}}
	vi := 0
	for _, e := range e2eEnvs(t) {
		for _, typ := range []string{"cow", "mor"} {
			parts, inflight := variants[vi][0], variants[vi][1]
			vi++
			t.Run(e.name+"/"+typ, func(t *testing.T) {
				loc := e.loc("events_" + typ)
				idx := filepath.Join(e.dir, "idx_"+typ)
				a := writeFile(t, e.dir, "a.jsonl", lines(
					`{"uuid":"u1","time":1,"dt":"2026-11-01","score":1.5}`,
					`{"uuid":"u2","time":1,"dt":"2026-11-01","score":2.5}`,
					`{"uuid":"u3","time":1,"dt":"2026-11-02","score":3.5}`,
				))
				b := writeFile(t, e.dir, "b.jsonl", lines(
					`{"uuid":"u1","time":2,"dt":"2026-11-01","score":9.5}`,
					`{"uuid":"u4","time":1,"dt":"2026-11-03","score":4.5}`,
				))
				e.run(t, "", "ingest", "--table", loc, "--type", typ, "--key", "uuid", "--precombine", "time",
					"--partition", "dt", "--hive-style", "--index-dir", idx, a)
				e.run(t, "", "ingest", "--table", loc, "--index-dir", idx, b)

				const sql = "SELECT uuid, score FROM t ORDER BY uuid"
				reads := func() map[string]string {
					return map[string]string{
						"query":    e.query(t, loc, sql),
						"timeline": e.run(t, "", "timeline", "--table", loc, "--output", "json"),
						"files":    e.run(t, "", "files", "--table", loc, "--all", "--output", "json"),
					}
				}
				want := reads()
				assert.Equal(t, "uuid,score\nu1,9.5\nu2,2.5\nu3,3.5\nu4,4.5\n", want["query"])
				var statsBefore tableStats
				require.NoError(t, json.Unmarshal([]byte(e.run(t, "", "stats", "--table", loc, "--output", "json")), &statsBefore))
				assert.Empty(t, statsBefore.MetadataPartitions)
				if typ == "mor" {
					assert.Positive(t, statsBefore.Latest.LogFiles, "the update went to a log file")
				}

				e.run(t, "", "metadata", "enable", "--table", loc)
				st := envStorage(t, &e, loc)
				addMetadataTable(t, st, parts, inflight)
				before := storeContent(t, st)

				got := reads()
				for k := range want {
					assert.Equal(t, want[k], got[k], "%s reads the table as before it had a metadata table", k)
				}
				var files struct {
					Partitions []string `json:"partitions"`
				}
				require.NoError(t, json.Unmarshal([]byte(got["files"]), &files))
				assert.Equal(t, []string{"dt=2026-11-01", "dt=2026-11-02", "dt=2026-11-03"}, files.Partitions)

				var s tableStats
				require.NoError(t, json.Unmarshal([]byte(e.run(t, "", "stats", "--table", loc, "--output", "json")), &s))
				wantParts := strings.Split(parts, ",")
				if inflight != "" {
					wantParts = append(wantParts, strings.Split(inflight, ",")...)
				}
				assert.Equal(t, wantParts, s.MetadataPartitions)
				assert.False(t, s.MetadataTable, "not one hoodie maintains")
				s.MetadataPartitions = []string{}
				assert.Equal(t, statsBefore, s, "stats as before, but for the metadata table")
				assert.Contains(t, e.run(t, "", "stats", "--table", loc), "Hudi metadata table: "+strings.Join(wantParts, ",")+" (hoodie reads this table but does not write it")
				assert.Equal(t, "n\n4\n", e.query(t, loc, "SELECT count(*) AS n FROM t"))
				assert.Equal(t, "uuid,score\nu1,1.5\nu2,2.5\nu3,3.5\n",
					e.run(t, "", "query", "--table", loc, "--output", "csv", "--as-of", firstInstant(t, got["timeline"]), sql),
					"time travel")

				c := writeFile(t, e.dir, "c.jsonl", lines(`{"uuid":"u5","time":1,"dt":"2026-11-04","score":5.5}`))
				cdcIn := writeFile(t, e.dir, "cdc.jsonl", lines(pgEvent("c", 1, nil, user(9, "zed", "eu", 1))))
				for _, args := range [][]string{
					{"ingest", "--table", loc, "--index-dir", idx, c},
					{"cdc", "--table", loc, "--key", "id", "--index-dir", filepath.Join(e.dir, "cdc_idx_"+typ), cdcIn},
					{"compact", "--table", loc, "--force"},
					{"clean", "--table", loc, "--policy", "KEEP_LATEST_FILE_VERSIONS", "--file-versions-retained", "1"},
					{"rollback", "--table", loc, lastInstant(t, got["timeline"])},
				} {
					_, stderr, err := hoodieCLI(t, "", append(args, e.flags...)...)
					require.Error(t, err, "%s must refuse a table with a metadata table", args[0])
					msgs := []string{"metadata table enabled", fmt.Sprintf("hoodie.table.metadata.partitions=%q", parts), table.MetadataTableAdvice,
						"hoodie.metadata.enable=false", ".hoodie/metadata"}
					if inflight != "" {
						msgs = append(msgs, fmt.Sprintf("hoodie.table.metadata.partitions.inflight=%q", inflight))
					}
					for _, msg := range msgs {
						assert.Contains(t, stderr, msg, "%s: the error says how to proceed", args[0])
					}
				}
				_, stderr, err := hoodieCLI(t, "", append([]string{"metadata", "enable", "--table", loc}, e.flags...)...)
				require.Error(t, err, "metadata enable must refuse a metadata table hoodie does not maintain")
				assert.Contains(t, stderr, table.MetadataTableAdvice)
				assert.Equal(t, viewFiles(t, &e, loc), lsFiles(mdtLs(t, &e, loc)), "metadata ls reads the files partition alone")
				_, stderr, err = hoodieCLI(t, "", append([]string{"metadata", "validate", "--table", loc}, e.flags...)...)
				require.Error(t, err)
				assert.Contains(t, stderr, "unsupported metadata table")
				assert.Equal(t, before, storeContent(t, st), "the refused writes changed nothing")

				// hoodie's own way out: drop the metadata table, write, and
				// build a files-only one again.
				e.run(t, "", "metadata", "disable", "--table", loc)
				e.run(t, "", "ingest", "--table", loc, "--index-dir", idx, c)
				e.run(t, "", "metadata", "enable", "--table", loc)
				e.run(t, "", "metadata", "validate", "--table", loc)
			})
		}
	}
}

// firstInstant and lastInstant pick instants from timeline --output json.
func firstInstant(t *testing.T, timelineJSON string) string {
	t.Helper()
	return instants(t, timelineJSON)[0]
}

func lastInstant(t *testing.T, timelineJSON string) string {
	t.Helper()
	is := instants(t, timelineJSON)
	return is[len(is)-1]
}

func instants(t *testing.T, timelineJSON string) []string {
	t.Helper()
	var rows []timelineRow
	require.NoError(t, json.Unmarshal([]byte(timelineJSON), &rows))
	require.NotEmpty(t, rows)
	var out []string
	for _, r := range rows {
		out = append(out, r.Instant)
	}
	return out
}
