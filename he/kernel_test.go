package he

import (
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// TestMacMont checks the lazy multiply-accumulate against lattigo's
// reduce-every-product MulScalarMontgomeryThenAdd, including a prime large
// enough that the terms are split into groups.
func TestMacMont(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, logQ := range []int{29, 45, 61} {
		g := ring.NewNTTFriendlyPrimesGenerator(uint64(logQ), 1<<11)
		primes, err := g.NextDownstreamPrimes(1)
		if err != nil {
			t.Fatal(err)
		}
		rq, err := ring.NewRing(1<<10, primes)
		if err != nil {
			t.Fatal(err)
		}
		sub := rq.SubRings[0]
		q := sub.Modulus
		for _, terms := range []int{1, 7, 64} {
			src := make([][]uint64, terms)
			c := make([]uint64, terms)
			want := make([]uint64, 1<<10)
			for i := range src {
				src[i] = make([]uint64, 1<<10)
				for k := range src[i] {
					src[i][k] = r.Uint64N(q)
				}
				c[i] = ring.MForm(r.Uint64N(q), q, sub.BRedConstant)
				sub.MulScalarMontgomeryThenAdd(src[i], c[i], want)
			}
			got := make([]uint64, 1<<10)
			macMont(got, src, c, q, sub.MRedConstant)
			for k := range got {
				if got[k] != want[k] {
					t.Fatalf("logQ=%d terms=%d: coefficient %d = %d, want %d", logQ, terms, k, got[k], want[k])
				}
			}
		}
	}
}
