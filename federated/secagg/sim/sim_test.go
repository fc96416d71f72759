package sim

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/internal/prg"
)

// testRand is a deterministic stream for reproducible runs.
func testRand(label string) io.Reader {
	seed := sha256.Sum256([]byte("privml/secagg/sim/test/" + label))
	return prg.NewReader(&seed)
}

func randomInputs(p *secagg.Params, seed uint64) [][]int64 {
	cfg := p.Config()
	rng := rand.New(rand.NewPCG(seed, 7))
	in := make([][]int64, p.NumClients())
	for i := range in {
		in[i] = make([]int64, p.Length())
		for j := range in[i] {
			lim := cfg.MaxAbs
			if j >= cfg.Dim {
				lim = cfg.MaxSideAbs
			}
			in[i][j] = int64(rng.Uint64N(2*lim+1)) - int64(lim)
		}
	}
	return in
}

func mustParams(t testing.TB, cfg secagg.Config) *secagg.Params {
	t.Helper()
	p, err := secagg.NewParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pickDrop returns count distinct client ids, deterministically.
func pickDrop(n, count int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 11))
	return rng.Perm(n)[:count]
}

var rounds = []secagg.Round{secagg.RoundAdvertise, secagg.RoundShareKeys, secagg.RoundMaskedInput, secagg.RoundUnmask}

func TestSumWithDropouts(t *testing.T) {
	for _, n := range []int{3, 10, 100} {
		for _, rate := range []float64{0, 0.1, 0.3} {
			for _, rd := range rounds {
				name := fmt.Sprintf("n=%d/dropout=%g/round=%s", n, rate, rd)
				t.Run(name, func(t *testing.T) {
					cfg := secagg.Config{NumClients: n, Dim: 16, SideDim: 2, Bits: 24, MaxAbs: 1000, MaxSideAbs: 50,
						DropoutRate: 0.3, CorruptRate: 0.1, Sequence: uint64(n)}
					if n == 3 {
						// One dropout of three is a third: configure for it,
						// or the sum falls below MinInputs.
						cfg.CorruptRate, cfg.DropoutRate = 0, 0.34
					}
					p := mustParams(t, cfg)
					drops := int(rate * float64(n))
					if rate > 0 && drops == 0 {
						drops = 1
					}
					if n == 3 && rate > 0 && rd == secagg.RoundUnmask {
						// With 3 clients and t=2 one unmasking dropout is all
						// the shares allow.
						drops = 1
					}
					opts := Options{InsecureTestRand: testRand(name), Drop: map[secagg.Round][]int{rd: pickDrop(n, drops, uint64(n)*31+uint64(rd))}}
					in := randomInputs(p, uint64(n))
					rep, err := Run(p, Vectors(in), opts)
					if err != nil {
						t.Fatal(err)
					}
					if rep.Err != nil {
						t.Fatalf("k=%d t=%d: session aborted: %v", p.Degree(), p.Threshold(), rep.Err)
					}
					if !rep.Correct {
						t.Fatalf("sum differs from the plain sum of the survivors")
					}
					want := n - drops
					if rd == secagg.RoundUnmask {
						want = n // dropped after sending the masked input: still in the sum
					}
					if got := len(rep.Result.Survivors); got != want {
						t.Fatalf("%d survivors, want %d", got, want)
					}
					if len(rep.ClientErrors) != 0 {
						t.Fatalf("honest clients failed: %v", rep.ClientErrors)
					}
				})
			}
		}
	}
}
