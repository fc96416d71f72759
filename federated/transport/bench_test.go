package transport

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
	pb "github.com/privml/privml/federated/transport/transportpb"
	"github.com/privml/privml/internal/cputime"
)

// Benchmark sizes: 100 clients x 100,000 parameters, SecAgg+ (the
// parameter finder's sparse graph for 10 % dropout).
const benchN, benchDim = 100, 100_000

func benchSecagg() secagg.Config {
	return secagg.Config{NumClients: benchN, Dim: benchDim, SideDim: 1, Bits: 32, MaxAbs: 1 << 20, MaxSideAbs: 1 << 20, DropoutRate: 0.1, CorruptRate: 0.05}
}

// benchDrops picks the 10 % of clients that go silent in a round, at
// stages spread over the round.
func benchDrops(round uint64, dropRate float64) map[int]pb.Stage {
	stages := []pb.Stage{pb.Stage_STAGE_ADVERTISE, pb.Stage_STAGE_SHARE_KEYS, pb.Stage_STAGE_MASKED_INPUT, pb.Stage_STAGE_UNMASK}
	out := map[int]pb.Stage{}
	k := int(dropRate * benchN)
	for i := range k {
		out[(int(round)*37+i*11)%benchN] = stages[i%len(stages)]
	}
	return out
}

// BenchmarkRound measures one round of 100 clients x 100,000 parameters
// over gRPC with mutual TLS on 127.0.0.1 (all in one process, each client
// on its own connection), against the same session run in process by
// secagg/sim. With dropouts, a silent client costs the stage deadline
// (StageTimeout, 8s here): the server cannot tell a slow client from a
// dead one before it.
func BenchmarkRound(b *testing.B) {
	for _, drop := range []float64{0, 0.1} {
		b.Run(fmt.Sprintf("grpc/drop=%g", drop), func(b *testing.B) { benchGRPC(b, drop) })
		b.Run(fmt.Sprintf("inprocess/drop=%g", drop), func(b *testing.B) { benchInProcess(b, drop) })
	}
}

func benchInProcess(b *testing.B, drop float64) {
	var times []time.Duration
	cpu0 := cputime.Process()
	for i := range b.N {
		cfg := benchSecagg()
		cfg.Sequence = uint64(i + 1)
		p, err := secagg.NewParams(cfg)
		require.NoError(b, err)
		opts := sim.Options{Drop: map[secagg.Round][]int{}}
		stageToRound := map[pb.Stage]secagg.Round{pb.Stage_STAGE_ADVERTISE: secagg.RoundAdvertise, pb.Stage_STAGE_SHARE_KEYS: secagg.RoundShareKeys,
			pb.Stage_STAGE_MASKED_INPUT: secagg.RoundMaskedInput, pb.Stage_STAGE_UNMASK: secagg.RoundUnmask}
		for id, st := range benchDrops(uint64(i+1), drop) {
			opts.Drop[stageToRound[st]] = append(opts.Drop[stageToRound[st]], id)
		}
		start := time.Now()
		rep, err := sim.Run(p, func(c int, dst []int64) { copy(dst, inputFor(c, 1, len(dst))) }, opts)
		require.NoError(b, err)
		require.NoError(b, rep.Err)
		times = append(times, time.Since(start))
	}
	reportCPU(b, cputime.Process()-cpu0)
	reportTimes(b, times)
}

func benchGRPC(b *testing.B, drop float64) {
	cfg := ServerConfig{Secagg: benchSecagg(), LastRound: uint64(b.N), StageTimeout: 8 * time.Second, StartTimeout: time.Minute}
	var times []time.Duration
	var mu sync.Mutex
	cfg.OnRound = func(r *RoundReport) ([]byte, error) {
		if r.Err != nil {
			return nil, r.Err
		}
		mu.Lock()
		times = append(times, r.Duration)
		mu.Unlock()
		return nil, nil
	}
	h := newHarness(b, cfg, Limits{MaxConnections: 4 * benchN})
	// Count every byte on the server's connections (TLS records included).
	var wire atomic.Int64
	h.g.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	h.addr = ln.Addr().String()
	h.g = NewGRPCServer(h.srv, h.tlsConf, Limits{MaxConnections: 4 * benchN})
	go func() { _ = h.g.Serve(&countingListener{Listener: ln, n: &wire}) }()
	b.Cleanup(h.g.Stop)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := h.runClients(ctx, ids(benchN), func(id int, c *ClientConfig) {
		c.Logger = discardLogger()
		c.BeforeStage = func(round uint64, st Stage) error {
			if s, ok := benchDrops(round, drop)[id]; ok && s == st {
				return fmt.Errorf("silent")
			}
			return nil
		}
	})
	// Every client has connected (TLS handshake done) and said Hello:
	// the measurement is of rounds, not of connection set-up.
	for {
		h.srv.mu.Lock()
		n := len(h.srv.present)
		h.srv.mu.Unlock()
		if n == benchN {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ResetTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cpu0, alloc0 := cputime.Process(), ms.TotalAlloc
	h.start()
	require.NoError(b, h.wait())
	cpu := cputime.Process() - cpu0
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.TotalAlloc-alloc0)/(1<<20)/float64(b.N), "alloc-MiB/round")
	b.StopTimer()
	cancel()
	wait()
	reportCPU(b, cpu)
	reportTimes(b, times)
	b.ReportMetric(float64(wire.Load())/float64(benchN)/float64(b.N), "wire-B/client/round")
}

// reportCPU reports the process's CPU time per round (server and clients
// together in the gRPC runs, from the moment every client has connected;
// the simulation in the in-process ones).
func reportCPU(b *testing.B, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/round")
	}
}

func reportTimes(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	if len(times) == 0 {
		return
	}
	q := func(p float64) float64 {
		return float64(times[int(p*float64(len(times)-1)+0.5)].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.n.Add(int64(k))
	return k, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	k, err := c.Conn.Write(p)
	c.n.Add(int64(k))
	return k, err
}
