package bloom_test

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
)

func TestParamsDefaults(t *testing.T) {
	vs, nh, err := bloom.Params(bloom.DefaultNumEntries, bloom.DefaultFPP)
	require.NoError(t, err)
	assert.Equal(t, 2587966, vs)
	assert.Equal(t, 30, nh)

	f := bloom.NewDefault()
	assert.Equal(t, 2587966, f.VectorSize())
	assert.Equal(t, 30, f.NumHashes())
	assert.Equal(t, 60000, f.EntriesPerRow())
	assert.Equal(t, 1, f.Rows())

	for _, bad := range []struct {
		n   int
		fpp float64
	}{{0, 0.01}, {-1, 0.01}, {10, 0}, {10, 1}, {10, -0.5}, {1 << 30, 1e-300}} {
		_, _, err := bloom.Params(bad.n, bad.fpp)
		assert.Error(t, err, "%+v", bad)
	}
}

func TestEmptySerialization(t *testing.T) {
	s, err := bloom.NewSimple(100, 0.01)
	require.NoError(t, err)
	b := s.Bytes()
	vs, nh, _ := bloom.Params(100, 0.01)
	require.Len(t, b, 13+(vs+7)/8)
	assert.Equal(t, int32(-1), int32(binary.BigEndian.Uint32(b)))
	assert.Equal(t, uint32(nh), binary.BigEndian.Uint32(b[4:]))
	assert.Equal(t, byte(1), b[8])
	assert.Equal(t, uint32(vs), binary.BigEndian.Uint32(b[9:]))

	d := bloom.NewDefault()
	b = d.Bytes()
	require.Len(t, b, 13+12+13+(2587966+7)/8)
	assert.Equal(t, uint32(60000), binary.BigEndian.Uint32(b[13:]))
	assert.Equal(t, uint32(0), binary.BigEndian.Uint32(b[17:]))
	assert.Equal(t, uint32(1), binary.BigEndian.Uint32(b[21:]))
	assert.Equal(t, b[:13], b[25:38], "row header repeats the filter header")
}

func TestRoundTrip(t *testing.T) {
	for _, code := range []string{bloom.TypeSimple, bloom.TypeDynamicV0} {
		t.Run(code, func(t *testing.T) {
			f, err := bloom.New(code, 1000, 1e-6, 5000)
			require.NoError(t, err)
			for i := range 3000 {
				if i%2 == 0 {
					f.AddString(fmt.Sprintf("key-%d", i))
				} else {
					f.Add([]byte(fmt.Sprintf("key-%d", i)))
				}
			}
			g, err := bloom.FromFooter(f.TypeCode(), f.Base64())
			require.NoError(t, err)
			assert.Equal(t, f.Bytes(), g.Bytes())
			assert.Equal(t, code, g.TypeCode())
			for i := range 3000 {
				k := fmt.Sprintf("key-%d", i)
				require.True(t, g.MightContainString(k), k)
				require.True(t, g.MightContain([]byte(k)), k)
			}
		})
	}
}

func TestDynamicRows(t *testing.T) {
	// 10 per row, bound 25: rows fill 10, 10, then (3*10 >= 25 is false at
	// 2 rows: 20 < 25) a third row, after which keys go round-robin.
	d, err := bloom.NewDynamicV0(10, 0.01, 25)
	require.NoError(t, err)
	for i := range 10 {
		d.AddString(fmt.Sprint(i))
	}
	assert.Equal(t, 1, d.Rows())
	assert.Equal(t, 10, d.KeysAdded())
	d.AddString("10")
	assert.Equal(t, 2, d.Rows())
	assert.Equal(t, 1, d.KeysAdded())
	for i := 11; i < 30; i++ {
		d.AddString(fmt.Sprint(i))
	}
	assert.Equal(t, 3, d.Rows())
	assert.Equal(t, 10, d.KeysAdded())
	for i := 30; i < 100; i++ {
		d.AddString(fmt.Sprint(i))
	}
	assert.Equal(t, 3, d.Rows(), "bounded")
	assert.Equal(t, 80, d.KeysAdded(), "Java keeps counting in the current row")
	for i := range 100 {
		assert.True(t, d.MightContainString(fmt.Sprint(i)))
	}
}

func TestParseErrors(t *testing.T) {
	good := bloom.NewDefault()
	good.AddString("a")
	gb := good.Bytes()

	cases := map[string]struct {
		code string
		data []byte
		want error
	}{
		"empty":          {bloom.TypeSimple, nil, bloom.ErrCorrupt},
		"short header":   {bloom.TypeSimple, gb[:10], bloom.ErrCorrupt},
		"bad version":    {bloom.TypeSimple, append([]byte{0xff, 0xff, 0xff, 0xfe}, gb[4:]...), bloom.ErrCorrupt},
		"legacy jenkins": {bloom.TypeSimple, append([]byte{0, 0, 0, 5}, gb[4:]...), bloom.ErrUnsupported},
		"hash type":      {bloom.TypeSimple, append(append(append([]byte{}, gb[:8]...), 0), gb[9:]...), bloom.ErrUnsupported},
		"truncated bits": {bloom.TypeSimple, gb[:13+12+13+100], bloom.ErrCorrupt},
		"dyn truncated":  {bloom.TypeDynamicV0, gb[:len(gb)-1], bloom.ErrCorrupt},
		"dyn no rows":    {bloom.TypeDynamicV0, append(append([]byte{}, gb[:21]...), 0, 0, 0, 0), bloom.ErrCorrupt},
		"dyn many rows":  {bloom.TypeDynamicV0, append(append([]byte{}, gb[:21]...), 0x7f, 0xff, 0xff, 0xff), bloom.ErrCorrupt},
		"unknown code":   {"DYNAMIC_V1", gb, bloom.ErrUnsupported},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := bloom.Parse(c.code, c.data)
			require.ErrorIs(t, err, c.want)
		})
	}
	_, err := bloom.FromFooter(bloom.TypeDynamicV0, "!!not base64")
	require.ErrorIs(t, err, bloom.ErrCorrupt)
}

func TestFalsePositiveRate(t *testing.T) {
	const n = 20000
	s, err := bloom.NewSimple(n, 0.01)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		s.AddString(fmt.Sprintf("in-%016x", r.Uint64()))
	}
	fp := 0
	const probes = 100000
	for range probes {
		if s.MightContainString(fmt.Sprintf("out-%016x", r.Uint64())) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("fpp at capacity: %.4f", rate)
	assert.Less(t, rate, 0.02)
	assert.Greater(t, rate, 0.002, "a filter that never says yes is broken too")

	// Defaults: 1e-9 target; 60000 keys in, expect no false positive in 1e5 probes.
	d := bloom.NewDefault()
	for range 60000 {
		d.AddString(fmt.Sprintf("in-%016x", r.Uint64()))
	}
	for range probes {
		require.False(t, d.MightContainString(fmt.Sprintf("out-%016x", r.Uint64())))
	}
}

// TestSparkWrittenFilters checks every Spark-written base file: all record
// keys are in the footer filter, and a filter built from those keys with the
// same parameters serializes to the same bytes.
func TestSparkWrittenFilters(t *testing.T) {
	checked := 0
	for _, fx := range fixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			for _, bf := range parquetFiles(t, fixtures.Unzip(t, fx.Zip)) {
				b64, ok := bf.f.Lookup(bloom.FooterKey)
				if !ok {
					continue // meta fields off: Spark writes no filter
				}
				code, _ := bf.f.Lookup(bloom.TypeCodeKey)
				f, err := bloom.FromFooter(code, b64)
				require.NoError(t, err, bf.path)
				raw, err := base64.StdEncoding.DecodeString(b64)
				require.NoError(t, err)
				assert.Equal(t, raw, f.Bytes(), "parse/serialize round trip %s", bf.path)

				keys := stringColumn(t, bf.f, "_hoodie_record_key")
				require.NotEmpty(t, keys)
				for _, k := range keys {
					require.True(t, f.MightContainString(k), "%s: key %q", bf.path, k)
				}
				assert.False(t, f.MightContainString("definitely-not-a-key"))

				d, ok := f.(*bloom.DynamicV0)
				require.True(t, ok, "Spark default is DYNAMIC_V0, got %s", code)
				require.Equal(t, len(keys), d.KeysAdded(), "keysAdded")
				built := bloom.NewDefault()
				for _, k := range keys {
					built.AddString(k)
				}
				require.Equal(t, raw, built.Bytes(), "rebuilt filter bytes %s", bf.path)
				require.Equal(t, b64, built.Base64())
				checked++
			}
		})
	}
	t.Logf("checked %d Spark-written filters", checked)
	require.Positive(t, checked)
}

func TestMurmurTailBytesSigned(t *testing.T) {
	// Keys whose tail bytes have the high bit set exercise Java's sign
	// extension; they must still round-trip through a filter and differ
	// from the unsigned interpretation (i.e. not collide systematically).
	s, err := bloom.NewSimple(100, 0.001)
	require.NoError(t, err)
	keys := []string{"é", "ab\xff", "abcd\x80\x81\x82", "€"}
	for _, k := range keys {
		s.AddString(k)
	}
	for _, k := range keys {
		assert.True(t, s.MightContainString(k))
	}
}

func TestZeroValueNoPanic(t *testing.T) {
	var s bloom.Simple
	s.AddString("a")
	assert.True(t, s.MightContainString("a"))
	var d bloom.DynamicV0
	d.AddString("a")
	assert.True(t, d.MightContainString("a"))
	assert.True(t, d.MightContain([]byte("b")))
}

func TestAllocFree(t *testing.T) {
	d := bloom.NewDefault()
	key := []byte("0b9d9c5e-4b6c-4a3e-9f1a-2b7c8d9e0f11")
	skey := string(key)
	allocs := testing.AllocsPerRun(100, func() {
		d.Add(key)
		d.AddString(skey)
		_ = d.MightContain(key)
		_ = d.MightContainString(skey)
	})
	assert.Zero(t, allocs)
}

func FuzzParse(f *testing.F) {
	s, _ := bloom.NewSimple(50, 0.1)
	s.AddString("x")
	d, _ := bloom.NewDynamicV0(5, 0.1, 12)
	for i := range 12 {
		d.AddString(fmt.Sprint(i))
	}
	f.Add(bloom.TypeSimple, s.Bytes())
	f.Add(bloom.TypeDynamicV0, d.Bytes())
	f.Add(bloom.TypeDynamicV0, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1, 0, 0, 0, 8})
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, code string, data []byte) {
		g, err := bloom.Parse(code, data)
		if err != nil {
			return
		}
		// A parsed filter must be usable and re-serialize to a parsable prefix of the input.
		g.AddString("k")
		require.True(t, g.MightContainString("k"))
		_, err = bloom.Parse(g.TypeCode(), g.Bytes())
		require.NoError(t, err)
	})
}
