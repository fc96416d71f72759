// Package secaggbench benchmarks the secure-aggregation protocol of package
// federated/secagg against the performance targets in README.md and the
// configurations measured by Bonawitz et al. (CCS 2017).
//
// The large runs simulate up to 1000 clients in one process and take
// minutes: run them one at a time with -benchtime=1x, for example
//
//	go test ./benchmarks/secagg/ -run '^$' -bench 'Client/n=1000' -benchtime 3x
//	go test ./benchmarks/secagg/ -run '^$' -bench 'Session/n=1000_D=1000000' -benchtime 1x -timeout 60m
package secaggbench

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
	"github.com/privml/privml/internal/cputime"
	"github.com/privml/privml/internal/prg"
)

func inputs(p *secagg.Params, seed uint64) sim.Inputs {
	lim := p.Config().MaxAbs
	return func(client int, dst []int64) {
		r := rand.New(rand.NewPCG(seed, uint64(client)))
		for j := range dst {
			dst[j] = int64(r.Uint64N(2*lim+1)) - int64(lim)
		}
	}
}

// BenchmarkMaskFloor is the floor the protocol is measured against: the
// AES-CTR expansion of one mask of D 32-bit elements added into a vector.
func BenchmarkMaskFloor(b *testing.B) {
	for _, d := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("D=%d", d), func(b *testing.B) {
			v := make([]uint32, d)
			seed := sha256.Sum256([]byte("floor"))
			b.SetBytes(int64(4 * d))
			b.ReportAllocs()
			for b.Loop() {
				prg.ExpandAddMod32(v, &seed, 32)
			}
		})
	}
}

type clientCase struct {
	n, d              int
	bits              uint
	dropout, corrupt  float64
	degree, threshold int // 0: from the parameter finder
}

func (c clientCase) String() string {
	s := fmt.Sprintf("n=%d_D=%d_B=%d_dropout=%g_corrupt=%g", c.n, c.d, c.bits, c.dropout, c.corrupt)
	if c.degree != 0 {
		s += fmt.Sprintf("_k=%d", c.degree)
	}
	return s
}

// BenchmarkClient measures one client's compute for a whole session
// (Advertise, ShareKeys, MaskInput, Unmask) in a session of n clients;
// only it and its neighbours mask an input (the others drop out after
// sharing their keys, which costs the measured client nothing). It reports
// the client's wall and CPU time and the CPU time of the masking round.
func BenchmarkClient(b *testing.B) {
	cases := []clientCase{
		{n: 1000, d: 1_000_000, bits: 32, dropout: 0.05, corrupt: 0.05},
		{n: 1000, d: 1_000_000, bits: 62, dropout: 0.05, corrupt: 0.05},
		{n: 1000, d: 100_000, bits: 32, dropout: 0.3, corrupt: 0.05},
		{n: 100, d: 10_000, bits: 32, dropout: 0.1, corrupt: 0.05},
	}
	for _, c := range cases {
		b.Run(c.String(), func(b *testing.B) { benchClient(b, c) })
	}
}

func benchClient(b *testing.B, c clientCase) {
	var total, mask, cpu time.Duration
	var k, t int
	iters := 0
	for b.Loop() {
		b.StopTimer()
		cfg := secagg.Config{NumClients: c.n, Dim: c.d, Bits: c.bits, DropoutRate: c.dropout, CorruptRate: c.corrupt,
			Degree: c.degree, Threshold: c.threshold, SessionSeed: [32]byte{byte(iters)}}
		p, err := secagg.NewParams(cfg)
		if err != nil {
			b.Fatal(err)
		}
		k, t = p.Degree(), p.Threshold()
		srv, _ := secagg.NewServer(p)
		const me = 0
		group := append([]int{me}, p.Neighbours(me)...)
		clients := make([]*secagg.Client, c.n)
		for i := range clients {
			clients[i], _ = secagg.NewClient(p, i, nil)
			start, c0 := time.Now(), cputime.Process()
			a, err := clients[i].Advertise()
			if i == me {
				total += time.Since(start)
				cpu += cputime.Process() - c0
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.HandleAdvert(a); err != nil {
				b.Fatal(err)
			}
		}
		lists, err := srv.FinishAdvertise()
		if err != nil {
			b.Fatal(err)
		}
		for i := range clients {
			start, c0 := time.Now(), cputime.Process()
			m, err := clients[i].ShareKeys(lists[i])
			if i == me {
				total += time.Since(start)
				cpu += cputime.Process() - c0
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.HandleShareKeys(m); err != nil {
				b.Fatal(err)
			}
		}
		bundles, err := srv.FinishShareKeys()
		if err != nil {
			b.Fatal(err)
		}
		x := make([]int64, c.d)
		in := inputs(p, 1)
		for _, i := range group {
			in(i, x)
			start, c0 := time.Now(), cputime.Process()
			m, err := clients[i].MaskInput(bundles[i], x)
			if i == me {
				total += time.Since(start)
				d := cputime.Process() - c0
				cpu += d
				mask += d
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.HandleMaskedInput(m); err != nil {
				b.Fatal(err)
			}
		}
		if err := srv.FinishMaskedInput(); err != nil {
			b.Fatal(err)
		}
		reqs, err := srv.UnmaskRequests()
		if err != nil {
			b.Fatal(err)
		}
		start, c0 := time.Now(), cputime.Process()
		if _, err := clients[me].Unmask(reqs[me]); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		cpu += cputime.Process() - c0
		iters++
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(iters), "client-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(iters), "client-cpu-ms")
	b.ReportMetric(float64(mask.Microseconds())/1000/float64(iters), "mask-cpu-ms")
	b.ReportMetric(float64(k), "k")
	b.ReportMetric(float64(t), "t")
}

type sessionCase struct {
	clientCase
	// dropAt is the round before which the dropouts happen.
	dropAt secagg.Round
}

// BenchmarkSession runs whole sessions through the simulator (every client
// and the server, real messages) and reports the server's compute, the mean
// client's compute and the traffic per client. Dropouts happen before the
// masked-input round, the costliest case for the server (it must rebuild
// the dropped clients' keys and remove their pairwise masks).
func BenchmarkSession(b *testing.B) {
	var cases []sessionCase
	cases = append(cases, sessionCase{clientCase{n: 1000, d: 1_000_000, bits: 32, dropout: 0.05, corrupt: 0.05}, secagg.RoundMaskedInput})
	// Bonawitz et al. 2017, section 7: complete graph, 100K entries.
	for _, n := range []int{500, 1000} {
		for _, drop := range []float64{0, 0.1, 0.3} {
			cases = append(cases, sessionCase{clientCase{n: n, d: 100_000, bits: 32, dropout: drop, corrupt: 0.05, degree: n - 1}, secagg.RoundMaskedInput})
		}
	}
	cases = append(cases, sessionCase{clientCase{n: 100, d: 10_000, bits: 32, dropout: 0.1, corrupt: 0.05}, secagg.RoundMaskedInput})
	for _, c := range cases {
		b.Run(c.String(), func(b *testing.B) {
			if testing.Short() && c.n > 100 {
				b.Skip("large session in -short mode")
			}
			benchSession(b, c)
		})
	}
}

func benchSession(b *testing.B, c sessionCase) {
	var server, client, serverCPU, clientCPU time.Duration
	var up, down float64
	var k, t int
	iters := 0
	for b.Loop() {
		b.StopTimer()
		cfg := secagg.Config{NumClients: c.n, Dim: c.d, Bits: c.bits, DropoutRate: c.dropout, CorruptRate: c.corrupt,
			Degree: c.degree, Threshold: c.threshold, SessionSeed: [32]byte{byte(iters), 1}}
		if c.degree == c.n-1 {
			// A majority threshold, as in the evaluation of Bonawitz et al.;
			// the secure minimum for 5% corrupt clients is lower.
			cfg.Threshold = c.n/2 + 1
		}
		p, err := secagg.NewParams(cfg)
		if err != nil {
			b.Fatal(err)
		}
		k, t = p.Degree(), p.Threshold()
		rng := rand.New(rand.NewPCG(uint64(iters), 3))
		drop := rng.Perm(c.n)[:int(c.dropout*float64(c.n))]
		rep, err := sim.Run(p, inputs(p, uint64(iters)), sim.Options{Drop: map[secagg.Round][]int{c.dropAt: drop}})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Err != nil || !rep.Correct {
			b.Fatalf("session failed: err=%v correct=%v", rep.Err, rep.Correct)
		}
		for _, d := range rep.ServerTime {
			server += d
		}
		for _, d := range rep.ClientTime {
			client += d
		}
		for _, d := range rep.ServerCPU {
			serverCPU += d
		}
		for _, d := range rep.ClientCPU {
			clientCPU += d
		}
		var u, dn, a int
		for i := range rep.BytesUp {
			if rep.BytesUp[i] > 0 {
				u += rep.BytesUp[i]
				dn += rep.BytesDown[i]
				a++
			}
		}
		up += float64(u) / float64(a)
		down += float64(dn) / float64(a)
		iters++
		b.StartTimer()
	}
	f := float64(iters)
	b.ReportMetric(float64(server.Microseconds())/1000/f, "server-ms")
	b.ReportMetric(float64(client.Microseconds())/1000/f, "client-ms")
	b.ReportMetric(float64(serverCPU.Microseconds())/1000/f, "server-cpu-ms")
	b.ReportMetric(float64(clientCPU.Microseconds())/1000/f, "client-cpu-ms")
	b.ReportMetric(up/f, "up-B/client")
	b.ReportMetric(down/f, "down-B/client")
	b.ReportMetric(float64(k), "k")
	b.ReportMetric(float64(t), "t")
}
