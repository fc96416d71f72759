package heservice

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/privml/privml/he"
	"github.com/privml/privml/he/heservice/hepb"
	"github.com/privml/privml/internal/mtls"
)

// pki is an in-memory development PKI: a CA, the server's certificate and
// two clients'.
type pki struct {
	ca      *mtls.CA
	server  *mtls.Issued
	clients []*mtls.Issued
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := mtls.NewCA("test CA", nil)
	require.NoError(t, err)
	srv, err := ca.IssueServer([]string{"127.0.0.1"}, nil)
	require.NoError(t, err)
	p := &pki{ca: ca, server: srv}
	for id := range 2 {
		c, err := ca.IssueClient(id, nil)
		require.NoError(t, err)
		p.clients = append(p.clients, c)
	}
	return p
}

func (p *pki) clientTLS(t *testing.T, id int) *tls.Config {
	conf, err := mtls.ClientConfig(p.ca.CertPEM, p.clients[id].TLS(), "127.0.0.1")
	require.NoError(t, err)
	return conf
}

// clock is a settable clock for session expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a running service with its plan, a client key and the PKI.
type env struct {
	plan   *he.Plan
	model  *he.Model
	client *he.Client
	keys   *he.EvaluationKeys
	pki    *pki
	srv    *Server
	addr   string
	clock  *clock
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testPlan compiles a 12-6(x²)-3 network on insecure logN-10 parameters.
func testPlan(t testing.TB, mode he.Mode, seed uint64) (*he.Model, *he.Plan) {
	return testPlanIn(t, mode, seed, 12)
}

// testPlanIn compiles an in-6(x²)-3 network.
func testPlanIn(t testing.TB, mode he.Mode, seed uint64, in int) (*he.Model, *he.Plan) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	dense := func(out, in int, act he.Activation) he.Dense {
		w := make([][]float64, out)
		for i := range w {
			w[i] = make([]float64, in)
			for j := range w[i] {
				w[i][j] = (2*r.Float64() - 1) / float64(in)
			}
		}
		b := make([]float64, out)
		return he.Dense{Weights: w, Bias: b, Activation: act}
	}
	m, err := he.NewMLP(dense(6, in, he.ActSquare), dense(3, 6, he.ActNone))
	require.NoError(t, err)
	params, err := he.InsecureTestParameters(10, 3)
	require.NoError(t, err)
	plan, err := he.Compile(m, he.CompileOptions{Mode: mode, Parameters: &params})
	require.NoError(t, err)
	return m, plan
}

func newEnv(t *testing.T, mode he.Mode, cfg ServerConfig) *env {
	t.Helper()
	e := &env{pki: newPKI(t), clock: &clock{t: time.Unix(1e9, 0)}, logs: &syncBuffer{}}
	e.model, e.plan = testPlan(t, mode, 1)
	var err error
	e.client, err = he.NewClient(e.plan.Parameters())
	require.NoError(t, err)
	e.keys, err = e.client.GenEvaluationKeys(e.plan)
	require.NoError(t, err)
	cfg.Plan = e.plan
	cfg.now = e.clock.now
	cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv, err = NewServer(cfg)
	require.NoError(t, err)
	conf, err := mtls.ServerConfig(e.pki.ca.CertPEM, e.pki.server.TLS())
	require.NoError(t, err)
	g := NewGRPCServer(e.srv, conf)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	e.addr = lis.Addr().String()
	return e
}

func (e *env) dial(t *testing.T, id int) *Client {
	t.Helper()
	c, err := Dial(e.addr, e.pki.clientTLS(t, id), e.plan)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// raw returns a bare gRPC client of the service, with message limits
// far above the server's, for sending what a well-behaved client would
// not.
func (e *env) raw(t *testing.T, id int) hepb.InferenceClient {
	t.Helper()
	conn, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(credentials.NewTLS(e.pki.clientTLS(t, id))),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(1<<28), grpc.MaxCallRecvMsgSize(1<<28)))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return hepb.NewInferenceClient(conn)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func encodeCT(t *testing.T, ct *he.Ciphertext) []byte {
	var b bytes.Buffer
	_, err := ct.WriteTo(&b)
	require.NoError(t, err)
	return b.Bytes()
}

func encodeKeys(t *testing.T, k *he.EvaluationKeys) []byte {
	var b bytes.Buffer
	_, err := k.WriteTo(&b)
	require.NoError(t, err)
	return b.Bytes()
}

// TestServiceAgreesWithPlaintext: both packings over mutual TLS, the
// decrypted outputs within 1e-3 of plaintext inference.
func TestServiceAgreesWithPlaintext(t *testing.T) {
	for _, mode := range []he.Mode{he.Latency, he.Batch} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t, mode, ServerConfig{})
			c := e.dial(t, 0)
			require.NoError(t, c.CheckPlan(ctxT(t)))
			sess, err := c.OpenSession(ctxT(t), e.keys)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(9, 9))
			xs := make([][]float64, 5)
			for i := range xs {
				xs[i] = make([]float64, 12)
				for j := range xs[i] {
					xs[i][j] = 2*r.Float64() - 1
				}
			}
			cts, err := e.client.Encrypt(e.plan, xs)
			require.NoError(t, err)
			var got [][]float64
			for _, ct := range cts {
				out, err := sess.Evaluate(ctxT(t), ct)
				require.NoError(t, err)
				vals, err := e.client.Decrypt(out)
				require.NoError(t, err)
				got = append(got, vals...)
			}
			require.Len(t, got, len(xs))
			for i, x := range xs {
				want, err := e.model.Predict(x)
				require.NoError(t, err)
				assert.InDeltaSlice(t, want, got[i], 1e-3, "sample %d", i)
			}
			require.Equal(t, 1, e.srv.Sessions())
			require.NoError(t, sess.Close(ctxT(t)))
			require.Equal(t, 0, e.srv.Sessions())
			_, err = sess.Evaluate(ctxT(t), cts[0])
			require.Equal(t, codes.NotFound, status.Code(err))
		})
	}
}

// TestBadPeers: every misbehaving client gets a status code naming the
// problem, and the server keeps serving the others.
func TestBadPeers(t *testing.T) {
	e := newEnv(t, he.Latency, ServerConfig{MaxChunkBytes: 64 << 10, OpenTimeout: 2 * time.Second})
	good := e.dial(t, 0)
	sess, err := good.OpenSession(ctxT(t), e.keys)
	require.NoError(t, err)
	cts, err := e.client.Encrypt(e.plan, [][]float64{make([]float64, 12)})
	require.NoError(t, err)
	ctBytes := encodeCT(t, cts[0])
	raw := e.raw(t, 0)

	t.Run("oversized ciphertext", func(t *testing.T) {
		big := make([]byte, e.srv.MaxMessageBytes()+1)
		_, err := raw.Evaluate(ctxT(t), &hepb.EvaluateRequest{Session: sess.id, Ciphertext: big})
		require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	})
	t.Run("oversized key chunk", func(t *testing.T) {
		st, err := raw.OpenSession(ctxT(t))
		require.NoError(t, err)
		keys := encodeKeys(t, e.keys)
		require.Greater(t, len(keys), 64<<10)
		st.Send(&hepb.KeyChunk{PlanDigest: PlanDigest(e.plan), Data: keys[:64<<10+1]})
		_, err = st.CloseAndRecv()
		require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	})
	t.Run("ciphertext for another plan", func(t *testing.T) {
		// Same parameters, another input dimension: the layout is not
		// the plan's. (A batch ciphertext of 12 parts is refused earlier,
		// as oversized.)
		_, other := testPlanIn(t, he.Latency, 2, 40)
		oc, err := he.NewClient(other.Parameters())
		require.NoError(t, err)
		octs, err := oc.Encrypt(other, [][]float64{make([]float64, 40)})
		require.NoError(t, err)
		_, err = raw.Evaluate(ctxT(t), &hepb.EvaluateRequest{Session: sess.id, Ciphertext: encodeCT(t, octs[0])})
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		assert.Contains(t, err.Error(), "not the plan's input")
	})
	t.Run("malformed ciphertexts", func(t *testing.T) {
		for name, b := range map[string][]byte{
			"empty":     nil,
			"truncated": ctBytes[:len(ctBytes)/2],
			"trailing":  append(bytes.Clone(ctBytes), 0),
			"garbage":   bytes.Repeat([]byte{0xff}, 100),
		} {
			_, err := raw.Evaluate(ctxT(t), &hepb.EvaluateRequest{Session: sess.id, Ciphertext: b})
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", name, err)
		}
	})
	t.Run("keys that do not match the plan", func(t *testing.T) {
		// Keys of the batch plan (no Galois keys) for the latency plan.
		_, bplan := testPlan(t, he.Batch, 1)
		bk, err := e.client.GenEvaluationKeys(bplan)
		require.NoError(t, err)
		_, err = good.OpenSession(ctxT(t), bk)
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		assert.Contains(t, err.Error(), "Galois keys")
		// Keys of other parameters.
		params, err := he.InsecureTestParameters(11, 3)
		require.NoError(t, err)
		m, _ := testPlan(t, he.Latency, 3)
		op, err := he.Compile(m, he.CompileOptions{Parameters: &params})
		require.NoError(t, err)
		oc, err := he.NewClient(params)
		require.NoError(t, err)
		ok, err := oc.GenEvaluationKeys(op)
		require.NoError(t, err)
		_, err = good.OpenSession(ctxT(t), ok)
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	})
	t.Run("wrong plan digest", func(t *testing.T) {
		st, err := raw.OpenSession(ctxT(t))
		require.NoError(t, err)
		st.Send(&hepb.KeyChunk{PlanDigest: make([]byte, 32), Data: []byte("PMHE")})
		_, err = st.CloseAndRecv()
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	})
	t.Run("truncated and padded key streams", func(t *testing.T) {
		keys := encodeKeys(t, e.keys)
		for name, data := range map[string][]byte{
			"truncated": keys[:len(keys)-1],
			"padded":    append(bytes.Clone(keys), 1, 2, 3),
		} {
			st, err := raw.OpenSession(ctxT(t))
			require.NoError(t, err)
			first := true
			for len(data) > 0 {
				k := min(len(data), 32<<10)
				m := &hepb.KeyChunk{Data: data[:k]}
				if first {
					m.PlanDigest = PlanDigest(e.plan)
					first = false
				}
				if st.Send(m) != nil {
					break
				}
				data = data[k:]
			}
			_, err = st.CloseAndRecv()
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", name, err)
		}
	})
	t.Run("stalled key upload", func(t *testing.T) {
		st, err := raw.OpenSession(ctxT(t))
		require.NoError(t, err)
		require.NoError(t, st.Send(&hepb.KeyChunk{PlanDigest: PlanDigest(e.plan), Data: []byte("PMHEK")}))
		start := time.Now()
		_, err = st.CloseAndRecv() // never sends the rest: CloseSend makes it EOF
		require.Error(t, err)
		st2, err := raw.OpenSession(ctxT(t))
		require.NoError(t, err)
		require.NoError(t, st2.Send(&hepb.KeyChunk{PlanDigest: PlanDigest(e.plan), Data: []byte("PMHEK")}))
		_, err = st2.Header()
		require.NoError(t, err)
		// Without CloseSend: the server gives up after OpenTimeout.
		var resp hepb.Session
		err = st2.RecvMsg(&resp)
		require.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)
		assert.Less(t, time.Since(start), 10*time.Second)
	})
	t.Run("session of another client", func(t *testing.T) {
		other := e.raw(t, 1)
		_, err := other.Evaluate(ctxT(t), &hepb.EvaluateRequest{Session: sess.id, Ciphertext: ctBytes})
		require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		_, err = raw.Evaluate(ctxT(t), &hepb.EvaluateRequest{Session: []byte("short"), Ciphertext: ctBytes})
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	})
	t.Run("wrong TLS CA", func(t *testing.T) {
		stranger := newPKI(t)
		// A client trusting another CA does not accept the server.
		c, err := Dial(e.addr, stranger.clientTLS(t, 0), e.plan)
		require.NoError(t, err)
		defer c.Close()
		err = c.CheckPlan(ctxT(t))
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		assert.Contains(t, err.Error(), "certificate")
		// A client certificate of another CA is refused by the server.
		conf, err := mtls.ClientConfig(e.pki.ca.CertPEM, stranger.clients[0].TLS(), "127.0.0.1")
		require.NoError(t, err)
		c2, err := Dial(e.addr, conf, e.plan)
		require.NoError(t, err)
		defer c2.Close()
		err = c2.CheckPlan(ctxT(t))
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	})

	// After all that, the good session still works.
	out, err := sess.Evaluate(ctxT(t), cts[0])
	require.NoError(t, err)
	_, err = e.client.Decrypt(out)
	require.NoError(t, err)
}

// TestSessionExpiryAndEviction: an idle session expires after its TTL
// and the least recently used session is evicted beyond MaxSessions.
func TestSessionExpiryAndEviction(t *testing.T) {
	e := newEnv(t, he.Latency, ServerConfig{SessionTTL: time.Minute, MaxSessions: 2, MaxSessionsPerPeer: 2})
	c := e.dial(t, 0)
	cts, err := e.client.Encrypt(e.plan, [][]float64{make([]float64, 12)})
	require.NoError(t, err)
	s1, err := c.OpenSession(ctxT(t), e.keys)
	require.NoError(t, err)
	require.Equal(t, time.Minute, s1.TTL)

	e.clock.advance(50 * time.Second)
	_, err = s1.Evaluate(ctxT(t), cts[0]) // used: the TTL restarts
	require.NoError(t, err)
	e.clock.advance(50 * time.Second)
	_, err = s1.Evaluate(ctxT(t), cts[0])
	require.NoError(t, err)
	e.clock.advance(61 * time.Second)
	_, err = s1.Evaluate(ctxT(t), cts[0])
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	assert.Contains(t, err.Error(), "expired")

	s2, err := c.OpenSession(ctxT(t), e.keys)
	require.NoError(t, err)
	s3, err := c.OpenSession(ctxT(t), e.keys)
	require.NoError(t, err)
	_, err = s2.Evaluate(ctxT(t), cts[0]) // s2 is now the most recent
	require.NoError(t, err)
	s4, err := c.OpenSession(ctxT(t), e.keys)
	require.NoError(t, err)
	require.Equal(t, 2, e.srv.Sessions())
	_, err = s3.Evaluate(ctxT(t), cts[0])
	require.Equal(t, codes.NotFound, status.Code(err), "s3 was the least recently used")
	for _, s := range []*Session{s2, s4} {
		_, err = s.Evaluate(ctxT(t), cts[0])
		require.NoError(t, err)
	}

	// The logs name sessions by tag only, never by id.
	logs := e.logs.String()
	require.Contains(t, logs, "he session opened")
	for _, s := range []*Session{s1, s2, s3, s4} {
		assert.NotContains(t, logs, hex.EncodeToString(s.id))
		assert.NotContains(t, strings.ToLower(logs), strings.ToLower(b64(s.id)))
	}
}

func b64(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var s strings.Builder
	for i := 0; i+2 < len(b); i += 3 {
		v := uint(b[i])<<16 | uint(b[i+1])<<8 | uint(b[i+2])
		s.WriteByte(enc[v>>18&63])
		s.WriteByte(enc[v>>12&63])
		s.WriteByte(enc[v>>6&63])
		s.WriteByte(enc[v&63])
	}
	return s.String()
}

// FuzzEvaluate feeds request bytes to the Evaluate handler of a server
// with one open session: any input gets a status, never a panic, and an
// accepted one is a valid input of the plan.
func FuzzEvaluate(f *testing.F) {
	_, plan := testPlan(f, he.Latency, 1)
	c, err := he.NewClient(plan.Parameters())
	if err != nil {
		f.Fatal(err)
	}
	keys, err := c.GenEvaluationKeys(plan)
	if err != nil {
		f.Fatal(err)
	}
	hs, err := he.NewServer(plan, keys)
	if err != nil {
		f.Fatal(err)
	}
	srv, err := NewServer(ServerConfig{Plan: plan, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	id := bytes.Repeat([]byte{7}, 16)
	srv.add(id, [32]byte{}, hs)
	cts, err := c.Encrypt(plan, [][]float64{make([]float64, 12)})
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := cts[0].WriteTo(&b); err != nil {
		f.Fatal(err)
	}
	full := b.Bytes()
	f.Add(full)
	for _, n := range []int{6, 27, 31, 40, 40 + 64} {
		f.Add(full[:n])
		x := bytes.Clone(full[:n])
		x[n-1] ^= 0x5a
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2*len(full) {
			return
		}
		resp, err := srv.Evaluate(context.Background(), &hepb.EvaluateRequest{Session: id, Ciphertext: data})
		if err != nil {
			if _, ok := status.FromError(err); !ok {
				t.Fatalf("not a status: %v", err)
			}
			return
		}
		if _, err := he.ReadCiphertext(bytes.NewReader(resp.GetCiphertext()), plan.Parameters()); err != nil {
			t.Fatalf("accepted input, undecodable output: %v", err)
		}
	})
}
