package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
)

type csvReader struct {
	src    string
	cr     *csv.Reader
	opts   Options
	header []string
	schema *arrow.Schema
	colOf  []int // schema field -> CSV column, -1 if absent
	queued [][]string
	qlines []int64
	qends  []int64
	pos    Position
	done   bool
}

// NewCSV reads CSV with a header row. Empty cells are null. An input
// without a header row (no byte, or only empty lines) is ErrEmpty.
func NewCSV(r io.Reader, source string, opts Options) (Reader, error) {
	opts.defaults()
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, reported as a bad row
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s has no header row", ErrEmpty, source)
		}
		return nil, fmt.Errorf("ingest: %s line 1: %w", source, err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
		if e := arrowutil.CheckUTF8(header[i]); e != nil {
			return nil, fmt.Errorf("ingest: %s line 1: column %d: header %s", source, i+1, e.Reason())
		}
	}
	line, _ := cr.FieldPos(0)
	c := &csvReader{src: source, cr: cr, opts: opts, header: header, schema: opts.Schema,
		pos: Position{Line: int64(line), Offset: cr.InputOffset()}}
	if c.schema == nil {
		if err := c.infer(); err != nil {
			return nil, err
		}
	}
	c.colOf = make([]int, c.schema.NumFields())
	for i, f := range c.schema.Fields() {
		c.colOf[i] = -1
		for j, h := range header {
			if h == f.Name {
				c.colOf[i] = j
			}
		}
	}
	return c, nil
}

func (c *csvReader) Schema() *arrow.Schema { return c.schema }
func (c *csvReader) Close() error          { return nil }
func (c *csvReader) Position() Position    { return c.pos }

// read returns the next record, its line and the offset just past it.
func (c *csvReader) read() ([]string, int64, int64, error) {
	if len(c.queued) > 0 {
		rec, line, end := c.queued[0], c.qlines[0], c.qends[0]
		c.queued, c.qlines, c.qends = c.queued[1:], c.qlines[1:], c.qends[1:]
		return rec, line, end, nil
	}
	rec, err := c.cr.Read()
	return rec, c.lineOf(rec, err), c.cr.InputOffset(), err
}

// lineOf is the source line of the record just read (FieldPos panics
// when the read failed).
func (c *csvReader) lineOf(rec []string, err error) int64 {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return int64(pe.StartLine)
	}
	if err != nil || len(rec) == 0 {
		return 0
	}
	line, _ := c.cr.FieldPos(0)
	return int64(line)
}

func (c *csvReader) infer() error {
	type kinds struct {
		notInt, notFloat, notBool, seen bool
		temporal                        temporalKinds
	}
	ks := make([]kinds, len(c.header))
	for len(c.queued) < c.opts.SampleRows {
		rec, err := c.cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line := c.lineOf(rec, err)
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return fmt.Errorf("ingest: %s line %d: %w", c.src, line, err)
		}
		if err != nil {
			// Keep the row: Next reports it.
			c.queued = append(c.queued, nil)
			c.qlines = append(c.qlines, line)
			c.qends = append(c.qends, c.cr.InputOffset())
			continue
		}
		c.queued = append(c.queued, rec)
		c.qlines = append(c.qlines, line)
		c.qends = append(c.qends, c.cr.InputOffset())
		for i := 0; i < len(rec) && i < len(ks); i++ {
			v := strings.TrimSpace(rec[i])
			if v == "" {
				continue
			}
			ks[i].seen = true
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				ks[i].notInt = true
			}
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				ks[i].notFloat = true
			}
			if v != "true" && v != "false" {
				ks[i].notBool = true
			}
			if c.opts.InferDates {
				ks[i].temporal.see(v)
			}
		}
	}
	fs := make([]arrow.Field, len(c.header))
	for i, h := range c.header {
		var t arrow.DataType = arrow.BinaryTypes.String
		switch k := ks[i]; {
		case !k.seen:
		case !k.notInt:
			t = arrow.PrimitiveTypes.Int64
		case !k.notFloat:
			t = arrow.PrimitiveTypes.Float64
		case !k.notBool:
			t = arrow.FixedWidthTypes.Boolean
		case c.opts.InferDates && k.temporal.typ() != nil:
			t = k.temporal.typ()
		}
		fs[i] = arrow.Field{Name: h, Type: t, Nullable: true}
	}
	applyHint(fs, c.opts.Hint)
	c.schema = arrow.NewSchema(fs, nil)
	return nil
}

func (c *csvReader) Next() (*Batch, error) {
	if c.done {
		return nil, io.EOF
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, c.schema)
	defer bld.Release()
	out := &Batch{}
	rows := 0
	for rows < c.opts.BatchRows {
		rec, line, end, err := c.read()
		if errors.Is(err, io.EOF) {
			c.done = true
			c.pos.Offset = c.cr.InputOffset()
			break
		}
		c.pos = Position{Line: max(line, c.pos.Line), Offset: end}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return nil, fmt.Errorf("ingest: %s line %d: %w", c.src, line, err)
		}
		if err != nil || rec == nil {
			reason := "malformed CSV row"
			if err != nil {
				reason = err.Error()
			}
			out.Bad = append(out.Bad, BadRow{Source: c.src, Line: line, Reason: reason})
			continue
		}
		if len(rec) != len(c.header) {
			out.Bad = append(out.Bad, BadRow{Source: c.src, Line: line, Reason: fmt.Sprintf("%d fields, the header has %d", len(rec), len(c.header)), Raw: truncate(strings.Join(rec, ","))})
			continue
		}
		vals := make([]any, c.schema.NumFields())
		bad := false
		for i, f := range c.schema.Fields() {
			v := ""
			if c.colOf[i] >= 0 {
				v = strings.TrimSpace(rec[c.colOf[i]])
			}
			if v == "" {
				if !f.Nullable {
					out.Bad = append(out.Bad, BadRow{Source: c.src, Line: line, Field: f.Name, Reason: "required field is empty", Raw: truncate(strings.Join(rec, ","))})
					bad = true
					break
				}
				continue
			}
			cv, err := convertCSV(f.Type, v)
			if err != nil {
				out.Bad = append(out.Bad, BadRow{Source: c.src, Line: line, Field: f.Name, Reason: err.Error(), Raw: truncate(strings.Join(rec, ","))})
				bad = true
				break
			}
			vals[i] = cv
		}
		if bad {
			continue
		}
		for i, v := range vals {
			AppendValue(bld.Field(i), v)
		}
		out.Lines = append(out.Lines, line)
		out.Ends = append(out.Ends, end)
		rows++
	}
	if rows > 0 {
		out.Rec = bld.NewRecordBatch()
	}
	if rows == 0 && len(out.Bad) == 0 && c.done {
		return nil, io.EOF
	}
	return out, nil
}

func convertCSV(t arrow.DataType, v string) (any, error) {
	switch t.ID() {
	case arrow.STRING:
		if e := arrowutil.CheckUTF8(v); e != nil {
			return nil, errors.New(e.Reason())
		}
		return v, nil
	case arrow.INT64, arrow.INT32, arrow.INT16, arrow.INT8:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %q", truncate(v))
		}
		return checkRange(t, n)
	case arrow.FLOAT64, arrow.FLOAT32:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("want a number, got %q", truncate(v))
		}
		return f, nil
	case arrow.BOOL:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("want true or false, got %q", truncate(v))
		}
		return b, nil
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		cv, _, err := convertTemporal(t, v)
		return cv, err
	}
	return nil, fmt.Errorf("column type %s is not supported for CSV input", t)
}
