package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mdtLs runs metadata ls --output json and returns its document.
func mdtLs(t *testing.T, e *e2eEnv, loc string, extra ...string) metadataLsOutput {
	t.Helper()
	out := e.run(t, "", append([]string{"metadata", "ls", "--table", loc, "--output", "json"}, extra...)...)
	decodeJSON(t, "metadata ls", out)
	assert.Equal(t, jsonKeys(reflect.TypeFor[metadataLsOutput]()), keysInOrder(t, json.RawMessage(out)))
	var doc metadataLsOutput
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	return doc
}

// lsFiles maps partition/name of every file metadata ls lists to its size.
func lsFiles(doc metadataLsOutput) map[string]int64 {
	out := map[string]int64{}
	for _, p := range doc.Partitions {
		for _, f := range p.Files {
			out[p.Partition+"/"+f.Name] = f.Bytes
		}
	}
	return out
}

// viewFiles maps partition/name of every file of every visible slice
// (files --all) to its size.
func viewFiles(t *testing.T, e *e2eEnv, loc string) map[string]int64 {
	t.Helper()
	var doc filesOutput
	require.NoError(t, json.Unmarshal([]byte(e.run(t, "", "files", "--table", loc, "--all", "--output", "json")), &doc))
	st := envStorage(t, e, loc)
	out := map[string]int64{}
	for _, s := range doc.Slices {
		names := append([]string{}, s.LogFiles...)
		if s.BaseFile != nil {
			names = append(names, *s.BaseFile)
		}
		for _, n := range names {
			key := n
			if s.Partition != "" {
				key = s.Partition + "/" + n
			}
			info, err := st.Stat(context.Background(), key)
			require.NoError(t, err)
			out[s.Partition+"/"+n] = info.Size
		}
	}
	return out
}

// fails runs the CLI expecting a non-zero exit and returns stdout and
// stderr.
func fails(t *testing.T, e *e2eEnv, args ...string) (string, string) {
	t.Helper()
	out, stderr, err := hoodieCLI(t, "", append(args, e.flags...)...)
	require.Error(t, err, "hoodie %s must fail", strings.Join(args, " "))
	return out, stderr
}

// TestMetadataCLIE2E: a table created with --metadata-table keeps its
// metadata table through two ingests (the second an update: a new file
// version, or a log file on merge-on-read): metadata validate exits 0,
// metadata ls lists exactly the files of the visible slices with their
// sizes (and one partition with --partition), stats says the metadata
// table is on. After metadata disable, validate and ls say there is no
// metadata table and exit non-zero; enable builds it again and validate
// exits 0. A file deleted behind its back is a mismatch validate reports
// (text and json) with a non-zero exit. Locally and on S3.
func TestMetadataCLIE2E(t *testing.T) {
	for _, e := range e2eEnvs(t) {
		for _, typ := range []string{"cow", "mor"} {
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
				out := e.run(t, "", "create", "--table", loc, "--type", typ, "--key", "uuid", "--precombine", "time",
					"--partition", "dt", "--hive-style", "--metadata-table")
				assert.Contains(t, out, "Hudi metadata table: files")
				e.run(t, "", "ingest", "--table", loc, "--index-dir", idx, a)
				e.run(t, "", "ingest", "--table", loc, "--index-dir", idx, b)
				assert.Equal(t, "uuid,score\nu1,9.5\nu2,2.5\nu3,3.5\nu4,4.5\n", e.query(t, loc, "SELECT uuid, score FROM t ORDER BY uuid"))

				out = e.run(t, "", "metadata", "validate", "--table", loc)
				assert.Contains(t, out, "agrees with storage")
				out = e.run(t, "", "metadata", "validate", "--table", loc, "--output", "json")
				decodeJSON(t, "metadata validate", out)
				assert.Equal(t, jsonKeys(reflect.TypeFor[metadataValidateOutput]()), keysInOrder(t, json.RawMessage(out)))
				assert.Contains(t, out, `"mismatches": []`)

				ls := mdtLs(t, &e, loc)
				var parts []string
				for _, p := range ls.Partitions {
					parts = append(parts, p.Partition)
				}
				assert.Equal(t, []string{"dt=2026-11-01", "dt=2026-11-02", "dt=2026-11-03"}, parts)
				files := lsFiles(ls)
				assert.Equal(t, viewFiles(t, &e, loc), files, "metadata ls lists the files of every visible slice")
				assert.Len(t, files, ls.Files)
				if typ == "mor" {
					var logs int
					for f := range files {
						if strings.Contains(f, ".log.") {
							logs++
						}
					}
					assert.Positive(t, logs, "the update went to a log file, which the metadata table lists")
				} else {
					assert.Len(t, ls.Partitions[0].Files, 2, "both versions of the updated file group")
				}
				one := mdtLs(t, &e, loc, "--partition", "dt=2026-11-03")
				require.Len(t, one.Partitions, 1)
				assert.Equal(t, ls.Partitions[2], one.Partitions[0])
				text := e.run(t, "", "metadata", "ls", "--table", loc)
				assert.Contains(t, text, "3 partitions")
				for f := range files {
					assert.Contains(t, text, f[strings.Index(f, "/")+1:])
				}
				_, stderr := fails(t, &e, "metadata", "ls", "--table", loc, "--partition", "dt=2030-01-01")
				assert.Contains(t, stderr, `no partition "dt=2030-01-01"`)

				var s tableStats
				require.NoError(t, json.Unmarshal([]byte(e.run(t, "", "stats", "--table", loc, "--output", "json")), &s))
				assert.True(t, s.MetadataTable)
				assert.Equal(t, []string{"files"}, s.MetadataPartitions)
				assert.Contains(t, e.run(t, "", "stats", "--table", loc), "Hudi metadata table: files (maintained")

				// disable: no metadata table any more.
				out = e.run(t, "", "metadata", "disable", "--table", loc)
				assert.Contains(t, out, "deleted")
				_, stderr = fails(t, &e, "metadata", "validate", "--table", loc)
				assert.Contains(t, stderr, "no Hudi metadata table")
				assert.Contains(t, stderr, "hoodie metadata enable")
				_, stderr = fails(t, &e, "metadata", "ls", "--table", loc)
				assert.Contains(t, stderr, "no Hudi metadata table")
				ok, err := storage.Exists(context.Background(), envStorage(t, &e, loc), ".hoodie/metadata/.hoodie/hoodie.properties")
				require.NoError(t, err)
				assert.False(t, ok, ".hoodie/metadata is gone")
				require.NoError(t, json.Unmarshal([]byte(e.run(t, "", "stats", "--table", loc, "--output", "json")), &s))
				assert.False(t, s.MetadataTable)
				assert.Empty(t, s.MetadataPartitions)
				assert.Contains(t, e.run(t, "", "stats", "--table", loc), "Hudi metadata table: none")
				out = e.run(t, "", "metadata", "disable", "--table", loc, "--output", "json")
				assert.JSONEq(t, `{"location":"`+loc+`","disabled":false}`, out)

				// enable again, from a listing.
				out = e.run(t, "", "metadata", "enable", "--table", loc, "--output", "json")
				decodeJSON(t, "metadata enable", out)
				var en metadataEnableOutput
				require.NoError(t, json.Unmarshal([]byte(out), &en))
				assert.Equal(t, metadataEnableOutput{Location: loc, Partitions: 3, Files: len(files), Bytes: sum(files)}, en)
				e.run(t, "", "metadata", "validate", "--table", loc)
				assert.Equal(t, files, lsFiles(mdtLs(t, &e, loc)))
				out = e.run(t, "", "metadata", "enable", "--table", loc)
				assert.Contains(t, out, "was already enabled")

				// A file deleted behind the metadata table's back.
				var gone string
				for f := range files {
					if gone == "" || f < gone {
						gone = f
					}
				}
				st := envStorage(t, &e, loc)
				require.NoError(t, st.Delete(context.Background(), gone))
				out, stderr = fails(t, &e, "metadata", "validate", "--table", loc)
				assert.Contains(t, out, gone+": listed but not in storage")
				assert.Contains(t, stderr, "1 mismatches")
				out, _ = fails(t, &e, "metadata", "validate", "--table", loc, "--output", "json")
				decodeJSON(t, "metadata validate", out)
				var v metadataValidateOutput
				require.NoError(t, json.Unmarshal([]byte(out), &v))
				require.Len(t, v.Mismatches, 1)
				m := v.Mismatches[0]
				assert.Equal(t, gone, m.Partition+"/"+*m.File)
				assert.Equal(t, "listed but not in storage", m.Problem)
				assert.Nil(t, m.StorageBytes)
				require.NotNil(t, m.MetadataBytes)
				assert.Equal(t, files[gone], *m.MetadataBytes)
			})
		}
	}
}

// TestMetadataCLIEnableE2E: ingest --metadata-table gives an existing
// table without one its metadata table (and later ingests keep it
// without the flag); metadata enable refuses a table with a pending
// instant, saying to roll it back, and succeeds once it is rolled back;
// athena-ddl adds 'hudi.metadata-listing-enabled' only to tables that
// keep a metadata table.
func TestMetadataCLIEnableE2E(t *testing.T) {
	e := e2eEnvs(t)[0]
	for _, typ := range []string{"cow", "mor"} {
		t.Run(typ, func(t *testing.T) {
			loc := e.loc("ev_" + typ)
			idx := filepath.Join(e.dir, "idx_"+typ)
			a := writeFile(t, e.dir, "a.jsonl", lines(`{"uuid":"u1","time":1,"dt":"2026-11-01"}`, `{"uuid":"u2","time":1,"dt":"2026-11-02"}`))
			b := writeFile(t, e.dir, "b.jsonl", lines(`{"uuid":"u1","time":2,"dt":"2026-11-01"}`, `{"uuid":"u3","time":1,"dt":"2026-11-03"}`))
			c := writeFile(t, e.dir, "c.jsonl", lines(`{"uuid":"u4","time":1,"dt":"2026-11-04"}`))
			e.run(t, "", "ingest", "--table", loc, "--type", typ, "--key", "uuid", "--precombine", "time", "--partition", "dt",
				"--hive-style", "--index-dir", idx, a)
			ddl := e.run(t, "", "athena-ddl", "--table", loc)
			assert.NotContains(t, ddl, "hudi.metadata-listing-enabled", "no metadata table")
			_, stderr := fails(t, &e, "metadata", "validate", "--table", loc)
			assert.Contains(t, stderr, "no Hudi metadata table")

			e.run(t, "", "ingest", "--table", loc, "--index-dir", idx, "--metadata-table", b)
			e.run(t, "", "metadata", "validate", "--table", loc)
			var s tableStats
			require.NoError(t, json.Unmarshal([]byte(e.run(t, "", "stats", "--table", loc, "--output", "json")), &s))
			assert.True(t, s.MetadataTable)
			e.run(t, "", "ingest", "--table", loc, "--index-dir", idx, c)
			e.run(t, "", "metadata", "validate", "--table", loc)
			assert.Equal(t, viewFiles(t, &e, loc), lsFiles(mdtLs(t, &e, loc)), "the ingest without the flag kept it in step")

			ddl = e.run(t, "", "athena-ddl", "--table", loc)
			stmts := strings.Split(strings.TrimSuffix(strings.TrimSpace(ddl), ";"), ";\n\n")
			tables := 1
			if typ == "mor" {
				tables = 2
			}
			for _, create := range stmts[:tables] {
				assert.Regexp(t, `TBLPROPERTIES \(\n  'last_commit_time_sync' = '\d{17}',\n  'hudi.metadata-listing-enabled' = 'TRUE'\)$`, create)
			}
			assert.Equal(t, tables, strings.Count(ddl, "hudi.metadata-listing-enabled"))

			// A pending instant: enable refuses and says to roll back.
			e.run(t, "", "metadata", "disable", "--table", loc)
			st := envStorage(t, &e, loc)
			const pending = "20261201000000000"
			action := "commit"
			if typ == "mor" {
				action = "deltacommit"
			}
			require.NoError(t, storage.WriteFile(context.Background(), st, ".hoodie/"+pending+"."+action+".requested", nil, storage.CreateOptions{}))
			require.NoError(t, storage.WriteFile(context.Background(), st, ".hoodie/"+pending+"."+action+".inflight", nil, storage.CreateOptions{}))
			_, stderr = fails(t, &e, "metadata", "enable", "--table", loc)
			for _, want := range []string{"pending instants", pending, "hoodie rollback --table " + loc} {
				assert.Contains(t, stderr, want)
			}
			require.NoError(t, json.Unmarshal([]byte(e.run(t, "", "stats", "--table", loc, "--output", "json")), &s))
			assert.False(t, s.MetadataTable, "the refused enable changed nothing")
			e.run(t, "", "rollback", "--table", loc, pending)
			e.run(t, "", "metadata", "enable", "--table", loc)
			e.run(t, "", "metadata", "validate", "--table", loc)
		})
	}

	// An empty table created with the metadata table: the property alone.
	loc := e.loc("empty")
	sch := writeFile(t, e.dir, "empty.avsc", `{"type":"record","name":"r","fields":[{"name":"id","type":"string"},{"name":"ts","type":"long"}]}`)
	e.run(t, "", "create", "--table", loc, "--key", "id", "--precombine", "ts", "--schema", sch, "--metadata-table")
	ddl := e.run(t, "", "athena-ddl", "--table", loc)
	assert.Contains(t, ddl, "LOCATION\n  '"+loc+"'\nTBLPROPERTIES (\n  'hudi.metadata-listing-enabled' = 'TRUE');")
	assert.NotContains(t, ddl, "last_commit_time_sync")
	e.run(t, "", "metadata", "validate", "--table", loc)
	assert.Empty(t, mdtLs(t, &e, loc).Partitions)
}

// TestMetadataCLIFlagsE2E: the metadata verbs validate their flags before
// touching storage.
func TestMetadataCLIFlagsE2E(t *testing.T) {
	for _, args := range [][]string{
		{"metadata"},
		{"metadata", "enable"},
		{"metadata", "validate", "--table", filepath.Join(t.TempDir(), "none")},
		{"metadata", "ls", "--table", ""},
		{"metadata", "enable", "--table", "x", "extra"},
	} {
		_, err := run(t, args...)
		assert.Error(t, err, "%v", args)
	}
	_, err := run(t, "metadata", "validate", "--table", filepath.Join(t.TempDir(), "none"))
	require.ErrorIs(t, err, table.ErrNotHudiTable)
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// TestMetadataTableFlag: create, ingest, cdc and stream take
// --metadata-table, and the writing verbs hand it to every writer they
// open (writer.Options.MetadataTable; a stream's options cover every
// table it writes or creates).
func TestMetadataTableFlag(t *testing.T) {
	for _, verb := range []string{"create", "ingest", "cdc", "stream"} {
		root := newRootCmd(io.Discard, io.Discard)
		c, _, err := root.Find([]string{verb})
		require.NoError(t, err)
		require.NotNil(t, c.Flags().Lookup("metadata-table"), verb)
	}
	for _, on := range []bool{false, true} {
		a := &ingestArgs{op: "upsert", location: t.TempDir()}
		a.formats.metadataTable = on
		opts, _, err := a.options([]string{"x.jsonl"})
		require.NoError(t, err)
		assert.Equal(t, on, opts.Writer.MetadataTable)
		c := &cdcArgs{order: "auto", onTruncate: "fail", onMessage: "skip", location: t.TempDir()}
		c.formats.metadataTable = on
		copts, _, err := c.options([]string{"x.jsonl"})
		require.NoError(t, err)
		assert.Equal(t, on, copts.Writer.MetadataTable)
	}
	args := []string{"--table", filepath.Join(t.TempDir(), "events"), "--key", "uuid", "--precombine", "ts",
		"--kafka-brokers", "b1:9092", "--topic", "events", "--group", "g1"}
	p, err := planStream(t, args...)
	require.NoError(t, err)
	assert.False(t, p.opts.Writer.MetadataTable)
	p, err = planStream(t, append(args, "--metadata-table")...)
	require.NoError(t, err)
	assert.True(t, p.opts.Writer.MetadataTable)
	require.NoError(t, p.opts.Writer.Validate(), "with the stream's optimistic concurrency")
}
