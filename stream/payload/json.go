package payload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/cdc"
	"github.com/hoodie-lake/hoodie/internal/ingest"
)

// lines are messages turned into JSON objects, one a line: line k+1 comes
// from message idx[k].
type lines struct {
	buf bytes.Buffer
	idx []int
}

func (l *lines) add(i int, js []byte) {
	l.buf.Write(js)
	l.buf.WriteByte('\n')
	l.idx = append(l.idx, i)
}

func (r *Result) bad(i int, field, reason string) {
	r.Bad = append(r.Bad, Bad{Index: i, Field: field, Reason: reason})
}

// jsonBody returns the JSON body of message i's value (its Confluent
// header stripped), or reports the message bad.
func (d *Decoder) jsonBody(i int, v []byte, res *Result) ([]byte, bool) {
	if !d.opts.Confluent {
		return v, true
	}
	body, id, reason := unwrap(v, false)
	if reason != "" {
		res.bad(i, "", reason)
		return nil, false
	}
	if id != 0 && d.opts.SchemaID != 0 && id != d.opts.SchemaID {
		res.bad(i, "", fmt.Sprintf("Confluent schema id %d, want %d", id, d.opts.SchemaID))
		return nil, false
	}
	return body, true
}

// decodeJSON decodes plain JSON objects into one Part of upserts.
func (d *Decoder) decodeJSON(in []Input, table *arrow.Schema, res *Result) error {
	var ls lines
	for i, m := range in {
		if m.Value == nil {
			res.Tombstones++
			continue
		}
		body, ok := d.jsonBody(i, m.Value, res)
		if !ok {
			continue
		}
		body = bytes.TrimSpace(body)
		switch {
		case len(body) == 0:
			res.bad(i, "", "empty message: want a JSON object")
			continue
		case body[0] != '{':
			res.bad(i, "", "not a JSON object")
			continue
		}
		// One line per message, whatever its layout.
		n := ls.buf.Len()
		if err := json.Compact(&ls.buf, body); err != nil {
			ls.buf.Truncate(n)
			res.bad(i, "", "not a JSON object: "+err.Error())
			continue
		}
		ls.buf.WriteByte('\n')
		ls.idx = append(ls.idx, i)
	}
	part := Part{From: 0, To: len(in)}
	if len(ls.idx) > 0 {
		rd, err := d.jsonReader(ls.buf.Bytes(), len(ls.idx), table)
		if err != nil {
			return err
		}
		if part.Upserts, part.UpsertIndex, err = readAll(rd, &ls, table, res); err != nil {
			return err
		}
	}
	res.Parts = append(res.Parts, part)
	return nil
}

// jsonReader parses JSON lines as `hoodie ingest` does, the table's
// fields with the table's types, and the columns in the table's order
// (new ones after it).
func (d *Decoder) jsonReader(b []byte, n int, table *arrow.Schema) (ingest.Reader, error) {
	opts := ingest.Options{Hint: table, SampleRows: n, BatchRows: n + 1, InferDates: d.opts.InferDates}
	rd, err := ingest.NewJSONL(bytes.NewReader(b), "stream", opts)
	if err != nil {
		if errors.Is(err, ingest.ErrSchema) {
			// No line is an object (each one bad): parse with no column,
			// so every line is reported.
			opts.Schema = arrow.NewSchema(nil, nil)
			return ingest.NewJSONL(bytes.NewReader(b), "stream", opts)
		}
		return nil, fmt.Errorf("payload: %w", err)
	}
	inferred := rd.Schema()
	rd.Close()
	var fs []arrow.Field
	done := map[string]bool{}
	if table != nil {
		for _, f := range table.Fields() {
			if idx := inferred.FieldIndices(f.Name); len(idx) > 0 && !done[f.Name] {
				done[f.Name] = true
				fs = append(fs, inferred.Field(idx[0]))
			}
		}
	}
	for _, f := range inferred.Fields() {
		if !done[f.Name] {
			done[f.Name] = true
			fs = append(fs, f)
		}
	}
	opts.Hint, opts.Schema = nil, arrow.NewSchema(fs, nil)
	return ingest.NewJSONL(bytes.NewReader(b), "stream", opts)
}

// readAll reads the one batch of rd, reports its bad rows (and strings
// that are not UTF-8) and leaves out new columns that hold only nulls
// (known is the schema whose columns stay: the table's, with Debezium's
// envelope types and added columns). It returns the batch and the message
// index of each of its rows.
func readAll(rd ingest.Reader, ls *lines, known *arrow.Schema, res *Result) (arrow.RecordBatch, []int, error) {
	defer rd.Close()
	var out arrow.RecordBatch
	var index []int
	for {
		b, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if out != nil {
				out.Release()
			}
			return nil, nil, fmt.Errorf("payload: %w", err)
		}
		for _, bd := range b.Bad {
			res.bad(ls.idx[bd.Line-1], bd.Field, bd.Reason)
		}
		if b.Rec == nil {
			continue
		}
		if b.Rec.NumCols() == 0 { // {}: nothing to write
			for _, l := range b.Lines {
				res.bad(ls.idx[l-1], "", "the object has no field")
			}
			b.Rec.Release()
			continue
		}
		if out != nil { // BatchRows covers every line
			out.Release()
			b.Rec.Release()
			return nil, nil, errors.New("payload: JSON rows parsed into more than one batch")
		}
		rec, lines, err := dropBad(b, ls, res)
		if err != nil {
			return nil, nil, err
		}
		out = rec
		for _, l := range lines {
			index = append(index, ls.idx[l-1])
		}
	}
	if out == nil {
		return nil, nil, nil
	}
	return dropNullColumns(out, known), index, nil
}

// dropBad removes the rows of b whose strings are not UTF-8 (a backstop:
// the JSON reader refuses them), reporting them. It returns the rows kept
// and their lines.
func dropBad(b *ingest.Batch, ls *lines, res *Result) (arrow.RecordBatch, []int64, error) {
	errs := arrowutil.InvalidUTF8Rows(b.Rec)
	if len(errs) == 0 {
		return b.Rec, b.Lines, nil
	}
	isBad := map[int]bool{}
	for _, ue := range errs {
		if !isBad[ue.Row] {
			isBad[ue.Row] = true
			res.bad(ls.idx[b.Lines[ue.Row]-1], ue.Field, ue.Reason())
		}
	}
	var keep, lines []int64
	for i, l := range b.Lines {
		if !isBad[i] {
			keep = append(keep, int64(i))
			lines = append(lines, l)
		}
	}
	defer b.Rec.Release()
	if len(keep) == 0 {
		return nil, nil, nil
	}
	rec, err := arrowutil.Take(context.Background(), b.Rec, keep)
	if err != nil {
		return nil, nil, fmt.Errorf("payload: %w", err)
	}
	return rec, lines, nil
}

// dropNullColumns leaves out the columns of rec that known does not name
// and that hold only nulls: a field seen null so far gets its type from
// its first value, not from a guess.
func dropNullColumns(rec arrow.RecordBatch, known *arrow.Schema) arrow.RecordBatch {
	if rec == nil {
		return nil
	}
	var keep []string
	dropped := false
	for i, f := range rec.Schema().Fields() {
		isKnown := known != nil && len(known.FieldIndices(f.Name)) > 0
		if !isKnown && rec.Column(i).NullN() == int(rec.NumRows()) {
			dropped = true
			continue
		}
		keep = append(keep, f.Name)
	}
	if !dropped {
		return rec
	}
	out := arrowutil.Project(rec, keep)
	rec.Release()
	return out
}

// decodeDebezium decodes Debezium change events into Parts split at
// truncates, by internal/cdc's rules (those of `hoodie cdc`).
func (d *Decoder) decodeDebezium(in []Input, table *arrow.Schema, res *Result) error {
	from := 0
	var ups, dels lines
	flush := func(to int) error {
		if to <= from {
			return nil
		}
		part := Part{From: from, To: to}
		var err error
		if part.Upserts, part.UpsertIndex, err = d.debeziumRows(&ups, table, res); err == nil {
			part.Deletes, part.DeleteIndex, err = d.debeziumRows(&dels, table, res)
		}
		res.Parts = append(res.Parts, part) // released with res on error
		ups, dels = lines{}, lines{}
		return err
	}
	for i, m := range in {
		if m.Value == nil {
			res.Tombstones++
			continue
		}
		body, ok := d.jsonBody(i, m.Value, res)
		if !ok {
			continue
		}
		ev, err := cdc.Parse(body, d.ord)
		if err != nil {
			var ce *cdc.Error
			if !errors.As(err, &ce) {
				return fmt.Errorf("payload: message %d: %w", i, err)
			}
			res.bad(i, ce.Field, ce.Reason)
			continue
		}
		switch {
		case ev == nil:
			res.Tombstones++
			continue
		case ev.Op == cdc.Message:
			res.Messages++
			continue
		case ev.Op == cdc.Truncate:
			if err := flush(i); err != nil {
				return err
			}
			res.Parts = append(res.Parts, Part{Truncate: true, At: i, Table: ev.Table, From: i, To: i + 1})
			from = i + 1
			continue
		}
		js, del, err := d.state.Row(ev, d.opts.SoftDeletes)
		if err != nil {
			var ce *cdc.Error
			if !errors.As(err, &ce) {
				return fmt.Errorf("payload: message %d: %w", i, err)
			}
			res.bad(i, ce.Field, ce.Reason)
			continue
		}
		if del {
			dels.add(i, js)
		} else {
			ups.add(i, js)
		}
	}
	return flush(len(in))
}

// debeziumRows parses the rows of ls as `hoodie cdc` does.
func (d *Decoder) debeziumRows(ls *lines, table *arrow.Schema, res *Result) (arrow.RecordBatch, []int, error) {
	if len(ls.idx) == 0 {
		return nil, nil, nil
	}
	n := len(ls.idx)
	rd, err := d.state.Reader(ls.buf.Bytes(), table, ingest.Options{SampleRows: n, BatchRows: n + 1})
	if err != nil {
		return nil, nil, fmt.Errorf("payload: %w", err)
	}
	return readAll(rd, ls, d.state.Hint(table), res)
}
