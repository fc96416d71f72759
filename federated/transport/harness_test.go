package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/privml/privml/federated/secagg"
	pb "github.com/privml/privml/federated/transport/transportpb"
	"github.com/privml/privml/internal/mtls"
)

// harness runs a Server over real TCP on 127.0.0.1 with mutual TLS.
type harness struct {
	t       testing.TB
	ca      *mtls.CA
	tlsConf *tls.Config
	lim     Limits
	srv     *Server
	lis     *Listener
	g       *grpc.Server
	addr    string
	cancel  context.CancelFunc
	runErr  chan error
	mu      sync.Mutex
	reports []*RoundReport
	logs    lockedBuffer
}

// lockedBuffer collects log lines from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newHarness(t testing.TB, cfg ServerConfig, lim Limits) *harness {
	t.Helper()
	ca, err := mtls.NewCA("test CA", nil)
	require.NoError(t, err)
	srvCert, err := ca.IssueServer([]string{"localhost", "127.0.0.1"}, nil)
	require.NoError(t, err)
	tlsConf, err := mtls.ServerConfig(ca.CertPEM, srvCert.TLS())
	require.NoError(t, err)
	h := &harness{t: t, ca: ca, tlsConf: tlsConf, runErr: make(chan error, 1)}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(&h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	user := cfg.OnRound
	cfg.OnRound = func(r *RoundReport) ([]byte, error) {
		h.mu.Lock()
		h.reports = append(h.reports, r)
		h.mu.Unlock()
		if user != nil {
			return user(r)
		}
		return []byte("model after round"), nil
	}
	h.srv, err = NewServer(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lim.defaults()
	h.lis = LimitListener(ln, lim.MaxConnections)
	h.addr = ln.Addr().String()
	h.lim = lim
	h.g = NewGRPCServer(h.srv, tlsConf, lim)
	g, lis := h.g, h.lis // the goroutine must not read h's fields, which restartGRPC rewrites
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(func() { h.g.Stop() })
	return h
}

// restartGRPC serves h.srv (replaced by a test) on a new listener.
func (h *harness) restartGRPC() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(h.t, err)
	h.lis = LimitListener(ln, h.lim.MaxConnections)
	h.addr = ln.Addr().String()
	h.g = NewGRPCServer(h.srv, h.tlsConf, h.lim)
	g, lis := h.g, h.lis // the goroutine must not read h's fields, which restartGRPC rewrites
	go func() { _ = g.Serve(lis) }()
}

// start runs the server's rounds in the background.
func (h *harness) start() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	h.cancel = cancel
	h.t.Cleanup(cancel)
	go func() { h.runErr <- h.srv.Run(ctx) }()
}

func (h *harness) wait() error {
	select {
	case err := <-h.runErr:
		return err
	case <-time.After(2 * time.Minute):
		h.t.Fatal("server did not finish")
		return nil
	}
}

func (h *harness) clientTLS(id int, opts *mtls.Options) *tls.Config {
	h.t.Helper()
	c, err := h.ca.IssueClient(id, opts)
	require.NoError(h.t, err)
	conf, err := mtls.ClientConfig(h.ca.CertPEM, c.TLS(), "localhost")
	require.NoError(h.t, err)
	return conf
}

// raw returns a bare gRPC client with client id's certificate.
func (h *harness) raw(id int) pb.AggregationClient {
	return h.rawTLS(h.clientTLS(id, nil))
}

func (h *harness) rawTLS(conf *tls.Config) pb.AggregationClient {
	h.t.Helper()
	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(credentials.NewTLS(conf)))
	require.NoError(h.t, err)
	h.t.Cleanup(func() { conn.Close() })
	return pb.NewAggregationClient(conn)
}

// inputFor is client id's input in a round: deterministic, signed, and
// different per client and round.
func inputFor(id int, round uint64, length int) []int64 {
	x := make([]int64, length)
	for j := range x {
		v := int64((id+1)*(j+3)) + int64(round)*7
		if (id+j)%2 == 1 {
			v = -v
		}
		x[j] = v % 1000
	}
	return x
}

// plainSum is the sum of the inputs of the given clients.
func plainSum(ids []int, round uint64, length int) []int64 {
	s := make([]int64, length)
	for _, id := range ids {
		for j, v := range inputFor(id, round, length) {
			s[j] += v
		}
	}
	return s
}

// runClients starts clients ids with their own certificates and returns a
// function that waits for them and returns their errors.
func (h *harness) runClients(ctx context.Context, ids []int, mod func(id int, c *ClientConfig)) func() map[int]error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := make(map[int]error)
	for _, id := range ids {
		cc := ClientConfig{
			Addr: h.addr, TLS: h.clientTLS(id, nil), ID: id,
			Logger: slog.New(slog.NewJSONHandler(&h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Input: func(_ context.Context, round uint64, _ []byte, length int) ([]int64, error) {
				return inputFor(id, round, length), nil
			},
		}
		if mod != nil {
			mod(id, &cc)
		}
		c, err := NewClient(cc)
		require.NoError(h.t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			err := c.Run(ctx)
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		}()
	}
	return func() map[int]error {
		wg.Wait()
		return errs
	}
}

func (h *harness) roundReports() []*RoundReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*RoundReport(nil), h.reports...)
}

func ids(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func baseConfig(n, dim int, rounds uint64) ServerConfig {
	return ServerConfig{
		Secagg:       secagg.Config{NumClients: n, Dim: dim, SideDim: 1, Bits: 32, MaxAbs: 1 << 20, MaxSideAbs: 1 << 20, DropoutRate: 0.3},
		LastRound:    rounds,
		StageTimeout: 2 * time.Second,
		StartTimeout: 10 * time.Second,
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
