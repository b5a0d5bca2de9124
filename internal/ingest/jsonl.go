package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Options configure readers.
type Options struct {
	// Schema, if set, is the schema to parse into (e.g. the table's);
	// otherwise it is inferred from the first SampleRows rows.
	Schema *arrow.Schema
	// BatchRows bounds rows per batch. Default 65536.
	BatchRows int
	// SampleRows bounds schema inference. Default 1000.
	SampleRows int
	// Hint, when inferring, gives the types of known fields (e.g. the
	// table's columns): an input field named in Hint takes its type, other
	// fields are inferred (and evolve the table as new nullable columns).
	Hint *arrow.Schema
}

// applyHint replaces inferred types by the hint's for the fields it names.
func applyHint(fs []arrow.Field, hint *arrow.Schema) {
	if hint == nil {
		return
	}
	for i, f := range fs {
		if idx := hint.FieldIndices(f.Name); len(idx) > 0 {
			fs[i].Type = hint.Field(idx[0]).Type
		}
	}
}

func (o *Options) defaults() {
	if o.BatchRows <= 0 {
		o.BatchRows = 65536
	}
	if o.SampleRows <= 0 {
		o.SampleRows = 1000
	}
}

type jsonlReader struct {
	src    string
	sc     *bufio.Scanner
	opts   Options
	schema *arrow.Schema
	line   int64
	queued [][]byte // sampled lines not yet parsed
	qline  int64    // line number of queued[0]
	done   bool
}

// NewJSONL reads JSON Lines: one JSON object per line; blank lines are
// skipped.
func NewJSONL(r io.Reader, source string, opts Options) (Reader, error) {
	opts.defaults()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	jr := &jsonlReader{src: source, sc: sc, opts: opts, schema: opts.Schema}
	if jr.schema == nil {
		if err := jr.infer(); err != nil {
			return nil, err
		}
	}
	return jr, nil
}

func (r *jsonlReader) Schema() *arrow.Schema { return r.schema }
func (r *jsonlReader) Close() error          { return nil }

// kinds observed per field during inference.
type kindSet struct{ ints, floats, strs, bools, nested bool }

func (r *jsonlReader) infer() error {
	fields := map[string]*kindSet{}
	var order []string
	r.qline = r.line + 1
	for len(r.queued) < r.opts.SampleRows && r.sc.Scan() {
		r.line++
		b := bytes.TrimSpace(r.sc.Bytes())
		r.queued = append(r.queued, append([]byte(nil), b...))
		if len(b) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			continue // reported when parsed
		}
		if _, reason := JSONObjectProblem(b, m, nil); reason != "" {
			continue // reported when parsed (its names may be garbled)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ks := fields[k]
			if ks == nil {
				ks = &kindSet{}
				fields[k] = ks
				order = append(order, k)
			}
			v := bytes.TrimSpace(m[k])
			switch {
			case len(v) == 0 || string(v) == "null":
			case v[0] == '"':
				ks.strs = true
			case v[0] == 't' || v[0] == 'f':
				ks.bools = true
			case v[0] == '{' || v[0] == '[':
				ks.nested = true
			default:
				if _, err := strconv.ParseInt(string(v), 10, 64); err == nil {
					ks.ints = true
				} else {
					ks.floats = true
				}
			}
		}
	}
	if err := r.sc.Err(); err != nil {
		return fmt.Errorf("ingest: %s: %w", r.src, err)
	}
	if len(order) == 0 {
		return fmt.Errorf("%w: %s has no JSON object to infer a schema from", ErrSchema, r.src)
	}
	fs := make([]arrow.Field, len(order))
	for i, name := range order {
		ks := fields[name]
		var t arrow.DataType = arrow.BinaryTypes.String
		switch {
		case ks.strs || ks.nested:
		case ks.bools && !ks.ints && !ks.floats:
			t = arrow.FixedWidthTypes.Boolean
		case ks.floats && !ks.bools:
			t = arrow.PrimitiveTypes.Float64
		case ks.ints && !ks.bools:
			t = arrow.PrimitiveTypes.Int64
		}
		fs[i] = arrow.Field{Name: name, Type: t, Nullable: true}
	}
	applyHint(fs, r.opts.Hint)
	r.schema = arrow.NewSchema(fs, nil)
	return nil
}

func (r *jsonlReader) nextLine() ([]byte, int64, bool) {
	if len(r.queued) > 0 {
		b := r.queued[0]
		r.queued = r.queued[1:]
		n := r.qline
		r.qline++
		return b, n, true
	}
	if !r.sc.Scan() {
		return nil, 0, false
	}
	r.line++
	return bytes.TrimSpace(r.sc.Bytes()), r.line, true
}

func (r *jsonlReader) Next() (*Batch, error) {
	if r.done {
		return nil, io.EOF
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, r.schema)
	defer bld.Release()
	out := &Batch{}
	rows := 0
	for rows < r.opts.BatchRows {
		b, line, ok := r.nextLine()
		if !ok {
			if err := r.sc.Err(); err != nil {
				return nil, fmt.Errorf("ingest: %s line %d: %w", r.src, r.line+1, err)
			}
			r.done = true
			break
		}
		if len(b) == 0 {
			continue
		}
		if field, reason := appendJSON(bld, r.schema, b); reason != "" {
			out.Bad = append(out.Bad, BadRow{Source: r.src, Line: line, Field: field, Reason: reason, Raw: truncate(string(b))})
			continue
		}
		out.Lines = append(out.Lines, line)
		rows++
	}
	if rows > 0 {
		out.Rec = bld.NewRecordBatch()
	}
	if rows == 0 && len(out.Bad) == 0 && r.done {
		return nil, io.EOF
	}
	return out, nil
}

// appendJSON parses one JSON object into the builders, all or nothing: on
// a bad value it returns the field and reason and appends nothing.
func appendJSON(bld *array.RecordBuilder, sch *arrow.Schema, line []byte) (field, reason string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return "", "not a JSON object: " + err.Error()
	}
	if !jsonClean(line) {
		names := make([]string, sch.NumFields())
		for i, f := range sch.Fields() {
			names[i] = f.Name
		}
		if field, reason := JSONObjectProblem(line, m, names); reason != "" {
			return field, reason
		}
	}
	vals := make([]any, sch.NumFields())
	for i, f := range sch.Fields() {
		raw, ok := m[f.Name]
		v := bytes.TrimSpace(raw)
		if !ok || len(v) == 0 || string(v) == "null" {
			if !f.Nullable {
				return f.Name, "required field is missing or null"
			}
			continue
		}
		var err error
		vals[i], err = convertJSON(f.Type, v)
		if err != nil {
			return f.Name, err.Error()
		}
	}
	for i, v := range vals {
		appendValue(bld.Field(i), v)
	}
	return "", ""
}

func convertJSON(t arrow.DataType, v []byte) (any, error) {
	switch t.ID() {
	case arrow.STRING:
		if v[0] == '"' {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			return s, nil
		}
		return string(v), nil // numbers, booleans, objects and arrays keep their JSON text
	case arrow.INT64, arrow.INT32, arrow.INT16, arrow.INT8:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			if f, ferr := strconv.ParseFloat(string(v), 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return int64(f), nil
			}
			return nil, fmt.Errorf("want an integer, got %s", truncate(string(v)))
		}
		return checkRange(t, n)
	case arrow.FLOAT64, arrow.FLOAT32:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, fmt.Errorf("want a number, got %s", truncate(string(v)))
		}
		return f, nil
	case arrow.BOOL:
		switch string(v) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("want true or false, got %s", truncate(string(v)))
	}
	return nil, fmt.Errorf("column type %s is not supported for JSON input", t)
}

// checkRange refuses integers that do not fit the column.
func checkRange(t arrow.DataType, n int64) (any, error) {
	lim := map[arrow.Type]int64{arrow.INT32: math.MaxInt32, arrow.INT16: math.MaxInt16, arrow.INT8: math.MaxInt8}[t.ID()]
	if lim != 0 && (n > lim || n < -lim-1) {
		return nil, fmt.Errorf("%d does not fit %s", n, t)
	}
	return n, nil
}

// appendValue appends a converted value (nil = null).
func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Int32Builder:
		b.Append(int32(v.(int64)))
	case *array.Int16Builder:
		b.Append(int16(v.(int64)))
	case *array.Int8Builder:
		b.Append(int8(v.(int64)))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.Float32Builder:
		b.Append(float32(v.(float64)))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	default:
		b.AppendNull()
	}
}
