package secaggbench

import (
	"context"
	"crypto/ed25519"
	"encoding"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
	"github.com/privml/privml/internal/cputime"
	"github.com/privml/privml/internal/prg"
	"github.com/privml/privml/internal/vec"
)

// BenchmarkServerWorkers measures the server's parallel speed-up and its
// distance to the floor in one session: every client message is decoded
// and handed to two servers, one run with GOMAXPROCS=1 during its calls
// and one with the GOMAXPROCS the benchmark runs with (-cpu; by default
// every core), so both see the same messages, interleaved, and the
// machine's drift affects both alike. The messages of the rounds without
// a large vector (adverts, key shares, consistency signatures, unmask
// responses) are handed to each server from as many goroutines as it has
// workers, all of a round at once, as a server reading many connections
// receives them; the masked inputs, one at a time, as the clients send
// them. 5 % of the clients drop out before the masked-input round, the
// server's costliest case. The floor is measured on the same machine
// state, right before and right after the session: the median of 15
// expansions of one D-element 32-bit mask (BenchmarkMaskFloor's
// operation) each time, the lower of the two kept, so that a slow moment
// of the machine cannot flatter the ratio (the add floor below likewise).
//
// Reported per session: client-ms and client-cpu-ms, the mean over the
// surviving clients of their whole-session compute (decoding the server's
// messages included); server-1p-ms and server-ms, the wall time of the
// one-worker and the parallel server (decoding included); par/seq, their
// ratio; masks, the mask expansions the server must do (one self mask per
// survivor, one pairwise mask per dropped client and surviving
// neighbour); floor-ms, masks x the measured floor / GOMAXPROCS;
// server/floor, server-ms / floor-ms; mask-floor-ms, the floor itself.
// The floor leaves out work no server can skip: reading every survivor's
// masked input from memory and adding it into the sum. add-floor-ms is
// that, measured the same way (survivors x the median time to add one
// D-element 32-bit vector, fresh from memory, into a sum on every core),
// and server/(floor+add) the server's distance to both.
//
// The malicious model runs twice: "malicious" hands the masked inputs over
// with the sender's channel identity (HandleMaskedInputFrom, as the gRPC
// transport does under mutual TLS), "malicious-signed" has the server
// verify each masked input's signature (HandleMaskedInput), a SHA-256 pass
// over every 4 MB vector.
func BenchmarkServerWorkers(b *testing.B) {
	c := clientCase{n: 1000, d: 1_000_000, bits: 32, dropout: 0.05, corrupt: 0.05}
	for _, mode := range workerModes {
		b.Run(c.String()+"_"+mode.String(), func(b *testing.B) {
			if testing.Short() {
				b.Skip("large session in -short mode")
			}
			benchWorkers(b, c, mode)
		})
	}
}

// workersMode is a threat model and, in the malicious one, whether the
// server verifies the masked inputs' signatures (signed) or takes the
// sender from an authenticated channel.
type workersMode struct {
	threat secagg.Threat
	signed bool
}

var workerModes = []workersMode{{secagg.SemiHonest, false}, {secagg.Malicious, false}, {secagg.Malicious, true}}

func (m workersMode) String() string {
	if m.signed {
		return m.threat.String() + "-signed"
	}
	return m.threat.String()
}

// twin is a pair of servers fed the same messages: srv[0] runs with
// procs[0] = 1, srv[1] with procs[1].
type twin struct {
	srv   [2]*secagg.Server
	procs [2]int
	wall  [2]time.Duration
	// stage names the protocol step being fed; byStage is each server's
	// wall time per step, for the breakdown printed with -v.
	stage   string
	byStage map[string]*[2]time.Duration
}

// labelled runs f with the profiler labels server=k and stage, which the
// goroutines f starts inherit: go tool pprof -tagfocus server=1 shows the
// parallel server alone.
func (tw *twin) labelled(k int, f func()) {
	pprof.Do(context.Background(), pprof.Labels("server", strconv.Itoa(k), "stage", tw.stage), func(context.Context) { f() })
}

// add charges d to server k, in total and to the current stage.
func (tw *twin) add(k int, d time.Duration) {
	tw.wall[k] += d
	if tw.byStage == nil {
		tw.byStage = map[string]*[2]time.Duration{}
	}
	st := tw.byStage[tw.stage]
	if st == nil {
		st = new([2]time.Duration)
		tw.byStage[tw.stage] = st
	}
	st[k] += d
}

// feed decodes raw for each server and hands it over, timing both.
func feed[T any, PT interface {
	*T
	encoding.BinaryUnmarshaler
}](tw *twin, raw []byte, handle func(*secagg.Server, PT) error) error {
	defer runtime.GOMAXPROCS(tw.procs[1])
	for k := range 2 {
		runtime.GOMAXPROCS(tw.procs[k])
		start := time.Now()
		var err error
		tw.labelled(k, func() {
			var m T
			err = PT(&m).UnmarshalBinary(raw)
			if err == nil {
				err = handle(tw.srv[k], PT(&m))
			}
		})
		tw.add(k, time.Since(start))
		if err != nil {
			return fmt.Errorf("server %d: %w", k, err)
		}
	}
	return nil
}

// feedAll hands the messages of a round that carry no large vector to
// each server from as many goroutines as it has workers (GOMAXPROCS), as a
// server reading many connections does, each goroutine decoding and
// handing over the next message not yet taken; the server's time is the
// wall time until the last one is handled.
func feedAll[T any, PT interface {
	*T
	encoding.BinaryUnmarshaler
}](tw *twin, raws [][]byte, handle func(*secagg.Server, PT) error) error {
	defer runtime.GOMAXPROCS(tw.procs[1])
	for k := range 2 {
		runtime.GOMAXPROCS(tw.procs[k])
		start := time.Now()
		var next atomic.Int64
		var first atomic.Pointer[error]
		var wg sync.WaitGroup
		for range tw.procs[k] {
			wg.Go(func() {
				tw.labelled(k, func() {
					for {
						i := int(next.Add(1) - 1)
						if i >= len(raws) {
							return
						}
						var m T
						err := PT(&m).UnmarshalBinary(raws[i])
						if err == nil {
							err = handle(tw.srv[k], PT(&m))
						}
						if err != nil {
							first.CompareAndSwap(nil, &err)
							return
						}
					}
				})
			})
		}
		wg.Wait()
		tw.add(k, time.Since(start))
		if err := first.Load(); err != nil {
			return fmt.Errorf("server %d: %w", k, *err)
		}
	}
	return nil
}

// call runs a round-closing method on both servers, timed, and returns the
// first one's output.
func call[R any](tw *twin, f func(*secagg.Server) (R, error)) (R, error) {
	defer runtime.GOMAXPROCS(tw.procs[1])
	var out R
	for k := range 2 {
		runtime.GOMAXPROCS(tw.procs[k])
		start := time.Now()
		var r R
		var err error
		tw.labelled(k, func() { r, err = f(tw.srv[k]) })
		tw.add(k, time.Since(start))
		if err != nil {
			return out, fmt.Errorf("server %d: %w", k, err)
		}
		if k == 0 {
			out = r
		}
	}
	return out, nil
}

// clock accumulates one client's wall and CPU time.
type clock struct{ wall, cpu time.Duration }

func (c *clock) time(f func() error) error {
	start, c0 := time.Now(), cputime.Process()
	err := f()
	c.wall += time.Since(start)
	c.cpu += cputime.Process() - c0
	return err
}

// down encodes a server message and decodes it into into, as a client
// receiving it would (the decoding is the client's time).
func down(ck *clock, m encoding.BinaryMarshaler, into encoding.BinaryUnmarshaler) error {
	raw, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	return ck.time(func() error { return into.UnmarshalBinary(raw) })
}

type workersRun struct {
	clientWall, clientCPU, server1, serverN, floor time.Duration
	addFloor                                       time.Duration // survivors x one parallel add
	masks                                          int
	stages                                         string
}

func benchWorkers(b *testing.B, c clientCase, mode workersMode) {
	var sum workersRun
	iters := 0
	for b.Loop() {
		b.StopTimer()
		r, err := runTwin(c, mode, uint64(iters))
		if err != nil {
			b.Fatal(err)
		}
		sum.clientWall += r.clientWall
		sum.clientCPU += r.clientCPU
		sum.server1 += r.server1
		sum.serverN += r.serverN
		sum.floor += r.floor
		sum.addFloor += r.addFloor
		sum.masks += r.masks
		b.Logf("server wall per step (1 worker/%d workers):%s", runtime.GOMAXPROCS(0), r.stages)
		iters++
		b.StartTimer()
	}
	f := float64(iters)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / f }
	procs := float64(runtime.GOMAXPROCS(0))
	masks := float64(sum.masks) / f
	floor := masks * ms(sum.floor) / procs
	b.ReportMetric(ms(sum.clientWall), "client-ms")
	b.ReportMetric(ms(sum.clientCPU), "client-cpu-ms")
	b.ReportMetric(ms(sum.server1), "server-1p-ms")
	b.ReportMetric(ms(sum.serverN), "server-ms")
	b.ReportMetric(float64(sum.serverN)/float64(sum.server1), "par/seq")
	b.ReportMetric(masks, "masks")
	b.ReportMetric(ms(sum.floor), "mask-floor-ms")
	b.ReportMetric(floor, "floor-ms")
	b.ReportMetric(ms(sum.addFloor), "add-floor-ms")
	b.ReportMetric(ms(sum.serverN)/(floor+ms(sum.addFloor)), "server/(floor+add)")
	b.ReportMetric(ms(sum.serverN)/floor, "server/floor")
}

// runTwin runs one session and returns its figures.
func runTwin(c clientCase, mode workersMode, iter uint64) (workersRun, error) {
	var out workersRun
	threat := mode.threat
	cfg := secagg.Config{NumClients: c.n, Dim: c.d, Bits: c.bits, DropoutRate: c.dropout, CorruptRate: c.corrupt,
		Threat: threat, SessionSeed: [32]byte{byte(iter), 2}, Sequence: iter}
	var priv []ed25519.PrivateKey
	if threat == secagg.Malicious {
		pub, pk, err := sim.NewIdentities(c.n, nil)
		if err != nil {
			return out, err
		}
		cfg.Identities, priv = pub, pk
	}
	p, err := secagg.NewParams(cfg)
	if err != nil {
		return out, err
	}
	tw := &twin{procs: [2]int{1, runtime.GOMAXPROCS(0)}}
	for k := range tw.srv {
		if tw.srv[k], err = secagg.NewServer(p); err != nil {
			return out, err
		}
	}
	clients := make([]*secagg.Client, c.n)
	clocks := make([]clock, c.n)
	for i := range clients {
		opts := &secagg.ClientOptions{}
		if priv != nil {
			seed := cfg.SessionSeed
			opts.Identity = priv[i]
			opts.Sequences = &secagg.MemorySequenceStore{}
			opts.Policy = secagg.ClientPolicy{Roster: secagg.RosterDigest(cfg.Identities), SessionSeed: &seed}
		}
		if clients[i], err = secagg.NewClient(p, i, opts); err != nil {
			return out, err
		}
	}
	rng := rand.New(rand.NewPCG(iter, 3))
	dropped := rng.Perm(c.n)[:int(c.dropout*float64(c.n))]
	s := &twinSession{p: p, tw: tw, clients: clients, clocks: clocks, dropped: dropped, in: inputs(p, iter)}
	s.signed = mode.signed
	// The floors are measured before and after the session and the lower
	// of each kept: a slow moment of the machine cannot lower the ratios.
	floor, addFloor := measureFloor(c.d), measureAddFloor(c.d)
	res, err := s.run(threat)
	if err != nil {
		return out, err
	}
	if err := s.check(res); err != nil {
		return out, err
	}
	for _, u := range res.Survivors {
		out.clientWall += clocks[u].wall
		out.clientCPU += clocks[u].cpu
	}
	out.clientWall /= time.Duration(len(res.Survivors))
	out.clientCPU /= time.Duration(len(res.Survivors))
	out.server1, out.serverN = tw.wall[0], tw.wall[1]
	out.stages = fmt.Sprintf(" (k=%d, t=%d)", p.Degree(), p.Threshold())
	for _, st := range []string{"advertise", "share-keys", "masked-input", "consistency", "unmask", "finish"} {
		if d := tw.byStage[st]; d != nil {
			out.stages += fmt.Sprintf(" %s %.0f/%.0f ms", st, ms(d[0]), ms(d[1]))
		}
	}
	out.masks = maskCount(p, res.Survivors, dropped)
	out.floor = min(floor, measureFloor(c.d))
	out.addFloor = time.Duration(len(res.Survivors)) * min(addFloor, measureAddFloor(c.d))
	return out, nil
}

// maskCount is the number of mask expansions the server must do: the
// self mask of every survivor, and the pairwise mask of every dropped
// client (all dropped after sharing their keys) with each surviving
// neighbour.
func maskCount(p *secagg.Params, survivors, dropped []int) int {
	alive := make([]bool, p.NumClients())
	for _, u := range survivors {
		alive[u] = true
	}
	n := len(survivors)
	for _, d := range dropped {
		for _, v := range p.Neighbours(d) {
			if alive[v] {
				n++
			}
		}
	}
	return n
}

// measureAddFloor is the median time of 15 additions of a d-element
// 32-bit vector into a sum, split among GOMAXPROCS goroutines as the
// server's workers split it, each vector one of 16 distinct ones (64 MB at D = 1,000,000, more
// than the caches hold) so that it comes from memory like a client's
// message.
func measureAddFloor(d int) time.Duration {
	srcs := make([][]uint32, 16)
	for i := range srcs {
		srcs[i] = make([]uint32, d)
		for j := range srcs[i] {
			srcs[i][j] = uint32(i*j + j)
		}
	}
	acc := make([]uint32, d)
	w := runtime.GOMAXPROCS(0)
	add := func(src []uint32) {
		var wg sync.WaitGroup
		per := (d + w - 1) / w
		for k := range w {
			lo, hi := min(k*per, d), min((k+1)*per, d)
			wg.Go(func() { vec.AddMod32(acc[lo:hi], src[lo:hi], 32) })
		}
		wg.Wait()
	}
	for _, src := range srcs {
		add(src)
	}
	ts := make([]time.Duration, 15)
	for i := range ts {
		start := time.Now()
		add(srcs[i%len(srcs)])
		ts[i] = time.Since(start)
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measureFloor is the median time of 15 expansions of one d-element 32-bit
// mask added into a vector (BenchmarkMaskFloor's operation).
func measureFloor(d int) time.Duration {
	v := make([]uint32, d)
	seed := [32]byte{'f', 'l', 'o', 'o', 'r'}
	prg.ExpandAddMod32(v, &seed, 32) // fault the pages in
	ts := make([]time.Duration, 15)
	for i := range ts {
		start := time.Now()
		prg.ExpandAddMod32(v, &seed, 32)
		ts[i] = time.Since(start)
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}

type twinSession struct {
	p       *secagg.Params
	tw      *twin
	clients []*secagg.Client
	clocks  []clock
	dropped []int
	in      sim.Inputs
	// signed: the server verifies each masked input's signature instead
	// of taking its sender from the channel.
	signed bool
}

func (s *twinSession) run(threat secagg.Threat) (*secagg.Result, error) {
	tw := s.tw
	tw.stage = "advertise"
	var raws [][]byte
	for i, c := range s.clients {
		var raw []byte
		if err := s.clocks[i].time(func() error {
			a, err := c.Advertise()
			if err == nil {
				raw, err = a.MarshalBinary()
			}
			return err
		}); err != nil {
			return nil, err
		}
		raws = append(raws, raw)
	}
	if err := feedAll(tw, raws, (*secagg.Server).HandleAdvert); err != nil {
		return nil, err
	}
	lists, err := call(tw, (*secagg.Server).FinishAdvertise)
	if err != nil {
		return nil, err
	}
	tw.stage = "share-keys"
	raws = raws[:0]
	for i, c := range s.clients {
		var l secagg.AdvertList
		if err := down(&s.clocks[i], lists[i], &l); err != nil {
			return nil, err
		}
		var raw []byte
		if err := s.clocks[i].time(func() error {
			m, err := c.ShareKeys(&l)
			if err == nil {
				raw, err = m.MarshalBinary()
			}
			return err
		}); err != nil {
			return nil, err
		}
		raws = append(raws, raw)
	}
	if err := feedAll(tw, raws, (*secagg.Server).HandleShareKeys); err != nil {
		return nil, err
	}
	bundles, err := call(tw, (*secagg.Server).FinishShareKeys)
	if err != nil {
		return nil, err
	}
	tw.stage = "masked-input"
	if err := s.maskedInputs(bundles); err != nil {
		return nil, err
	}
	tw.stage = "consistency"
	if threat == secagg.Malicious {
		if err := s.consistency(); err != nil {
			return nil, err
		}
	}
	tw.stage = "unmask"
	reqs, err := call(tw, (*secagg.Server).UnmaskRequests)
	if err != nil {
		return nil, err
	}
	raws = raws[:0]
	for _, i := range s.survivors() {
		var q secagg.UnmaskRequest
		if err := down(&s.clocks[i], reqs[i], &q); err != nil {
			return nil, err
		}
		var raw []byte
		if err := s.clocks[i].time(func() error {
			m, err := s.clients[i].Unmask(&q)
			if err == nil {
				raw, err = m.MarshalBinary()
			}
			return err
		}); err != nil {
			return nil, err
		}
		raws = append(raws, raw)
	}
	if err := feedAll(tw, raws, (*secagg.Server).HandleUnmask); err != nil {
		return nil, err
	}
	tw.stage = "finish"
	var res [2]*secagg.Result
	k := 0
	if _, err := call(tw, func(srv *secagg.Server) (struct{}, error) {
		r, err := srv.Finish()
		res[k] = r
		k++
		return struct{}{}, err
	}); err != nil {
		return nil, err
	}
	if !slices.Equal(res[0].Sum, res[1].Sum) || !slices.Equal(res[0].Survivors, res[1].Survivors) {
		return nil, fmt.Errorf("the one-worker and the parallel server disagree")
	}
	return res[1], nil
}

func (s *twinSession) survivors() []int {
	var out []int
	for i := range s.clients {
		if !slices.Contains(s.dropped, i) {
			out = append(out, i)
		}
	}
	return out
}

func (s *twinSession) maskedInputs(bundles map[int]*secagg.ShareBundle) error {
	x := make([]int64, s.p.Length())
	for _, i := range s.survivors() {
		s.in(i, x)
		var bd secagg.ShareBundle
		if err := down(&s.clocks[i], bundles[i], &bd); err != nil {
			return err
		}
		var raw []byte
		if err := s.clocks[i].time(func() error {
			m, err := s.clients[i].MaskInput(&bd, x)
			if err == nil {
				raw, err = m.MarshalBinary()
			}
			return err
		}); err != nil {
			return err
		}
		handle := func(srv *secagg.Server, m *secagg.MaskedInput) error { return srv.HandleMaskedInputFrom(i, m) }
		if s.signed {
			handle = (*secagg.Server).HandleMaskedInput
		}
		if err := feed(s.tw, raw, handle); err != nil {
			return err
		}
	}
	_, err := call(s.tw, func(srv *secagg.Server) (struct{}, error) { return struct{}{}, srv.FinishMaskedInput() })
	return err
}

func (s *twinSession) consistency() error {
	reqs, err := call(s.tw, (*secagg.Server).ConsistencyRequests)
	if err != nil {
		return err
	}
	var raws [][]byte
	for _, i := range s.survivors() {
		var q secagg.ConsistencyRequest
		if err := down(&s.clocks[i], reqs[i], &q); err != nil {
			return err
		}
		var raw []byte
		if err := s.clocks[i].time(func() error {
			m, err := s.clients[i].Consistency(&q)
			if err == nil {
				raw, err = m.MarshalBinary()
			}
			return err
		}); err != nil {
			return err
		}
		raws = append(raws, raw)
	}
	if err := feedAll(s.tw, raws, (*secagg.Server).HandleConsistency); err != nil {
		return err
	}
	_, err = call(s.tw, func(srv *secagg.Server) (struct{}, error) { return struct{}{}, srv.FinishConsistency() })
	return err
}

// check compares the result with the plain sum of the survivors' inputs.
func (s *twinSession) check(res *secagg.Result) error {
	want := make([]int64, s.p.Length())
	x := make([]int64, s.p.Length())
	for _, u := range res.Survivors {
		s.in(u, x)
		for j, v := range x {
			want[j] += v
		}
	}
	if !slices.Equal(want, res.Sum) {
		return fmt.Errorf("sum differs from the plain sum of the %d survivors", len(res.Survivors))
	}
	return nil
}

// TestServerWorkersDriver runs the benchmark's two-server session at a
// small size in both threat models: both servers must return the plain
// sum, and the mask count must be the survivors plus the dropped clients'
// surviving neighbours.
func TestServerWorkersDriver(t *testing.T) {
	c := clientCase{n: 100, d: 5000, bits: 32, dropout: 0.05, corrupt: 0.05}
	for _, mode := range workerModes {
		r, err := runTwin(c, mode, 7)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if r.masks <= 95 || r.masks > 95+5*99 {
			t.Fatalf("%s: %d masks for 95 survivors and 5 dropped clients", mode, r.masks)
		}
		if r.server1 <= 0 || r.serverN <= 0 || r.floor <= 0 || r.clientWall <= 0 {
			t.Fatalf("%s: a time is not measured: %+v", mode, r)
		}
	}
}
