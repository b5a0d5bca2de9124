package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoodie-lake/hoodie/pipeline"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// ExampleIngest ingests a JSON Lines file into a table it creates: the
// duplicate key is combined and the row without its ordering value is
// rejected (to Rejects, as JSON Lines). A second run finds the file
// unchanged and skips it.
func ExampleIngest() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-pipeline-")
	defer os.RemoveAll(dir)
	short := func(s string) string { return strings.ReplaceAll(s, dir+string(filepath.Separator), "") }
	in := filepath.Join(dir, "events.jsonl")
	_ = os.WriteFile(in, []byte(`{"id":"a","ts":1,"score":10}
{"id":"b","ts":1,"score":20}
{"id":"a","ts":2,"score":11}
{"id":"c","score":30}
`), 0o644)

	loc := filepath.Join(dir, "events")
	st, err := storage.Open(ctx, loc, storage.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var rejects bytes.Buffer
	opts := pipeline.IngestOptions{
		Location: loc,
		Inputs:   []string{in},
		Create:   &table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"}, PrecombineField: "ts"},
		Writer:   writer.Options{IndexDir: filepath.Join(dir, "index")},
		Rejects:  &rejects,
		Events:   pipeline.EventListener{Note: func(n pipeline.Note) { fmt.Println("note:", short(n.Text)) }},
	}
	for range 2 {
		res, err := pipeline.Ingest(ctx, st, opts)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("created %v: %d records, %d rejected, %d commits (%d inserts, %d combined), %d unchanged\n",
			res.Created, res.Records, res.Rejected, len(res.Commits), res.Inserts, res.Combined, res.Unchanged)
	}
	fmt.Print(short(rejects.String()))
	// Output:
	// created true: 3 records, 1 rejected, 1 commits (2 inserts, 1 combined), 0 unchanged
	// note: events.jsonl is unchanged since it was ingested: skipped (--no-resume reads it again)
	// created false: 0 records, 0 rejected, 0 commits (0 inserts, 0 combined), 1 unchanged
	// {"source":"events.jsonl","line":4,"field":"ts","reason":"precombine field is null"}
}

// ExampleCDC applies Debezium change events from a stream (here a string;
// os.Stdin by default) to a table it creates, ordered by their source
// position: the update wins over the insert, the delete removes bob.
func ExampleCDC() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-pipeline-")
	defer os.RemoveAll(dir)
	events := strings.Join([]string{
		`{"op":"c","after":{"id":1,"name":"ann"},"source":{"lsn":10,"ts_ms":1764578400010},"ts_ms":1764578400010}`,
		`{"op":"c","after":{"id":2,"name":"bob"},"source":{"lsn":11,"ts_ms":1764578400011},"ts_ms":1764578400011}`,
		`{"op":"u","before":{"id":1,"name":"ann"},"after":{"id":1,"name":"anne"},"source":{"lsn":12,"ts_ms":1764578400012},"ts_ms":1764578400012}`,
		`{"op":"d","before":{"id":2,"name":"bob"},"source":{"lsn":13,"ts_ms":1764578400013},"ts_ms":1764578400013}`,
	}, "\n") + "\n"

	loc := filepath.Join(dir, "users")
	st, err := storage.Open(ctx, loc, storage.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := pipeline.CDC(ctx, st, pipeline.CDCOptions{
		Location: loc,
		Inputs:   []string{"-"},
		Stdin:    strings.NewReader(events),
		SourceID: "pg.public.users", // checkpoint the stream
		Create:   &table.CreateOptions{Name: "users", RecordKeyFields: []string{"id"}},
		Writer:   writer.Options{IndexDir: filepath.Join(dir, "index")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d events (%d upserts, %d deletes) ordered by %s in %d commit: %d inserts, %d deletes\n",
		res.Events, res.Upserts, res.DeleteEvents, res.Ordering, len(res.Commits), res.Inserts, res.Deletes)
	// Output:
	// 4 events (3 upserts, 1 deletes) ordered by lsn in 1 commit: 1 inserts, 0 deletes
}
