package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
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
	// InferDates infers string columns of ISO-8601 dates as date32 and of
	// ISO-8601 timestamps as timestamp(us, UTC) (see the package doc).
	InferDates bool
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
	in     recordSource
	opts   Options
	schema *arrow.Schema
	queued []record // sampled records not yet parsed
	pos    Position
	done   bool
}

// record is one JSON value of the input: a line of JSON Lines (blank
// lines included, as empty records) or an element of a JSON array.
type record struct {
	b    []byte
	line int64 // the line it starts on
	end  int64 // the byte offset just past it
}

// recordSource yields the records of an input.
type recordSource interface {
	next() (record, bool)
	// err is the error that ended next, if any.
	err() error
	// eof is the position past the whole input (after next returned
	// false without an error).
	eof() Position
}

// NewJSONL reads JSON: JSON Lines (one JSON object per line; blank lines
// are skipped) or, when the first byte that is not white space is "[", one
// JSON array of objects. An input without a JSON value (no byte, only
// white space, or an empty array) is ErrEmpty when no schema is given.
func NewJSONL(r io.Reader, source string, opts Options) (Reader, error) {
	opts.defaults()
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstNonSpace(br)
	if err != nil {
		return nil, fmt.Errorf("ingest: %s: %w", source, err)
	}
	jr := &jsonlReader{src: source, opts: opts, schema: opts.Schema}
	if first == '[' {
		jr.in = newArraySource(br, source)
	} else {
		jr.in = newLineSource(br)
	}
	if jr.schema == nil {
		if first == 0 {
			return nil, fmt.Errorf("%w: %s holds no JSON", ErrEmpty, source)
		}
		if err := jr.infer(); err != nil {
			return nil, err
		}
	}
	return jr, nil
}

// firstNonSpace peeks at the first byte of br that is not JSON white
// space: 0 when the input has none, ' ' when the buffer holds only white
// space (then it is not an array).
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for n := 1; ; n *= 2 {
		b, err := br.Peek(n)
		for _, c := range b {
			switch c {
			case ' ', '\t', '\r', '\n':
			default:
				return c, nil
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return 0, nil
		case errors.Is(err, bufio.ErrBufferFull):
			return ' ', nil
		case err != nil:
			return 0, err
		}
	}
}

// lineSource reads JSON Lines.
type lineSource struct {
	sc   *bufio.Scanner
	line int64
	off  int64 // bytes consumed through the last line scanned
	e    error
}

func newLineSource(r io.Reader) *lineSource {
	ls := &lineSource{}
	ls.sc = bufio.NewScanner(r)
	ls.sc.Buffer(make([]byte, 64<<10), 64<<20)
	ls.sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		ls.off += int64(adv)
		return adv, tok, err
	})
	return ls
}

func (l *lineSource) next() (record, bool) {
	if !l.sc.Scan() {
		if err := l.sc.Err(); err != nil {
			l.e = fmt.Errorf("line %d: %w", l.line+1, err)
		}
		return record{}, false
	}
	l.line++
	return record{b: bytes.TrimSpace(l.sc.Bytes()), line: l.line, end: l.off}, true
}

func (l *lineSource) err() error    { return l.e }
func (l *lineSource) eof() Position { return Position{Line: l.line, Offset: l.off} }

// arraySource reads the elements of one JSON array.
type arraySource struct {
	lc     *lineCounter
	dec    *json.Decoder
	opened bool
	closed bool
	e      error
}

func newArraySource(r io.Reader, source string) *arraySource {
	lc := &lineCounter{r: r, line: 1}
	return &arraySource{lc: lc, dec: json.NewDecoder(lc)}
}

// fail ends the array with err, naming the line where it happened.
func (a *arraySource) fail(err error) {
	off := a.dec.InputOffset()
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		off, err = a.lc.total, io.ErrUnexpectedEOF
	}
	a.e = fmt.Errorf("line %d: JSON array: %w", a.lc.lineAt(off), err)
}

func (a *arraySource) next() (record, bool) {
	if a.e != nil || a.closed {
		return record{}, false
	}
	if !a.opened {
		a.opened = true
		if _, err := a.dec.Token(); err != nil { // [
			a.fail(err)
			return record{}, false
		}
	}
	if !a.dec.More() {
		if _, err := a.dec.Token(); err != nil { // ]
			a.fail(err)
			return record{}, false
		}
		if tok, err := a.dec.Token(); !errors.Is(err, io.EOF) {
			if err == nil {
				err = fmt.Errorf("%v after the array's end", tok)
			}
			a.fail(err)
			return record{}, false
		}
		a.closed = true
		return record{}, false
	}
	var raw json.RawMessage
	if err := a.dec.Decode(&raw); err != nil {
		a.fail(err)
		return record{}, false
	}
	end := a.dec.InputOffset()
	return record{b: raw, line: a.lc.lineAt(end - int64(len(raw))), end: end}, true
}

func (a *arraySource) err() error { return a.e }

func (a *arraySource) eof() Position {
	return Position{Line: a.lc.lineAt(max(a.lc.total-1, 0)), Offset: a.lc.total}
}

// lineCounter passes reads through, keeping the bytes not yet counted so
// that the line of a later offset can be told.
type lineCounter struct {
	r     io.Reader
	buf   []byte // bytes from base on
	base  int64
	line  int64 // line of the byte at base
	total int64
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	c.total += int64(n)
	return n, err
}

// lineAt returns the line of the byte at off (off never goes back).
func (c *lineCounter) lineAt(off int64) int64 {
	if k := min(off-c.base, int64(len(c.buf))); k > 0 {
		c.line += int64(bytes.Count(c.buf[:k], []byte{'\n'}))
		c.buf = c.buf[k:]
		c.base += k
	}
	return c.line
}

func (r *jsonlReader) Schema() *arrow.Schema { return r.schema }
func (r *jsonlReader) Close() error          { return nil }
func (r *jsonlReader) Position() Position    { return r.pos }

// kinds observed per field during inference.
type kindSet struct {
	ints, floats, strs, bools, nested bool
	temporal                          temporalKinds
}

func (r *jsonlReader) infer() error {
	fields := map[string]*kindSet{}
	var order []string
	values := 0
	for len(r.queued) < r.opts.SampleRows {
		rec, ok := r.in.next()
		if !ok {
			break
		}
		rec.b = append([]byte(nil), rec.b...)
		r.queued = append(r.queued, rec)
		b := rec.b
		if len(b) == 0 {
			continue
		}
		values++
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
				if r.opts.InferDates {
					var s string
					if json.Unmarshal(v, &s) == nil {
						ks.temporal.see(s)
					} else {
						ks.temporal.other = true
					}
				}
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
	if err := r.in.err(); err != nil {
		return fmt.Errorf("ingest: %s %w", r.src, err)
	}
	if values == 0 {
		return fmt.Errorf("%w: %s holds no JSON value", ErrEmpty, r.src)
	}
	if len(order) == 0 {
		what := "line"
		if _, ok := r.in.(*arraySource); ok {
			what = "array element"
		}
		return fmt.Errorf("%w: no %s of %s (of the first %d) is a JSON object to infer a schema from", ErrSchema, what, r.src, len(r.queued))
	}
	fs := make([]arrow.Field, len(order))
	for i, name := range order {
		ks := fields[name]
		var t arrow.DataType = arrow.BinaryTypes.String
		switch {
		case ks.strs && !ks.nested && !ks.ints && !ks.floats && !ks.bools && ks.temporal.typ() != nil:
			t = ks.temporal.typ()
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

func (r *jsonlReader) nextRecord() (record, bool) {
	if len(r.queued) > 0 {
		rec := r.queued[0]
		r.queued = r.queued[1:]
		return rec, true
	}
	return r.in.next()
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
		rec, ok := r.nextRecord()
		if !ok {
			if err := r.in.err(); err != nil {
				return nil, fmt.Errorf("ingest: %s %w", r.src, err)
			}
			r.done = true
			r.pos = r.in.eof()
			break
		}
		r.pos = Position{Line: rec.line, Offset: rec.end}
		b := rec.b
		if len(b) == 0 {
			continue
		}
		if field, reason := appendJSON(bld, r.schema, b); reason != "" {
			out.Bad = append(out.Bad, BadRow{Source: r.src, Line: rec.line, Field: field, Reason: reason, Raw: truncate(string(b))})
			continue
		}
		out.Lines = append(out.Lines, rec.line)
		out.Ends = append(out.Ends, rec.end)
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
		AppendValue(bld.Field(i), v)
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
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		if v[0] == '"' {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			cv, _, err := convertTemporal(t, s)
			return cv, err
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			if t.ID() == arrow.TIMESTAMP {
				return nil, fmt.Errorf("want an ISO-8601 timestamp string or an integer in %s since the epoch, got %s", unitName(t.(*arrow.TimestampType)), truncate(string(v)))
			}
			return nil, fmt.Errorf("want a date string (YYYY-MM-DD) or an integer number of days since 1970-01-01, got %s", truncate(string(v)))
		}
		switch t.ID() {
		case arrow.DATE32:
			if n > math.MaxInt32 || n < math.MinInt32 {
				return nil, fmt.Errorf("%d days do not fit a date", n)
			}
			return int32(n), nil
		case arrow.DATE64:
			return n * 86400000, nil
		}
		return n, nil
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

// AppendValue appends a converted value to b (nil: null), in the
// value types the converters of this package return: string, bool, int64
// for every integer type, float64 for both float types, int32 days for
// date32, int64 for date64 and timestamps, []byte for binary types and
// decimal128.Num for decimals. Another builder gets a null.
func AppendValue(b array.Builder, v any) {
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
	case *array.Date32Builder:
		b.Append(arrow.Date32(v.(int32)))
	case *array.Date64Builder:
		b.Append(arrow.Date64(v.(int64)))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(int64)))
	case *array.BinaryBuilder:
		b.Append(v.([]byte))
	case *array.FixedSizeBinaryBuilder:
		b.Append(v.([]byte))
	case *array.Decimal128Builder:
		b.Append(v.(decimal128.Num))
	default:
		b.AppendNull()
	}
}
