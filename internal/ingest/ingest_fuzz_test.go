package ingest_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/stretchr/testify/require"
)

// checkLines drains r and checks what the CLI relies on to name bad
// input: every error carries the "ingest: " prefix and the source, every
// row (good or bad) names a line of the input, good rows come in input
// order, and no line is both good and bad. Strings are UTF-8 or refused:
// every string ingested is valid UTF-8 and, unless the input has a U+FFFD
// of its own (allowFFFD), none was replaced by U+FFFD.
func checkLines(t *testing.T, r ingest.Reader, src string, lines int64, allowFFFD bool) {
	t.Helper()
	defer r.Close()
	last := int64(0)
	bad := map[int64]bool{}
	good := map[int64]bool{}
	for i := 0; ; i++ {
		require.Less(t, int64(i), 2*lines+2, "reader makes progress")
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "ingest: "+src), "error %q lacks the source", err)
			return
		}
		for _, br := range b.Bad {
			require.Equal(t, src, br.Source)
			require.NotEmpty(t, br.Reason)
			require.True(t, br.Line >= 1 && br.Line <= lines, "bad row at line %d of %d", br.Line, lines)
			require.LessOrEqual(t, len(br.Raw), 512+len("…"))
			bad[br.Line] = true
		}
		if b.Rec != nil {
			require.Equal(t, int(b.Rec.NumRows()), len(b.Lines))
			require.Equal(t, r.Schema().NumFields(), int(b.Rec.NumCols()))
			require.NoError(t, arrowutil.ValidateUTF8(b.Rec))
			if !allowFFFD {
				for _, c := range b.Rec.Columns() {
					if s, ok := c.(*array.String); ok {
						for i := 0; i < s.Len(); i++ {
							require.NotContains(t, s.Value(i), "\ufffd", "row %d: a value was silently replaced", i)
						}
					}
				}
			}
			b.Rec.Release()
		}
		for _, l := range b.Lines {
			require.Greater(t, l, last, "rows out of order")
			require.LessOrEqual(t, l, lines)
			last = l
			good[l] = true
		}
	}
	for l := range good {
		require.False(t, bad[l], "line %d both ingested and reported bad", l)
	}
}

func countLines(in string) int64 { return int64(strings.Count(in, "\n")) + 1 }

// FuzzIngestLines runs the JSON Lines and CSV readers, inferring (with a
// small sample, so that later rows disagree with the schema) or with a
// fixed schema, and checks that bad input becomes bad rows or errors that
// name their line — never a panic. The committed corpus
// (testdata/fuzz/FuzzIngestLines) holds typical and broken inputs.
func FuzzIngestLines(f *testing.F) {
	for _, s := range []string{
		"{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":\"x\"}\n\n{\"id\":null}\n[1]\n{\"n\":1e400}\n",
		"{\"a\":{\"b\":[1,{}]},\"c\":null}\nnull\n\"s\"\n{\"a\":1,\"a\":2}\n{\"\\u0000\":\"\\ud800\"}\n",
		"id,n,x\na,1,1.5\nb,,2\n\"c\nd\",3,x\ne,4\n\"unterminated\n",
		"a\n\n\"\"\"\n1,2,3\n",
		"\xff\xfe{\"a\":1}\r\n{\"a\":2}",
		"{\"id\":\"x\xff\",\"n\":1}\n{\"id\":\"\\ud800\\udc00\\udc00\"}\n{\"na\xc3me\":1}\n",
		"id,n\nx\xff\xfe,1\n\xc3,2\n",
	} {
		f.Add(s, false, false)
		f.Add(s, true, false)
		f.Add(s, true, true)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	f.Fuzz(func(t *testing.T, in string, csv, fixed bool) {
		opts := ingest.Options{BatchRows: 3, SampleRows: 2}
		if fixed {
			opts.Schema = schema
		}
		var (
			r   ingest.Reader
			err error
		)
		if csv {
			r, err = ingest.NewCSV(strings.NewReader(in), "in.csv", opts)
		} else {
			r, err = ingest.NewJSONL(strings.NewReader(in), "in.jsonl", opts)
		}
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "ingest: "), "error %q lacks the package prefix", err)
			if !errors.Is(err, ingest.ErrSchema) {
				require.Contains(t, err.Error(), "line", "error %q does not name the line", err)
			}
			return
		}
		src := "in.jsonl"
		if csv {
			src = "in.csv"
		}
		// The input's own U+FFFD (or its JSON escape, in any case).
		own := strings.Contains(in, "\ufffd") || strings.Contains(strings.ToLower(in), `\\ufffd`)
		checkLines(t, r, src, countLines(in), own)
	})
}

// smallParquet writes a few rows of several types with pqarrow.
func smallParquet(tb testing.TB) []byte {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "", "d"}, []bool{true, true, false, true})
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2, 3, 4}, nil)
	lb := b.Field(2).(*array.ListBuilder)
	for i := range 4 {
		lb.Append(true)
		for j := range i {
			lb.ValueBuilder().(*array.Int32Builder).Append(int32(j))
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sch, &buf, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(2)), pqarrow.DefaultWriterProps())
	require.NoError(tb, err)
	require.NoError(tb, w.Write(rec))
	require.NoError(tb, w.Close())
	return buf.Bytes()
}

// FuzzParquet feeds arbitrary bytes to the Parquet input reader: it must
// return an error naming the source or batches whose rows are numbered
// 1, 2, 3, ... — never panic. The committed corpus
// (testdata/fuzz/FuzzParquet) holds small Spark-written base files of the
// hudi-rs samples.
func FuzzParquet(f *testing.F) {
	good := smallParquet(f)
	f.Add(good)
	f.Add(good[:len(good)-9])
	f.Add([]byte("PAR1PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Go's fuzzer has no per-input time limit: a watchdog turns a
		// reader that spins forever into a failure with its input saved.
		done := make(chan struct{})
		go func() {
			defer close(done)
			readParquet(t, data)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("reading %d bytes did not finish in 10s", len(data))
		}
	})
}

func readParquet(t *testing.T, data []byte) {
	{
		r, err := ingest.NewParquet(bytes.NewReader(data), int64(len(data)), "in.parquet", ingest.Options{BatchRows: 3})
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "ingest: in.parquet"), "error %q lacks the source", err)
			return
		}
		defer r.Close()
		row := int64(0)
		for i := 0; ; i++ {
			require.Less(t, i, len(data)+2, "reader makes progress")
			b, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				require.True(t, strings.HasPrefix(err.Error(), "ingest: in.parquet"), "error %q lacks the source", err)
				return
			}
			require.NotNil(t, b.Rec)
			require.Equal(t, int(b.Rec.NumRows()), len(b.Lines))
			for _, l := range b.Lines {
				row++
				require.Equal(t, row, l)
			}
			b.Rec.Release()
		}
	}
}
