package keygen_test

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/hoodie-lake/hoodie/internal/keygen"
)

// BenchmarkKeys measures a uuid string key with three partition fields
// (string, int32, date32), hive-style, the shape of a typical events table:
// partition values change every few thousand rows.
func BenchmarkKeys(b *testing.B) {
	const rows = 64 << 10
	ub := array.NewStringBuilder(mem)
	cb := array.NewStringBuilder(mem)
	yb := array.NewInt32Builder(mem)
	db := array.NewDate32Builder(mem)
	cities := []string{"san_francisco", "sao_paulo", "chennai", "new york"}
	for i := range rows {
		ub.Append(fmt.Sprintf("%08x-4b6c-4a3e-9f1a-%012x", i, i*7919))
		cb.Append(cities[(i/1024)%len(cities)])
		yb.Append(int32(2020 + (i/8192)%5))
		db.Append(arrow.Date32(19723 + (i/4096)%30))
	}
	rec := record(b, col{"uuid", ub.NewArray()}, col{"city", cb.NewArray()}, col{"year", yb.NewArray()}, col{"day", db.NewArray()})
	for _, enc := range []bool{false, true} {
		b.Run(fmt.Sprintf("urlencode=%v", enc), func(b *testing.B) {
			g, err := keygen.New(keygen.Config{
				RecordKeyFields: []string{"uuid"},
				PartitionFields: []string{"city", "year", "day"},
				Kind:            keygen.Complex,
				HiveStyle:       true,
				URLEncode:       enc,
			}, rec.Schema())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := g.Keys(rec); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
