package keygen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

func TestZZJavaEmit(t *testing.T) {
	in, _ := os.Create("/tmp/jcheck/in.txt")
	out, _ := os.Create("/tmp/jcheck/go.txt")
	defer in.Close()
	defer out.Close()
	r := rand.New(rand.NewPCG(7, 9))
	for i := 0; i < 200000; i++ {
		var v float64
		switch i % 4 {
		case 0:
			v = math.Float64frombits(r.Uint64())
		case 1:
			v = float64(r.IntN(1000000)) / math.Pow(10, float64(r.IntN(10)))
		case 2:
			v = r.Float64() * math.Pow(10, float64(r.IntN(40)-20))
		default:
			v = float64(r.Int64N(1<<53)) * math.Pow(2, float64(r.IntN(200)-100))
		}
		fmt.Fprintf(in, "d %x\n", math.Float64bits(v))
		fmt.Fprintf(out, "%s\n", appendJavaDouble(nil, v, 64))
		var f float32
		switch i % 3 {
		case 0:
			f = math.Float32frombits(r.Uint32())
		case 1:
			f = float32(r.IntN(100000)) / float32(math.Pow(10, float64(r.IntN(8))))
		default:
			f = float32(r.Float64() * math.Pow(10, float64(r.IntN(30)-15)))
		}
		fmt.Fprintf(in, "f %x\n", math.Float32bits(f))
		fmt.Fprintf(out, "%s\n", appendJavaDouble(nil, float64(f), 32))
		un := r.Int64() >> r.IntN(63)
		if r.IntN(2) == 0 {
			un = -un
		}
		sc := r.IntN(30) - 8
		fmt.Fprintf(in, "b %d %d\n", un, sc)
		fmt.Fprintf(out, "%s\n", appendDecimalInt64(nil, un, sc))
		d := r.Int64N(2*4000000) - 4000000
		fmt.Fprintf(in, "l %d\n", d)
		fmt.Fprintf(out, "%s\n", appendLocalDate(nil, d))
	}
}
