package bloom_test

import (
	"fmt"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/bloom"
)

func BenchmarkDynamicV0(b *testing.B) {
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-4b6c-4a3e-9f1a-2b7c8d9e0f11", i)
	}
	b.Run("AddString", func(b *testing.B) {
		d := bloom.NewDefault()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			d.AddString(keys[i&4095])
			i++
		}
	})
	b.Run("MightContainString", func(b *testing.B) {
		d := bloom.NewDefault()
		for _, k := range keys {
			d.AddString(k)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = d.MightContainString(keys[i&4095])
			i++
		}
	})
	b.Run("Serialize", func(b *testing.B) {
		d := bloom.NewDefault()
		for _, k := range keys {
			d.AddString(k)
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = d.Base64()
		}
	})
}
