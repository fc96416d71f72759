package heservice

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/privml/privml/he"
	"github.com/privml/privml/he/heservice/hepb"
)

// Client calls a [Server] for one plan. It holds no secret: the caller
// encrypts with its [he.Client] and decrypts what [Session.Evaluate]
// returns. Safe for concurrent use.
type Client struct {
	conn   *grpc.ClientConn
	rpc    hepb.InferenceClient
	plan   *he.Plan
	digest []byte

	mu    sync.Mutex
	chunk int // the server's key chunk size, once known
}

// Dial connects to addr over TLS (tlsConf, TLS 1.3 with the client's
// certificate when it comes from internal/mtls) for plan. Message limits
// are sized to the plan. The connection is made lazily, on the first call.
func Dial(addr string, tlsConf *tls.Config, plan *he.Plan, opts ...grpc.DialOption) (*Client, error) {
	if plan == nil {
		return nil, fmt.Errorf("heservice: Dial: nil plan: %w", he.ErrInput)
	}
	limit := max(plan.MaxCiphertextBytes(), DefaultChunkBytes) + messageSlack
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(limit), grpc.MaxCallSendMsgSize(limit)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: pingTimeout}),
	}
	conn, err := grpc.NewClient(addr, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("heservice: dial %s: %w", addr, err)
	}
	return &Client{conn: conn, rpc: hepb.NewInferenceClient(conn), plan: plan, digest: PlanDigest(plan)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// CheckPlan asks the server for its plan digest and limits, and fails
// with a FailedPrecondition status unless it holds the client's plan.
func (c *Client) CheckPlan(ctx context.Context) error {
	info, err := c.rpc.Info(ctx, &hepb.InfoRequest{})
	if err != nil {
		return err
	}
	if !bytes.Equal(info.GetPlanDigest(), c.digest) {
		return status.Error(codes.FailedPrecondition, "heservice: the server holds another plan than the client's")
	}
	c.mu.Lock()
	c.chunk = int(min(max(info.GetMaxChunkBytes(), 1<<10), DefaultChunkBytes))
	c.mu.Unlock()
	return nil
}

// chunkSize returns the server's chunk size, asking it ([Client.CheckPlan])
// the first time.
func (c *Client) chunkSize(ctx context.Context) (int, error) {
	c.mu.Lock()
	n := c.chunk
	c.mu.Unlock()
	if n > 0 {
		return n, nil
	}
	if err := c.CheckPlan(ctx); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chunk, nil
}

// Session is a server session holding one client's evaluation keys.
type Session struct {
	c  *Client
	id []byte
	// TTL is how long the server keeps the keys after their last use.
	TTL time.Duration
}

// OpenSession uploads the evaluation keys in chunks and returns the
// session. keys must be the plan's ([he.Client.GenEvaluationKeys]). The
// first call checks the server's plan ([Client.CheckPlan]).
func (c *Client) OpenSession(ctx context.Context, keys *he.EvaluationKeys) (*Session, error) {
	chunk, err := c.chunkSize(ctx)
	if err != nil {
		return nil, err
	}
	stream, err := c.rpc.OpenSession(ctx)
	if err != nil {
		return nil, err
	}
	w := &chunkWriter{stream: stream, digest: c.digest, chunk: chunk}
	if _, err := keys.WriteTo(w); err != nil {
		// A send error is io.EOF when the server ended the call; its
		// status comes with CloseAndRecv.
		if _, rerr := stream.CloseAndRecv(); rerr != nil {
			return nil, rerr
		}
		return nil, fmt.Errorf("heservice: uploading keys: %w", err)
	}
	if err := w.flush(); err != nil {
		if _, rerr := stream.CloseAndRecv(); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	sess, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	return &Session{c: c, id: sess.GetId(), TTL: time.Duration(sess.GetTtlMs()) * time.Millisecond}, nil
}

// chunkWriter sends what it is written in chunks, the plan digest on the
// first.
type chunkWriter struct {
	stream hepb.Inference_OpenSessionClient
	digest []byte
	chunk  int
	buf    []byte
	sent   bool
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), w.chunk-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == w.chunk {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 && w.sent {
		return nil
	}
	m := &hepb.KeyChunk{Data: w.buf}
	if !w.sent {
		m.PlanDigest = w.digest
	}
	err := w.stream.Send(m)
	w.sent = true
	w.buf = make([]byte, 0, w.chunk)
	return err
}

// Evaluate sends an input ciphertext of the plan and returns the output
// ciphertext, checked to be the plan's output layout for as many samples.
func (s *Session) Evaluate(ctx context.Context, ct *he.Ciphertext) (*he.Ciphertext, error) {
	var b bytes.Buffer
	b.Grow(ct.Bytes())
	if _, err := ct.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("heservice: encoding the input: %w", err)
	}
	resp, err := s.c.rpc.Evaluate(ctx, &hepb.EvaluateRequest{Session: s.id, Ciphertext: b.Bytes()})
	if err != nil {
		return nil, err
	}
	out, err := he.ReadCiphertext(bytes.NewReader(resp.GetCiphertext()), s.c.plan.Parameters())
	if err != nil {
		return nil, fmt.Errorf("heservice: server's output: %w", err)
	}
	if out.Samples() != ct.Samples() || out.Dim() != s.c.plan.Model().OutputDim() {
		return nil, fmt.Errorf("heservice: server's output holds %d samples of %d values, want %d of %d: %w",
			out.Samples(), out.Dim(), ct.Samples(), s.c.plan.Model().OutputDim(), he.ErrMismatch)
	}
	return out, nil
}

// Close asks the server to forget the session's keys.
func (s *Session) Close(ctx context.Context) error {
	_, err := s.c.rpc.CloseSession(ctx, &hepb.CloseSessionRequest{Session: s.id})
	return err
}
