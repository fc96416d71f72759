package transport

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/federated/secagg"
	pb "github.com/privml/privml/federated/transport/transportpb"
)

// DefaultMaxDownloadSize is the largest message from the server a client
// accepts unless ClientConfig.MaxDownloadSize says otherwise: 256 MiB.
const DefaultMaxDownloadSize = 256 << 20

// maxRecvMessage bounds one gRPC message the client receives: a download
// chunk and its framing.
const maxRecvMessage = MaxChunkSize + 64<<10

// Stage is a step of a round, as named on the wire.
type Stage = pb.Stage

// The stages of a round, in order; StageConsistency runs only in the
// malicious threat model.
const (
	StageConfig      = pb.Stage_STAGE_CONFIG
	StageAdvertise   = pb.Stage_STAGE_ADVERTISE
	StageShareKeys   = pb.Stage_STAGE_SHARE_KEYS
	StageMaskedInput = pb.Stage_STAGE_MASKED_INPUT
	StageConsistency = pb.Stage_STAGE_CONSISTENCY
	StageUnmask      = pb.Stage_STAGE_UNMASK
)

// ClientConfig configures a [Client].
type ClientConfig struct {
	// Addr is the server's address, host:port. Required.
	Addr string
	// TLS is the client's mutual-TLS configuration (internal/mtls's
	// ClientConfig). Required.
	TLS *tls.Config
	// ID is the client's id; it must be the id in its certificate.
	ID int
	// Identity is the client's Ed25519 identity key, required with the
	// malicious threat model (with internal/mtls, its TLS key).
	Identity ed25519.PrivateKey
	// Roster is the list of the clients' identity keys as the client knows
	// it from outside the server. Required with the malicious threat
	// model: a configuration listing other identities is refused
	// (secagg's ClientPolicy.Roster, its RosterDigest).
	Roster []ed25519.PublicKey
	// SessionSeed returns the session seed the client expects for a
	// round, from a source outside the server: for example [BeaconSeeds]
	// of a public randomness beacon value the application fixed in
	// advance, or the outcome of a commit-and-reveal among the clients
	// (secagg.CommitRevealSessionSeed). Required with the malicious threat
	// model, where the seed lays out the neighbour graph: a configuration
	// with another seed is refused before the client sends anything.
	SessionSeed func(round uint64) ([32]byte, error)
	// Sequences records the secagg Sequence of every round the client
	// takes part in and refuses one not above the last (a replayed or
	// stale session). Defaults to a secagg.MemorySequenceStore per Client;
	// a client that may restart should use a secagg.FileSequenceStore, so
	// that a restarted client cannot be replayed an earlier round.
	Sequences secagg.SequenceStore
	// RequireMalicious refuses a round configured for the semi-honest
	// threat model.
	RequireMalicious bool
	// MinInputs is the smallest number of inputs in a sum (secagg's
	// Config.MinInputs) the client accepts; MinThreshold the smallest
	// Shamir threshold. Zero accepts what secagg itself allows.
	MinInputs, MinThreshold int
	// Input returns the client's input vector for a round (length
	// coordinates, within the configuration's bounds), given the
	// application payload of the round's configuration. Required. An
	// error abandons the round (the client counts as dropped in it); one
	// that wraps ErrConfig, for input that can never fit the federation
	// (data of the wrong shape, say), also stops Run.
	Input func(ctx context.Context, round uint64, model []byte, length int) ([]int64, error)
	// OnResult is called with each round's result the client took part
	// in: the survivors and the application payload. Optional.
	OnResult func(round uint64, survivors []int, payload []byte)
	// BeforeStage is called before the client sends its message of a
	// stage; an error makes it abandon the round (it then counts as
	// dropped). Optional; for progress reports and fault injection.
	BeforeStage func(round uint64, stage Stage) error
	// ChunkSize is the size of upload chunks. Defaults to MaxChunkSize
	// (1 MiB).
	ChunkSize int
	// MaxDownloadSize bounds a message from the server (a round's
	// configuration with the application's payload, a result), which
	// arrives in chunks: a larger announced size is refused before any of
	// it is received. Defaults to [DefaultMaxDownloadSize].
	MaxDownloadSize int
	// Logger defaults to slog.Default(). Logs never contain vectors,
	// masks, shares or keys.
	Logger *slog.Logger
	// RetryFor bounds how long calls are retried while the server is
	// unreachable or overloaded; then Run returns the last error. Zero
	// retries until the context ends.
	RetryFor time.Duration
	// DialOptions are appended to the client's (TLS, keepalive, message
	// size) options.
	DialOptions []grpc.DialOption
}

// Client takes part in a federation's rounds. It dials the server (the
// server never dials it), retries calls that failed for transient reasons
// (the same message, so retries are idempotent), and abandons a round it
// cannot finish, counting as dropped in it.
type Client struct {
	cfg    ClientConfig
	log    *slog.Logger
	conn   *grpc.ClientConn
	rpc    pb.AggregationClient
	rounds int
}

// NewClient checks cfg and prepares the connection (dialled lazily).
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Addr == "" || cfg.TLS == nil || cfg.Input == nil {
		return nil, errorf(ErrConfig, "Addr, TLS and Input are required")
	}
	if cfg.MinInputs < 0 || cfg.MinThreshold < 0 {
		return nil, errorf(ErrConfig, "MinInputs %d and MinThreshold %d must not be negative", cfg.MinInputs, cfg.MinThreshold)
	}
	if cfg.RequireMalicious && (len(cfg.Roster) == 0 || cfg.SessionSeed == nil || cfg.Identity == nil) {
		return nil, errorf(ErrConfig, "RequireMalicious needs Roster, SessionSeed and Identity, known to the client from outside the server")
	}
	if cfg.Sequences == nil {
		cfg.Sequences = new(secagg.MemorySequenceStore)
	}
	if cfg.MaxDownloadSize <= 0 {
		cfg.MaxDownloadSize = DefaultMaxDownloadSize
	}
	if cfg.ChunkSize <= 0 || cfg.ChunkSize > MaxChunkSize {
		cfg.ChunkSize = MaxChunkSize
	}
	c := &Client{cfg: cfg, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("client", cfg.ID)
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(cfg.TLS)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: clientPingInterval, Timeout: pingTimeout, PermitWithoutStream: true}),
		// The server's messages arrive in chunks of at most MaxChunkSize.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMessage), grpc.ForceCodecV2(newChunkCodec())),
	}
	conn, err := grpc.NewClient(cfg.Addr, append(opts, cfg.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("transport: cannot set up the connection to %s: %w", cfg.Addr, err)
	}
	c.conn, c.rpc = conn, pb.NewAggregationClient(conn)
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Rounds returns the number of rounds the client completed.
func (c *Client) Rounds() int { return c.rounds }

// Run takes part in rounds until the federation ends (nil) or ctx ends.
func (c *Client) Run(ctx context.Context) error {
	for {
		h, err := c.hello(ctx)
		if err != nil {
			return err
		}
		if h.Done {
			return nil
		}
		round := h.Round
		// A round past its first stage cannot be joined: wait for the next.
		if h.Stage != pb.Stage_STAGE_CONFIG && h.Stage != pb.Stage_STAGE_ADVERTISE {
			round++
		}
		err = c.runRound(ctx, h.Session, round)
		switch {
		case err == nil:
			c.rounds++
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrFinished) || status.Code(err) == codes.OutOfRange:
			return nil
		case errors.Is(err, ErrConfig):
			// The client's own settings do not allow the session (for
			// example no roster or seed source for the malicious model):
			// retrying the next round would fail the same way. A session
			// that violates the policy (secagg.ErrPolicy) is refused for
			// this round only.
			return err
		default:
			c.log.Warn("round abandoned", "round", round, "err", err)
			// Do not spin against a server that refuses us.
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	}
}

func (c *Client) hello(ctx context.Context) (*pb.HelloResponse, error) {
	var h *pb.HelloResponse
	err := c.retry(ctx, func(ctx context.Context) error {
		var err error
		h, err = c.rpc.Hello(ctx, &pb.HelloRequest{})
		return err
	})
	if err != nil {
		return nil, err
	}
	if int(h.Client) != c.cfg.ID {
		return nil, errorf(ErrIdentity, "the server sees this client as %d, its id is %d", h.Client, c.cfg.ID)
	}
	return h, nil
}

// runRound takes part in one round, from its configuration to its result.
func (c *Client) runRound(ctx context.Context, session []byte, round uint64) error {
	frame := func(st pb.Stage) *pb.Frame { return &pb.Frame{Session: session, Round: round, Stage: st} }
	raw, err := c.await(ctx, frame(pb.Stage_STAGE_CONFIG), 0)
	if err != nil {
		return err
	}
	var m pb.SessionConfig
	if err := proto.Unmarshal(raw, &m); err != nil {
		return errorf(secagg.ErrMalformed, "session configuration: %v", err)
	}
	cfg, err := configFromPB(&m)
	if err != nil {
		return err
	}
	threat := secagg.SemiHonest
	if c.cfg.RequireMalicious {
		threat = secagg.Malicious
	}
	// The policy is checked, and the Sequence recorded, before the first
	// message of the round is sent.
	cr, err := newClientRound(cfg, c.cfg.ID, round, &clientPolicy{
		roster: c.cfg.Roster, identity: c.cfg.Identity, sessionSeed: c.cfg.SessionSeed,
		sequences: c.cfg.Sequences, threat: threat,
		minInputs: c.cfg.MinInputs, minThresh: c.cfg.MinThreshold,
	})
	if err != nil {
		return err
	}
	stageTimeout := time.Duration(m.StageTimeoutMs) * time.Millisecond
	model := m.AppPayload
	input := func() ([]int64, error) { return c.cfg.Input(ctx, round, model, cr.length()) }

	msg, err := cr.advertise()
	if err != nil {
		return err
	}
	stage := pb.Stage_STAGE_ADVERTISE
	for {
		if err := c.send(ctx, frame(stage), msg); err != nil {
			return err
		}
		reply, err := c.await(ctx, frame(stage), stageTimeout)
		if err != nil {
			return err
		}
		if stage == pb.Stage_STAGE_UNMASK {
			return c.result(round, reply)
		}
		msg, stage, err = cr.step(stage, reply, input)
		if err != nil {
			return err
		}
	}
}

func (c *Client) result(round uint64, raw []byte) error {
	var r pb.RoundResult
	if err := proto.Unmarshal(raw, &r); err != nil {
		return errorf(secagg.ErrMalformed, "round result: %v", err)
	}
	if c.cfg.OnResult != nil {
		surv := make([]int, len(r.Survivors))
		for i, s := range r.Survivors {
			surv[i] = int(s)
		}
		c.cfg.OnResult(round, surv, r.AppPayload)
	}
	c.log.Debug("round done", "round", round, "survivors", len(r.Survivors))
	return nil
}

// send delivers the client's message of a stage, retrying on transient
// failures; the server deduplicates retries.
func (c *Client) send(ctx context.Context, f *pb.Frame, msg []byte) error {
	if c.cfg.BeforeStage != nil {
		if err := c.cfg.BeforeStage(f.Round, f.Stage); err != nil {
			return err
		}
	}
	return c.retry(ctx, func(ctx context.Context) error {
		if f.Stage == pb.Stage_STAGE_MASKED_INPUT {
			return c.upload(ctx, f, msg)
		}
		_, err := c.rpc.Submit(ctx, &pb.SubmitRequest{Frame: f, Payload: msg})
		return err
	})
}

func (c *Client) upload(ctx context.Context, f *pb.Frame, msg []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.rpc.Upload(ctx)
	if err != nil {
		return err
	}
	if err := st.Send(&pb.UploadChunk{Kind: &pb.UploadChunk_Header{Header: &pb.UploadHeader{Frame: f, TotalSize: uint64(len(msg))}}}); err != nil {
		_, err = st.Recv() // the server's status
		return err
	}
	r, err := st.Recv()
	if err != nil {
		return err
	}
	if r.GetReady() == nil {
		return errorf(ErrUpload, "the server answered the header with %T, want ready", r.GetKind())
	}
	for off := 0; off < len(msg); off += c.cfg.ChunkSize {
		end := min(off+c.cfg.ChunkSize, len(msg))
		if err := st.Send(&pb.UploadChunk{Kind: &pb.UploadChunk_Data{Data: msg[off:end]}}); err != nil {
			_, err = st.Recv()
			return err
		}
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	r, err = st.Recv()
	if err != nil {
		return err
	}
	if r.GetDone() == nil {
		return errorf(ErrUpload, "the server ended the upload with %T, want done", r.GetKind())
	}
	return nil
}

// await long-polls for the server's message closing a stage.
func (c *Client) await(ctx context.Context, f *pb.Frame, stageTimeout time.Duration) ([]byte, error) {
	var out []byte
	err := c.retry(ctx, func(ctx context.Context) error {
		if stageTimeout > 0 {
			// The server closes a stage by its deadline; a call that
			// outlives it by far means a lost reply: ask again.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 2*stageTimeout+5*time.Second)
			defer cancel()
		}
		var err error
		out, err = c.download(ctx, f)
		return err
	})
	return out, err
}

// download calls Await and receives the server's message for frame f.
func (c *Client) download(ctx context.Context, f *pb.Frame) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if the download is refused half-way
	st, err := c.rpc.Await(ctx, &pb.AwaitRequest{Frame: f})
	if err != nil {
		return nil, err
	}
	return receiveDownload(st.Recv, f, uint64(c.cfg.MaxDownloadSize))
}

// receiveDownload reads an Await stream from recv: a header for frame f
// announcing at most limit bytes, then data chunks that add up to it, then
// the end of the stream. A status from the server passes through (a retry
// may help, or the client was dropped); a malformed stream is refused with
// ErrDownload. It is a pure function of what recv returns, fuzzed.
func receiveDownload(recv func() (*pb.DownloadChunk, error), f *pb.Frame, limit uint64) ([]byte, error) {
	first, err := recv()
	if err != nil {
		return nil, downloadError(err, "before the header")
	}
	h := first.GetHeader()
	if h == nil {
		return nil, errorf(ErrDownload, "the first message of the stream is not a header")
	}
	if g := h.GetFrame(); g.GetRound() != f.GetRound() || g.GetStage() != f.GetStage() || !bytes.Equal(g.GetSession(), f.GetSession()) {
		return nil, errorf(ErrDownload, "the header is for round %d stage %v, the client asked for round %d stage %v", g.GetRound(), g.GetStage(), f.GetRound(), f.GetStage())
	}
	a, err := newDownload(h.GetTotalSize(), limit)
	if err != nil {
		return nil, err
	}
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, downloadError(err, fmt.Sprintf("at offset %d of the announced %d bytes", a.got, a.want))
		}
		if m.GetHeader() != nil {
			return nil, errorf(ErrDownload, "a second header at offset %d", a.got)
		}
		if err := a.add(m.GetData()); err != nil {
			return nil, err
		}
	}
	msg, _, err := a.finish()
	return msg, err
}

// downloadError passes a status through, except that the client's own
// receive limit (a message far above a chunk, which gRPC refuses with
// ResourceExhausted before reading it) is a malformed download: retrying
// would receive it again. A ResourceExhausted from the server or a proxy
// on the way (an overloaded server, say) passes through and is retried.
func downloadError(err error, where string) error {
	if errors.Is(err, io.EOF) {
		return errorf(ErrDownload, "the stream ended %s", where)
	}
	if receiveLimit(err) {
		return errorf(ErrDownload, "a message %s exceeds the client's receive limit: %v", where, err)
	}
	return err
}

// receiveLimitErrors begin the messages of the statuses with which gRPC's
// receive path refuses a message above the call's MaxCallRecvMsgSize
// (google.golang.org/grpc's rpc_util.go).
var receiveLimitErrors = []string{
	"grpc: received message larger than max",
	"grpc: received message after decompression larger than max",
	"grpc: message after decompression larger than max",
}

// receiveLimit reports whether err is gRPC's refusal of a received
// message above the client's receive limit. gRPC raises it on the client
// side, with no mark of its origin but its message; a status the server
// sends with the same words only makes the client abandon the round, as
// any malformed download does.
func receiveLimit(err error) bool {
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.ResourceExhausted {
		return false
	}
	for _, p := range receiveLimitErrors {
		if strings.HasPrefix(s.Message(), p) {
			return true
		}
	}
	return false
}

// retry calls f until it succeeds, fails with a status that a retry
// cannot change, or ctx ends; it backs off from 100ms to 2s.
func (c *Client) retry(ctx context.Context, f func(context.Context) error) error {
	backoff := 100 * time.Millisecond
	start := time.Now()
	for {
		err := f(ctx)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if c.cfg.RetryFor > 0 && time.Since(start) > c.cfg.RetryFor {
			return fmt.Errorf("transport: server unreachable for %v: %w", c.cfg.RetryFor, err)
		}
		c.log.Debug("retrying", "code", status.Code(err).String())
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
