package heservice

import (
	"bytes"
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/privml/privml/he"
	"github.com/privml/privml/he/heservice/hepb"
)

// ServerConfig configures a [Server]. Only Plan is required.
type ServerConfig struct {
	// Plan is the compiled model the server evaluates.
	Plan *he.Plan
	// SessionTTL is how long a session's keys stay cached after their last
	// use. Defaults to 10 minutes.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions cached at once; opening one more
	// evicts the least recently used. Memory is bounded by MaxSessions
	// times the plan's key size. Defaults to 16.
	MaxSessions int
	// MaxSessionsPerPeer bounds the sessions one client certificate holds;
	// opening one more evicts that peer's own least recently used session,
	// so that one client cannot evict the others'. Clients without a
	// certificate are not told apart and only MaxSessions applies. Defaults
	// to max(1, MaxSessions/4).
	MaxSessionsPerPeer int
	// MaxUploads bounds the key uploads in progress at once (each holds up
	// to one plan's keys while it decodes), and a client certificate has
	// at most one in progress; one more is refused with
	// ResourceExhausted. Defaults to max(1, MaxSessions/4).
	MaxUploads int
	// MaxChunkBytes bounds one key chunk. Defaults to [DefaultChunkBytes].
	MaxChunkBytes int
	// OpenTimeout bounds a key upload, so that a client that stops
	// sending frees its call. Defaults to 2 minutes.
	OpenTimeout time.Duration
	// EvaluateTimeout bounds the wait for an evaluation slot and is the
	// deadline of a call that carries none. Defaults to 1 minute.
	EvaluateTimeout time.Duration
	// MaxConcurrent bounds the evaluations running at once. Defaults to
	// runtime.GOMAXPROCS(0).
	MaxConcurrent int
	// Logger defaults to slog.Default(). Logs carry session tags (a hash
	// prefix of the session id, never the id), peer certificate
	// fingerprints, sizes, durations and status codes; never keys,
	// ciphertexts or session ids.
	Logger *slog.Logger

	now func() time.Time // tests
}

// DefaultChunkBytes is the default size of one key chunk.
const DefaultChunkBytes = 1 << 20

// messageSlack covers the protobuf framing around a ciphertext or chunk.
const messageSlack = 4 << 10

// Server is the gRPC service of one plan: it caches the evaluation keys of
// each client session (LRU with a TTL) and evaluates ciphertexts under
// them. It never holds a secret key: what it sees is ciphertexts and
// evaluation keys, which are public under the RLWE assumption.
type Server struct {
	hepb.UnimplementedInferenceServer
	cfg     ServerConfig
	plan    *he.Plan
	digest  []byte
	log     *slog.Logger
	slots   chan struct{}
	uploads chan struct{}

	mu       sync.Mutex
	lru      *list.List // of *session, most recent first
	sessions map[[32]byte]*list.Element
	// uploading holds the certificates with a key upload in progress: one
	// each, so that one client cannot take every upload slot.
	uploading map[[32]byte]bool
}

type session struct {
	key      [32]byte // SHA-256 of the session id
	tag      string   // hex prefix of key, for logs
	peer     [32]byte // SHA-256 of the client's certificate (zero without mTLS)
	server   *he.Server
	lastUsed time.Time
}

// NewServer returns a server for cfg.Plan.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Plan == nil {
		return nil, fmt.Errorf("heservice: NewServer: nil plan: %w", he.ErrInput)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 10 * time.Minute
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 16
	}
	if cfg.MaxSessionsPerPeer <= 0 {
		cfg.MaxSessionsPerPeer = max(1, cfg.MaxSessions/4)
	}
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = max(1, cfg.MaxSessions/4)
	}
	if cfg.MaxChunkBytes <= 0 {
		cfg.MaxChunkBytes = DefaultChunkBytes
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = 2 * time.Minute
	}
	if cfg.EvaluateTimeout <= 0 {
		cfg.EvaluateTimeout = time.Minute
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return &Server{
		cfg:       cfg,
		plan:      cfg.Plan,
		digest:    PlanDigest(cfg.Plan),
		log:       cfg.Logger,
		slots:     make(chan struct{}, cfg.MaxConcurrent),
		uploads:   make(chan struct{}, cfg.MaxUploads),
		lru:       list.New(),
		sessions:  map[[32]byte]*list.Element{},
		uploading: map[[32]byte]bool{},
	}, nil
}

// PlanDigest returns the SHA-256 digest of the plan's encoding, which
// client and server compare before keys are uploaded.
func PlanDigest(p *he.Plan) []byte {
	h := sha256.New()
	if _, err := p.WriteTo(h); err != nil {
		return nil
	}
	return h.Sum(nil)
}

// MaxMessageBytes is the largest message the server receives or sends: an
// input or output ciphertext of the plan or a key chunk, with framing.
func (s *Server) MaxMessageBytes() int {
	return max(s.plan.MaxCiphertextBytes(), s.cfg.MaxChunkBytes) + messageSlack
}

// Register registers the service on g.
func (s *Server) Register(g *grpc.Server) { hepb.RegisterInferenceServer(g, s) }

// Keepalive settings, as in the federated transport: the server pings an
// idle connection every 30s and drops it after 10s without an answer.
const (
	serverPingInterval = 30 * time.Second
	pingTimeout        = 10 * time.Second
	minClientPing      = 10 * time.Second
	handshakeTimeout   = 10 * time.Second
)

// NewGRPCServer returns a grpc.Server with TLS (tlsConf; TLS 1.3 with a
// client certificate when it comes from internal/mtls), message limits
// sized to the plan ([Server.MaxMessageBytes]), a handshake timeout and
// keepalives, with s registered.
func NewGRPCServer(s *Server, tlsConf *tls.Config, opts ...grpc.ServerOption) *grpc.Server {
	base := []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tlsConf)),
		grpc.MaxRecvMsgSize(s.MaxMessageBytes()),
		grpc.MaxSendMsgSize(s.MaxMessageBytes()),
		grpc.MaxConcurrentStreams(16),
		grpc.ConnectionTimeout(handshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: serverPingInterval, Timeout: pingTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minClientPing, PermitWithoutStream: true}),
	}
	g := grpc.NewServer(append(base, opts...)...)
	s.Register(g)
	return g
}

// Info returns the plan digest and the limits.
func (s *Server) Info(context.Context, *hepb.InfoRequest) (*hepb.InfoResponse, error) {
	return &hepb.InfoResponse{
		PlanDigest:      s.digest,
		MaxMessageBytes: uint64(s.MaxMessageBytes()),
		MaxChunkBytes:   uint64(s.cfg.MaxChunkBytes),
		SessionTtlMs:    uint64(s.cfg.SessionTTL.Milliseconds()),
	}, nil
}

// OpenSession decodes the uploaded keys against the plan
// ([he.ReadEvaluationKeysFor]: counts, levels and sizes are checked before
// any key is allocated) and caches them under a fresh session id.
func (s *Server) OpenSession(stream hepb.Inference_OpenSessionServer) error {
	start := s.cfg.now()
	ctx, cancel := context.WithTimeout(stream.Context(), s.cfg.OpenTimeout)
	defer cancel()
	fp := peerFingerprint(stream.Context())
	if err := s.startUpload(fp); err != nil {
		s.log.Warn("he session refused", "peer", fpTag(fp), "code", codes.ResourceExhausted.String(), "err", err)
		return err
	}
	type result struct {
		srv   *he.Server
		bytes int64
		err   error
	}
	done := make(chan result, 1)
	go func() {
		// The upload slot is freed when the decoding ends, not when the
		// call does, so that the keys in memory stay bounded; and before
		// the result is sent, so that a client told of the end may start
		// its next upload at once.
		srv, n, err := s.readKeys(stream)
		s.endUpload(fp)
		done <- result{srv, n, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		// Returning ends the stream, which unblocks the reader.
		res.err = status.Errorf(codes.DeadlineExceeded, "heservice: key upload not finished within %v", s.cfg.OpenTimeout)
	}
	if res.err != nil {
		s.log.Warn("he session refused", "peer", fpTag(fp), "bytes", res.bytes, "code", status.Code(res.err).String(), "err", res.err)
		return res.err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return status.Errorf(codes.Internal, "heservice: cannot draw a session id: %v", err)
	}
	sess := s.add(id, fp, res.srv)
	s.log.Info("he session opened", "session", sess.tag, "peer", fpTag(fp), "key_bytes", res.bytes, "duration", s.cfg.now().Sub(start))
	return stream.SendAndClose(&hepb.Session{Id: id, TtlMs: uint64(s.cfg.SessionTTL.Milliseconds())})
}

// startUpload takes an upload slot for the peer fp: at most MaxUploads in
// all and, with client certificates, one per certificate.
func (s *Server) startUpload(fp [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fp != ([32]byte{}) && s.uploading[fp] {
		return status.Error(codes.ResourceExhausted, "heservice: this client already has a key upload in progress")
	}
	select {
	case s.uploads <- struct{}{}:
	default:
		return status.Errorf(codes.ResourceExhausted, "heservice: %d key uploads in progress, retry later", s.cfg.MaxUploads)
	}
	if fp != ([32]byte{}) {
		s.uploading[fp] = true
	}
	return nil
}

func (s *Server) endUpload(fp [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.uploading, fp)
	<-s.uploads
}

// readKeys reads the chunks, checks the plan digest, decodes the keys and
// checks that nothing follows them.
func (s *Server) readKeys(stream hepb.Inference_OpenSessionServer) (*he.Server, int64, error) {
	first, err := stream.Recv()
	if err != nil {
		return nil, 0, recvStatus(err, "first key chunk")
	}
	if !bytes.Equal(first.GetPlanDigest(), s.digest) {
		return nil, 0, status.Error(codes.FailedPrecondition, "heservice: the client's plan digest is not the server's plan")
	}
	cr := &chunkReader{stream: stream, max: s.cfg.MaxChunkBytes, buf: first.GetData()}
	if len(cr.buf) > cr.max {
		return nil, 0, status.Errorf(codes.ResourceExhausted, "heservice: key chunk of %d bytes, limit %d", len(cr.buf), cr.max)
	}
	keys, err := he.ReadEvaluationKeysFor(cr, s.plan)
	if cr.err != nil {
		return nil, cr.n, cr.err
	}
	if err != nil {
		return nil, cr.n, heStatus(err)
	}
	if len(cr.buf) > 0 {
		return nil, cr.n, status.Errorf(codes.InvalidArgument, "heservice: %d bytes after the evaluation keys", len(cr.buf))
	}
	if m, err := stream.Recv(); err != io.EOF {
		if err != nil {
			return nil, cr.n, recvStatus(err, "key upload")
		}
		return nil, cr.n, status.Errorf(codes.InvalidArgument, "heservice: %d bytes after the evaluation keys", len(m.GetData()))
	}
	srv, err := he.NewServer(s.plan, keys)
	if err != nil {
		return nil, cr.n, heStatus(err)
	}
	return srv, cr.n, nil
}

// chunkReader reads the data of successive key chunks.
type chunkReader struct {
	stream hepb.Inference_OpenSessionServer
	max    int
	buf    []byte
	n      int64
	err    error // a stream or limit error (a status)
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		m, err := r.stream.Recv()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			r.err = recvStatus(err, "key chunk")
			return 0, r.err
		}
		if len(m.GetPlanDigest()) != 0 {
			r.err = status.Error(codes.InvalidArgument, "heservice: plan digest on a key chunk after the first")
			return 0, r.err
		}
		if len(m.GetData()) > r.max {
			r.err = status.Errorf(codes.ResourceExhausted, "heservice: key chunk of %d bytes, limit %d", len(m.GetData()), r.max)
			return 0, r.err
		}
		r.buf = m.GetData()
	}
	k := copy(p, r.buf)
	r.buf = r.buf[k:]
	r.n += int64(k)
	return k, nil
}

// Evaluate runs the plan on the request's ciphertext under the session's
// keys. The ciphertext is decoded against the plan
// ([he.ReadCiphertextFor]), so its layout, levels and size are the plan's.
func (s *Server) Evaluate(ctx context.Context, req *hepb.EvaluateRequest) (*hepb.EvaluateResponse, error) {
	start := s.cfg.now()
	fp := peerFingerprint(ctx)
	sess, err := s.lookup(req.GetSession(), fp)
	if err != nil {
		s.log.Warn("he evaluate refused", "peer", fpTag(fp), "code", status.Code(err).String(), "err", err)
		return nil, err
	}
	log := s.log.With("session", sess.tag, "peer", fpTag(fp), "in_bytes", len(req.GetCiphertext()))
	ct, err := he.ReadCiphertextFor(bytes.NewReader(req.GetCiphertext()), s.plan)
	if err == nil && ct.Bytes() != len(req.GetCiphertext()) {
		err = fmt.Errorf("heservice: %d bytes after the ciphertext: %w", len(req.GetCiphertext())-ct.Bytes(), he.ErrMalformed)
	}
	if err != nil {
		st := heStatus(err)
		log.Warn("he evaluate refused", "code", status.Code(st).String(), "err", err)
		return nil, st
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.EvaluateTimeout)
		defer cancel()
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		log.Warn("he evaluate timed out waiting for a slot")
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	out, err := sess.server.Evaluate(ct)
	<-s.slots
	if err != nil {
		st := heStatus(err)
		log.Warn("he evaluate failed", "code", status.Code(st).String(), "err", err)
		return nil, st
	}
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	var b bytes.Buffer
	b.Grow(out.Bytes())
	if _, err := out.WriteTo(&b); err != nil {
		return nil, status.Errorf(codes.Internal, "heservice: encoding the output: %v", err)
	}
	log.Info("he evaluated", "samples", ct.Samples(), "out_bytes", b.Len(), "duration", s.cfg.now().Sub(start))
	return &hepb.EvaluateResponse{Ciphertext: b.Bytes()}, nil
}

// CloseSession forgets a session's keys.
func (s *Server) CloseSession(ctx context.Context, req *hepb.CloseSessionRequest) (*hepb.CloseSessionResponse, error) {
	fp := peerFingerprint(ctx)
	sess, err := s.lookup(req.GetSession(), fp)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if e, ok := s.sessions[sess.key]; ok {
		s.lru.Remove(e)
		delete(s.sessions, sess.key)
	}
	s.mu.Unlock()
	s.log.Info("he session closed", "session", sess.tag, "peer", fpTag(fp))
	return &hepb.CloseSessionResponse{}, nil
}

// Sessions returns the number of sessions cached (expired ones included
// until they are swept).
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// add caches a new session, sweeping expired ones; a peer at its
// MaxSessionsPerPeer loses its own least recently used session, and
// beyond MaxSessions the least recently used session goes.
func (s *Server) add(id []byte, fp [32]byte, srv *he.Server) *session {
	key := sha256.Sum256(id)
	now := s.cfg.now()
	sess := &session{key: key, tag: hex.EncodeToString(key[:4]), peer: fp, server: srv, lastUsed: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Without a client certificate (fp zero) there is no peer to cap.
	capped := fp != ([32]byte{})
	own := 0
	for e := s.lru.Front(); capped && e != nil; e = e.Next() {
		if e.Value.(*session).peer == fp {
			own++
		}
	}
	for e := s.lru.Back(); e != nil; {
		prev := e.Prev()
		old := e.Value.(*session)
		switch {
		case now.Sub(old.lastUsed) > s.cfg.SessionTTL:
		case capped && old.peer == fp && own >= s.cfg.MaxSessionsPerPeer:
		case own < s.cfg.MaxSessionsPerPeer && s.lru.Len() >= s.cfg.MaxSessions:
		default:
			e = prev
			continue
		}
		if capped && old.peer == fp {
			own--
		}
		s.lru.Remove(e)
		delete(s.sessions, old.key)
		s.log.Info("he session evicted", "session", old.tag, "idle", now.Sub(old.lastUsed))
		e = prev
	}
	s.sessions[key] = s.lru.PushFront(sess)
	return sess
}

// errSession is the status of an unknown, expired or foreign session: the
// three are not told apart, so that ids cannot be probed.
var errSession = status.Error(codes.NotFound, "heservice: no such session (unknown, expired or evicted): open a new one")

// lookup finds a live session opened by the same peer and marks it used.
// Sessions are indexed by the SHA-256 of their id, so the map lookup's
// timing says nothing useful about ids.
func (s *Server) lookup(id []byte, fp [32]byte) (*session, error) {
	if len(id) != 16 {
		return nil, status.Errorf(codes.InvalidArgument, "heservice: session id of %d bytes, want 16", len(id))
	}
	key := sha256.Sum256(id)
	now := s.cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.sessions[key]
	if !ok {
		return nil, errSession
	}
	sess := e.Value.(*session)
	if now.Sub(sess.lastUsed) > s.cfg.SessionTTL {
		s.lru.Remove(e)
		delete(s.sessions, key)
		return nil, errSession
	}
	if sess.peer != fp {
		return nil, errSession
	}
	sess.lastUsed = now
	s.lru.MoveToFront(e)
	return sess, nil
}

// peerFingerprint returns the SHA-256 of the peer's TLS certificate (zero
// without one).
func peerFingerprint(ctx context.Context) [32]byte {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return [32]byte{}
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 {
		return [32]byte{}
	}
	return sha256.Sum256(ti.State.PeerCertificates[0].Raw)
}

func fpTag(fp [32]byte) string {
	if fp == ([32]byte{}) {
		return "none"
	}
	return hex.EncodeToString(fp[:6])
}

// heStatus maps errors of package he to status codes.
func heStatus(err error) error {
	switch {
	case errors.Is(err, he.ErrMalformed), errors.Is(err, he.ErrInput):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, he.ErrTooLarge):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, he.ErrMismatch), errors.Is(err, he.ErrMissingKey), errors.Is(err, he.ErrInsecureParameters):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

// recvStatus turns a stream receive error into a status.
func recvStatus(err error, what string) error {
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return err
	}
	if err == io.EOF {
		return status.Errorf(codes.InvalidArgument, "heservice: stream ended before the %s", what)
	}
	return status.Errorf(codes.Unavailable, "heservice: receiving the %s: %v", what, err)
}
