package basefile_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

const benchRows = 1_000_000

// gameEvent is the raw parquet-go baseline's row type.
type gameEvent struct {
	UUID   string `parquet:"uuid,optional"`
	Type   string `parquet:"type,optional"`
	Schema string `parquet:"schema,optional"`
	GameID string `parquet:"game_id,optional"`
	Region string `parquet:"region,optional"`
	Dt     string `parquet:"dt,optional"`
	Meta   string `parquet:"meta,optional"`
	Time   int64  `parquet:"time,optional"`
	ID     int64  `parquet:"id,optional"`
}

var benchData = sync.OnceValues(func() ([]gameEvent, arrow.RecordBatch) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"login", "logout", "purchase", "level_up", "match_start", "match_end"}
	regions := []string{"eu-west-1", "us-east-1", "ap-southeast-2"}
	evs := make([]gameEvent, benchRows)
	for i := range evs {
		evs[i] = gameEvent{
			UUID:   fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff),
			Type:   types[rng.IntN(len(types))],
			Schema: "game_event_v3",
			GameID: fmt.Sprintf("game-%04d", rng.IntN(500)),
			Region: regions[rng.IntN(len(regions))],
			Dt:     "2024-06-01",
			Meta:   fmt.Sprintf(`{"session":%d,"score":%d,"platform":"pc"}`, rng.IntN(1e6), rng.IntN(1e4)),
			Time:   1717200000000 + int64(i)*7,
			ID:     int64(i),
		}
	}
	as := arrow.NewSchema([]arrow.Field{
		{Name: "uuid", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "type", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "schema", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "game_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "dt", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "meta", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, as)
	defer b.Release()
	for _, e := range evs {
		for i, s := range []string{e.UUID, e.Type, e.Schema, e.GameID, e.Region, e.Dt, e.Meta} {
			b.Field(i).(*array.StringBuilder).Append(s)
		}
		b.Field(7).(*array.Int64Builder).Append(e.Time)
		b.Field(8).(*array.Int64Builder).Append(e.ID)
	}
	return evs, b.NewRecordBatch()
})

// countWriter discards bytes and counts them.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkWrite compares the base file writer (with the five meta columns)
// against raw parquet-go writes of the same data rows (the floor).
func BenchmarkWrite(b *testing.B) {
	evs, rec := benchData()
	b.Run("hoodie", func(b *testing.B) {
		s, err := schema.FromArrow(rec.Schema(), "game_events")
		if err != nil {
			b.Fatal(err)
		}
		uuids := rec.Column(0).(*array.String)
		meta := basefile.Meta{
			CommitTime:    basefile.Const("20240601120000000"),
			SeqNo:         basefile.Sequence("20240601120000000_0_", 0),
			RecordKey:     basefile.FromArrow(uuids),
			PartitionPath: basefile.Const("dt=2024-06-01"),
			FileName:      basefile.Const("ff32ab89-5ad0-4968-83b4-89a34c95d32f-0_0-1-1_20240601120000000.parquet"),
		}
		b.ReportAllocs()
		var size int64
		for b.Loop() {
			cw := &countWriter{}
			w, err := basefile.NewWriter(cw, s, basefile.WriterOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Write(meta, rec); err != nil {
				b.Fatal(err)
			}
			if _, err := w.Close(); err != nil {
				b.Fatal(err)
			}
			size = cw.n
		}
		b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(size), "bytes/file")
	})
	b.Run("parquet-go-generic", func(b *testing.B) {
		b.ReportAllocs()
		var size int64
		for b.Loop() {
			cw := &countWriter{}
			w := parquet.NewGenericWriter[gameEvent](cw, parquet.Compression(&snappy.Codec{}),
				parquet.PageBufferSize(basefile.DefaultPageSize), parquet.DataPageVersion(1))
			for off := 0; off < len(evs); off += 4096 {
				if _, err := w.Write(evs[off:min(off+4096, len(evs))]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			size = cw.n
		}
		b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(size), "bytes/file")
	})
}

var _ io.Writer = (*countWriter)(nil)
