package secagg_test

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
	"github.com/privml/privml/internal/prg"
)

// TestServerWorkersGiveTheSequentialResult runs the same sessions (same
// keys, inputs and dropouts, at every round in which clients send) with
// the server on 1, 2 and 4 workers (GOMAXPROCS), the accumulator cut into
// many small pieces and the masks into small batches, in both threat
// models, on a sparse graph and on the complete one, with widths stored in
// 32-bit and in 64-bit words. Every run must give the plain sum of the
// survivors' inputs, and all of them the same Result.
func TestServerWorkersGiveTheSequentialResult(t *testing.T) {
	defer secagg.SetParallelSizes(256, 7, 64)()
	both := []secagg.Threat{secagg.SemiHonest, secagg.Malicious}
	for _, sh := range []struct {
		n, degree int
		bits      uint
		threats   []secagg.Threat
	}{
		{100, 0, 32, both},
		{100, 0, 41, []secagg.Threat{secagg.SemiHonest}}, // 64-bit words
		{12, 11, 20, both},
		{12, 11, 48, both},
	} {
		for _, threat := range sh.threats {
			name := fmt.Sprintf("n=%d/k=%d/bits=%d/%s", sh.n, sh.degree, sh.bits, threat)
			t.Run(name, func(t *testing.T) {
				var first *secagg.Result
				for _, procs := range []int{1, 2, 4} {
					res := runWithProcs(t, name, sh.n, sh.degree, sh.bits, threat, procs)
					if first == nil {
						first = res
						continue
					}
					require.Equal(t, first, res, "GOMAXPROCS=%d differs from GOMAXPROCS=1", procs)
				}
			})
		}
	}
}

func runWithProcs(t *testing.T, label string, n, degree int, bits uint, threat secagg.Threat, procs int) *secagg.Result {
	t.Helper()
	old := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(old)
	seed := sha256.Sum256([]byte("privml/secagg/test/workers/" + label))
	cfg := secagg.Config{NumClients: n, Dim: 3001, SideDim: 2, Bits: bits, MaxAbs: 1000, MaxSideAbs: 50,
		DropoutRate: 0.3, CorruptRate: 0.05, Degree: degree, Threat: threat, SessionSeed: seed}
	opts := sim.Options{InsecureTestRand: prg.NewReader(&seed)}
	if threat == secagg.Malicious {
		idSeed := sha256.Sum256(seed[:])
		pub, priv, err := sim.NewIdentities(n, prg.NewReader(&idSeed))
		require.NoError(t, err)
		cfg.Identities, opts.Identities = pub, priv
	}
	p, err := secagg.NewParams(cfg)
	require.NoError(t, err)
	// Dropouts at every round in which clients send: those before the
	// masked input leave pairwise masks to remove, the others self masks.
	perm := rand.New(rand.NewPCG(uint64(n), uint64(bits))).Perm(n)
	count := map[secagg.Round]int{secagg.RoundShareKeys: 1, secagg.RoundMaskedInput: 1, secagg.RoundUnmask: 1}
	if n >= 100 {
		count = map[secagg.Round]int{secagg.RoundAdvertise: 2, secagg.RoundShareKeys: 3, secagg.RoundMaskedInput: 8, secagg.RoundUnmask: 3}
		if threat == secagg.Malicious {
			count[secagg.RoundConsistency] = 1
		}
	}
	opts.Drop = map[secagg.Round][]int{}
	for _, rd := range []secagg.Round{secagg.RoundAdvertise, secagg.RoundShareKeys, secagg.RoundMaskedInput, secagg.RoundConsistency, secagg.RoundUnmask} {
		opts.Drop[rd], perm = perm[:count[rd]], perm[count[rd]:]
	}
	inputs := func(client int, dst []int64) {
		r := rand.New(rand.NewPCG(uint64(client), 99))
		for j := range dst {
			lim := cfg.MaxAbs
			if j >= cfg.Dim {
				lim = cfg.MaxSideAbs
			}
			dst[j] = int64(r.Uint64N(2*lim+1)) - int64(lim)
		}
	}
	rep, err := sim.Run(p, inputs, opts)
	require.NoError(t, err)
	require.NoError(t, rep.Err, "GOMAXPROCS=%d: session aborted (k=%d, t=%d)", procs, p.Degree(), p.Threshold())
	require.True(t, rep.Correct, "GOMAXPROCS=%d: sum differs from the plain sum of the survivors", procs)
	dropped := count[secagg.RoundAdvertise] + count[secagg.RoundShareKeys] + count[secagg.RoundMaskedInput]
	require.Len(t, rep.Result.Survivors, n-dropped, "GOMAXPROCS=%d", procs)
	return rep.Result
}
