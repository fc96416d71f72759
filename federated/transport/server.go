package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/federated/secagg"
	pb "github.com/privml/privml/federated/transport/transportpb"
	"github.com/privml/privml/internal/mtls"
)

// ServerConfig configures a [Server]. Zero values are documented per field.
type ServerConfig struct {
	// Secagg is the template of every round's secure-aggregation
	// configuration. Required: NumClients (the size of the roster, ids 0
	// to NumClients-1) and Dim or SideDim; with Malicious, Identities.
	// Sequence and SessionSeed are set per round (see Epoch and
	// SessionSeed).
	Secagg secagg.Config
	// SessionSeed returns the public session seed of a round. Required
	// with Malicious, where the server must not choose it (see secagg's
	// Config.SessionSeed): it must come from a source the clients check
	// on their own (ClientConfig.SessionSeed), such as [BeaconSeeds] of a
	// beacon value or a commit-and-reveal among the clients; a client
	// refuses a round with another seed. Defaults to 32 bytes from
	// crypto/rand in the semi-honest model.
	SessionSeed func(round uint64) ([32]byte, error)
	// FirstRound and LastRound are the training rounds to run. FirstRound
	// defaults to 1 (a server restarted from a checkpoint passes the round
	// after the last completed one); LastRound is required.
	FirstRound, LastRound uint64
	// Epoch counts the starts of the federation (incremented, and
	// checkpointed, by the caller at each start). A round's secagg
	// Sequence is Epoch<<32 | round, so that a round run again after a
	// restart never reuses the Sequence of the interrupted attempt.
	Epoch uint32
	// StageTimeout is the deadline of each stage, counted from its
	// opening: a client that has not sent its message by then counts as
	// dropped. Defaults to 30s.
	StageTimeout time.Duration
	// StartTimeout bounds the wait, before each round, for every client of
	// the roster to be present (to have called Hello or be waiting for the
	// round's configuration). The round opens when all are present or the
	// timeout passes. Defaults to StageTimeout.
	StartTimeout time.Duration
	// MaxConcurrentUploads bounds how many masked-input uploads are
	// buffered at once; more wait. Peak memory is the accumulator plus
	// this many masked vectors, independent of the number of clients.
	// Defaults to 4.
	MaxConcurrentUploads int
	// Model returns the application payload sent with a round's
	// configuration (for example the global model). Optional.
	Model func(round uint64) ([]byte, error)
	// OnRound is called after each round, with the result or the error
	// that aborted it. It returns the application payload broadcast to the
	// clients in the round's result (for example the updated model) and
	// is the place to checkpoint. An error from OnRound stops Run; the
	// clients awaiting that round's result are then told that the
	// federation ended. Optional.
	OnRound func(*RoundReport) ([]byte, error)
	// Logger receives structured logs: ids, rounds, stages, sizes,
	// durations and status codes, never vectors, masks, shares or keys.
	// Defaults to slog.Default().
	Logger *slog.Logger
}

// RoundReport describes a finished round.
type RoundReport struct {
	Round uint64
	// Result is the secure-aggregation result, nil if the round aborted.
	Result *secagg.Result
	// Err is why the round aborted, nil otherwise.
	Err error
	// Present is how many clients were present when the round opened.
	Present int
	// DroppedAt maps each client that dropped to the stage it missed.
	DroppedAt map[int]pb.Stage
	// Duration is the wall time from the round's opening to its result.
	Duration time.Duration
}

// Server runs the secure-aggregation rounds of a federation and serves
// the Aggregation gRPC service to the clients that connect to it. Its
// methods are safe for concurrent use.
type Server struct {
	pb.UnimplementedAggregationServer

	cfg     ServerConfig
	log     *slog.Logger
	session [16]byte
	uploads chan struct{} // upload slots
	bufs    chan []byte   // upload buffers kept for reuse, one per slot
	seeds   uploadSeeds   // key the fingerprints of uploads

	mu      sync.Mutex
	cur     *roundState // the open round, or nil
	prev    *roundState // the round before, for late result readers
	next    uint64      // the round to open next
	done    bool
	opened  chan struct{} // closed and replaced when a round opens
	present map[int]bool  // clients seen since the last round opened
	arrive  chan struct{} // closed and replaced when present grows
	// uploading holds the senders with an upload in progress (waiting
	// for a slot or sending): one each, so that no client holds all
	// slots. A sender is a client id and the certificate it came with, so
	// that the holder of another certificate issued for the id cannot
	// lock the client out by stalling an upload.
	uploading map[uploader]bool

	hooks *serverHooks // nil outside tests
}

// serverHooks let tests observe how client messages reach the state
// machine. Each hook runs with no lock held.
type serverHooks struct {
	// handle is called before the state machine handles a client's
	// message; the function it returns is called after.
	handle func(stage pb.Stage, id int) (after func())
	// wait is called when a message waits for the same client's message
	// of the stage that the state machine is handling.
	wait func(stage pb.Stage, id int)
}

// roundState is one round's state, guarded by Server.mu.
type roundState struct {
	round    uint64
	sr       *serverRound // safe for concurrent use; called without Server.mu
	config   []byte       // encoded SessionConfig
	stage    pb.Stage
	expected map[int]bool
	accepted map[pb.Stage]map[int][32]byte
	outputs  map[pb.Stage]map[int][]byte
	result   []byte // encoded RoundResult
	closed   map[pb.Stage]chan struct{}
	allIn    chan struct{} // closed when every expected client has submitted
	failed   error
	dropped  map[int]pb.Stage
	// handling holds, per stage, the clients whose message the state
	// machine is handling, each with a channel closed when it is done.
	// A client is in accepted or handling, never both.
	handling map[pb.Stage]map[int]chan struct{}
	// closing reports that the open stage admits no more messages: its
	// deadline passed (or every client answered, or the run ended), and
	// runStage waits for those in handling before closing it.
	closing bool
}

var clientStages = []pb.Stage{pb.Stage_STAGE_ADVERTISE, pb.Stage_STAGE_SHARE_KEYS, pb.Stage_STAGE_MASKED_INPUT, pb.Stage_STAGE_CONSISTENCY, pb.Stage_STAGE_UNMASK}

// NewServer checks cfg and returns a server. Register it on a grpc.Server
// (see [NewGRPCServer]) and call [Server.Run].
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.FirstRound == 0 {
		cfg.FirstRound = 1
	}
	if cfg.LastRound < cfg.FirstRound || cfg.LastRound >= 1<<32 {
		return nil, errorf(ErrConfig, "rounds %d to %d", cfg.FirstRound, cfg.LastRound)
	}
	if cfg.StageTimeout <= 0 {
		cfg.StageTimeout = 30 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = cfg.StageTimeout
	}
	if cfg.MaxConcurrentUploads <= 0 {
		cfg.MaxConcurrentUploads = 4
	}
	if cfg.Secagg.Threat == secagg.Malicious && cfg.SessionSeed == nil {
		return nil, errorf(ErrConfig, "the malicious threat model needs a SessionSeed source the server does not control")
	}
	if cfg.SessionSeed == nil {
		cfg.SessionSeed = func(uint64) ([32]byte, error) {
			var s [32]byte
			_, err := rand.Read(s[:])
			return s, err
		}
	}
	// Check the template now rather than at the first round.
	if _, err := secagg.NewParams(cfg.Secagg); err != nil {
		return nil, fmt.Errorf("transport: round configuration: %w", err)
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, uploads: make(chan struct{}, cfg.MaxConcurrentUploads), bufs: make(chan []byte, cfg.MaxConcurrentUploads),
		next: cfg.FirstRound, opened: make(chan struct{}), present: make(map[int]bool), arrive: make(chan struct{}), uploading: make(map[uploader]bool),
		seeds: newUploadSeeds(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if _, err := rand.Read(s.session[:]); err != nil {
		return nil, fmt.Errorf("transport: cannot draw a session id: %w", err)
	}
	return s, nil
}

// Register registers the Aggregation service on g.
func (s *Server) Register(g *grpc.Server) { pb.RegisterAggregationServer(g, s) }

// Run runs rounds FirstRound to LastRound and returns when they are done,
// when ctx ends, or when OnRound fails. A round that aborts (too few
// clients) is reported and the next one starts.
func (s *Server) Run(ctx context.Context) error {
	defer func() {
		s.mu.Lock()
		s.done = true
		s.releaseUnpublishedLocked()
		close(s.opened)
		s.opened = make(chan struct{})
		s.mu.Unlock()
	}()
	for r := s.cfg.FirstRound; r <= s.cfg.LastRound; r++ {
		rep, err := s.runRound(ctx, r)
		if err != nil {
			return err
		}
		payload := []byte(nil)
		if s.cfg.OnRound != nil {
			if payload, err = s.cfg.OnRound(rep); err != nil {
				return fmt.Errorf("transport: round %d: %w", r, err)
			}
		}
		s.publishResult(r, rep, payload)
	}
	return nil
}

// releaseUnpublishedLocked ends the open round if Run stops before its
// result is published (OnRound failed): its clients awaiting the result
// learn that the federation ended rather than wait for it forever.
func (s *Server) releaseUnpublishedLocked() {
	rs := s.cur
	if rs == nil {
		return
	}
	select {
	case <-rs.closed[pb.Stage_STAGE_UNMASK]:
		return
	default:
	}
	if rs.failed == nil {
		rs.failed = errorf(ErrFinished, "the federation stopped before the result of round %d was published", rs.round)
	}
	s.closeAllLocked(rs)
}

// runRound waits for the clients, opens round r and drives its stages.
// Only ctx's end is returned as an error; a protocol failure is in the
// report.
func (s *Server) runRound(ctx context.Context, r uint64) (*RoundReport, error) {
	present := s.waitPresent(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &RoundReport{Round: r, Present: present}
	rs, err := s.openRound(r)
	if err != nil {
		rep.Err = err
		s.log.Error("round not opened", "round", r, "err", err)
		return rep, nil
	}
	s.log.Info("round opened", "round", r, "present", present, "clients", s.cfg.Secagg.NumClients)
	for stage := pb.Stage_STAGE_ADVERTISE; stage != pb.Stage_STAGE_UNSPECIFIED; {
		next, res, err := s.runStage(ctx, rs, stage)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Err = err
			break
		}
		if res != nil {
			rep.Result = res
		}
		stage = next
	}
	s.mu.Lock()
	rep.DroppedAt = maps.Clone(rs.dropped)
	s.mu.Unlock()
	rep.Duration = time.Since(start)
	if rep.Err != nil {
		s.log.Warn("round aborted", "round", r, "dropped", len(rep.DroppedAt), "err", rep.Err, "ms", rep.Duration.Milliseconds())
	} else {
		s.log.Info("round done", "round", r, "survivors", len(rep.Result.Survivors), "dropped", len(rep.DroppedAt), "ms", rep.Duration.Milliseconds())
	}
	return rep, nil
}

// waitPresent waits until every client of the roster is present or the
// start timeout passes, and returns how many are.
func (s *Server) waitPresent(ctx context.Context) int {
	t := time.NewTimer(s.cfg.StartTimeout)
	defer t.Stop()
	for {
		s.mu.Lock()
		n, ch := len(s.present), s.arrive
		s.mu.Unlock()
		if n >= s.cfg.Secagg.NumClients {
			return n
		}
		select {
		case <-ch:
		case <-t.C:
			return n
		case <-ctx.Done():
			return n
		}
	}
}

func (s *Server) openRound(r uint64) (*roundState, error) {
	cfg := s.cfg.Secagg
	cfg.Sequence = uint64(s.cfg.Epoch)<<32 | r
	seed, err := s.cfg.SessionSeed(r)
	if err != nil {
		return nil, fmt.Errorf("transport: session seed of round %d: %w", r, err)
	}
	cfg.SessionSeed = seed
	sr, err := newServerRound(cfg)
	if err != nil {
		return nil, err
	}
	m := configToPB(sr.config())
	m.StageTimeoutMs = uint64(s.cfg.StageTimeout.Milliseconds())
	if s.cfg.Model != nil {
		if m.AppPayload, err = s.cfg.Model(r); err != nil {
			return nil, fmt.Errorf("transport: model of round %d: %w", r, err)
		}
	}
	enc, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("transport: cannot encode the configuration: %w", err)
	}
	rs := &roundState{
		round: r, sr: sr, config: enc, stage: pb.Stage_STAGE_ADVERTISE,
		expected: make(map[int]bool), accepted: make(map[pb.Stage]map[int][32]byte), handling: make(map[pb.Stage]map[int]chan struct{}),
		outputs: make(map[pb.Stage]map[int][]byte), closed: make(map[pb.Stage]chan struct{}),
		allIn: make(chan struct{}), dropped: make(map[int]pb.Stage),
	}
	for i := range cfg.NumClients {
		rs.expected[i] = true
	}
	for _, st := range clientStages {
		rs.closed[st] = make(chan struct{})
		rs.accepted[st] = make(map[int][32]byte)
		rs.handling[st] = make(map[int]chan struct{})
	}
	s.mu.Lock()
	s.prev, s.cur, s.next = s.cur, rs, r+1
	clear(s.present)
	close(s.opened)
	s.opened = make(chan struct{})
	s.mu.Unlock()
	return rs, nil
}

// runStage waits until every expected client has sent its message for
// stage or the stage's deadline passes, then closes the stage: it stops
// admitting messages, waits for those the state machine is handling (each
// a bounded computation: decoding, a signature check, an addition), and
// only then closes the state machine's stage, so that the clients it
// counts are exactly those in accepted.
func (s *Server) runStage(ctx context.Context, rs *roundState, stage pb.Stage) (pb.Stage, *secagg.Result, error) {
	t := time.NewTimer(s.cfg.StageTimeout)
	defer t.Stop()
	s.mu.Lock()
	allIn := rs.allIn
	s.mu.Unlock()
	select {
	case <-allIn:
	case <-t.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	rs.closing = true
	busy := slices.Collect(maps.Values(rs.handling[stage]))
	s.mu.Unlock()
	for _, ch := range busy {
		<-ch
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range rs.expected {
		if _, ok := rs.accepted[stage][id]; !ok {
			rs.dropped[id] = stage
			s.log.Info("client dropped", "round", rs.round, "stage", stage.String(), "client", id)
		}
	}
	if err := ctx.Err(); err != nil {
		rs.failed = err
		s.closeAllLocked(rs)
		return 0, nil, err
	}
	out, next, res, err := rs.sr.closeStage(stage)
	if err != nil {
		rs.failed = err
		s.closeAllLocked(rs)
		return 0, nil, err
	}
	rs.outputs[stage] = out
	if next != pb.Stage_STAGE_UNSPECIFIED {
		rs.stage, rs.closing = next, false
		rs.expected = make(map[int]bool, len(out))
		for id := range out {
			rs.expected[id] = true
		}
		rs.allIn = make(chan struct{})
		close(rs.closed[stage])
	} else {
		rs.stage = pb.Stage_STAGE_UNSPECIFIED
	}
	// The last stage's channel is closed with the result, by publishResult.
	return next, res, nil
}

// closeAllLocked releases every waiter of a failed round.
func (s *Server) closeAllLocked(rs *roundState) {
	rs.stage = pb.Stage_STAGE_UNSPECIFIED
	for _, ch := range rs.closed {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

func (s *Server) publishResult(r uint64, rep *RoundReport, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.cur
	if rs == nil || rs.round != r {
		return
	}
	if rep.Result != nil {
		m := &pb.RoundResult{AppPayload: payload}
		for _, id := range rep.Result.Survivors {
			m.Survivors = append(m.Survivors, uint32(id))
		}
		rs.result, _ = proto.Marshal(m)
	}
	s.closeAllLocked(rs)
}

// ---- RPC handlers: validate, call the core, map errors ----

// peerID returns the client id of the caller's verified certificate.
func peerID(ctx context.Context) (int, error) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return 0, errorf(ErrUnauthenticated, "no TLS peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return 0, errorf(ErrUnauthenticated, "the channel is not TLS")
	}
	return mtls.PeerClientID(ti.State)
}

// rosterBound reports whether, in the malicious model, the caller's
// verified certificate carries client id's roster identity (its Ed25519
// key is Identities[id]). Only then does the channel speak for the holder
// of that identity, as the message signatures do; a certificate that
// merely names the client (another certificate the CA issued for the
// same id, or an ECDSA certificate beside a separate Ed25519 identity)
// does not, and the masked input's signature is then verified.
func (s *Server) rosterBound(ctx context.Context, id int) bool {
	if s.cfg.Secagg.Threat != secagg.Malicious || id < 0 || id >= len(s.cfg.Secagg.Identities) {
		return false
	}
	leaf := verifiedLeaf(ctx)
	if leaf == nil {
		return false
	}
	pk, ok := leaf.PublicKey.(ed25519.PublicKey)
	return ok && len(pk) == ed25519.PublicKeySize &&
		subtle.ConstantTimeCompare(pk, s.cfg.Secagg.Identities[id]) == 1
}

// uploader names the sender of an upload: its client id and the SHA-256
// of its verified certificate.
type uploader struct {
	id   int
	cert [32]byte
}

// certDigest returns the SHA-256 of the caller's verified certificate
// (zero if there is none; checkPeer refuses such a caller).
func certDigest(ctx context.Context) [32]byte {
	leaf := verifiedLeaf(ctx)
	if leaf == nil {
		return [32]byte{}
	}
	return sha256.Sum256(leaf.Raw)
}

// verifiedLeaf returns the caller's certificate if the TLS handshake
// verified its chain, and nil otherwise.
func verifiedLeaf(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return ti.State.VerifiedChains[0][0]
}

// checkPeer authenticates the caller and checks it is on the roster.
func (s *Server) checkPeer(ctx context.Context) (int, error) {
	id, err := peerID(ctx)
	if err != nil {
		return 0, err
	}
	if id >= s.cfg.Secagg.NumClients {
		return 0, errorf(ErrIdentity, "client %d is not on the roster of %d clients", id, s.cfg.Secagg.NumClients)
	}
	return id, nil
}

func (s *Server) markPresentLocked(id int) {
	if !s.present[id] {
		s.present[id] = true
		close(s.arrive)
		s.arrive = make(chan struct{})
	}
}

// Hello reports the federation's state to a (re)connecting client.
func (s *Server) Hello(ctx context.Context, _ *pb.HelloRequest) (*pb.HelloResponse, error) {
	id, err := s.checkPeer(ctx)
	if err != nil {
		return nil, s.refuse("Hello", -1, 0, 0, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markPresentLocked(id)
	out := &pb.HelloResponse{Session: s.session[:], Round: s.next, Stage: pb.Stage_STAGE_CONFIG, LastRound: s.cfg.LastRound, Done: s.done, Client: uint32(id)}
	if s.cur != nil && s.cur.stage != pb.Stage_STAGE_UNSPECIFIED {
		out.Round, out.Stage = s.cur.round, s.cur.stage
	}
	return out, nil
}

// roundLocked checks a frame's session and returns the round state it
// names, or nil if that round is neither open nor the one before.
func (s *Server) roundLocked(f *pb.Frame) (*roundState, error) {
	if f == nil {
		return nil, errorf(ErrFrame, "no frame")
	}
	if subtle.ConstantTimeCompare(f.Session, s.session[:]) != 1 {
		return nil, errorf(ErrFrame, "message for another session (the server may have restarted)")
	}
	for _, rs := range []*roundState{s.cur, s.prev} {
		if rs != nil && rs.round == f.Round {
			return rs, nil
		}
	}
	return nil, nil
}

// Await streams the server's message that closes the frame's stage: a
// header announcing its size, then chunks of at most MaxChunkSize, so that
// no message (a configuration carrying a large model, say) is one gRPC
// message, and a connection holds at most a chunk of it in flight.
func (s *Server) Await(req *pb.AwaitRequest, stream pb.Aggregation_AwaitServer) error {
	id, err := s.checkPeer(stream.Context())
	if err != nil {
		return s.refuse("Await", -1, 0, 0, err)
	}
	f := req.GetFrame()
	payload, err := s.await(stream.Context(), id, f)
	if err != nil {
		return s.refuse("Await", id, f.GetRound(), f.GetStage(), err)
	}
	return sendDownload(stream, f, payload)
}

// sendDownload sends payload as a header and data chunks. The chunks are
// slices of payload (shared by every client that downloads it); gRPC
// encodes each when it is sent.
func sendDownload(stream pb.Aggregation_AwaitServer, f *pb.Frame, payload []byte) error {
	h := &pb.DownloadChunk{Kind: &pb.DownloadChunk_Header{Header: &pb.DownloadHeader{Frame: f, TotalSize: uint64(len(payload))}}}
	if err := stream.Send(h); err != nil {
		return err
	}
	for off := 0; off < len(payload); off += MaxChunkSize {
		end := min(off+MaxChunkSize, len(payload))
		if err := stream.Send(&pb.DownloadChunk{Kind: &pb.DownloadChunk_Data{Data: payload[off:end]}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) await(ctx context.Context, id int, f *pb.Frame) ([]byte, error) {
	for {
		s.mu.Lock()
		rs, err := s.roundLocked(f)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if rs == nil {
			// Only the configuration of the next round can be awaited
			// before its round opens.
			if f.Stage != pb.Stage_STAGE_CONFIG || f.Round != s.next {
				s.mu.Unlock()
				return nil, errorf(ErrFrame, "round %d is not open (next round is %d)", f.Round, s.next)
			}
			if s.done {
				s.mu.Unlock()
				return nil, errorf(ErrFinished, "the federation ended before round %d", f.Round)
			}
			s.markPresentLocked(id)
			ch := s.opened
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if f.Stage == pb.Stage_STAGE_CONFIG {
			cfg := rs.config
			s.mu.Unlock()
			return cfg, nil
		}
		ch, ok := rs.closed[f.Stage]
		if !ok {
			s.mu.Unlock()
			return nil, errorf(ErrFrame, "stage %v has no server message", f.Stage)
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if f.Stage == pb.Stage_STAGE_UNMASK && rs.result != nil {
			return rs.result, nil
		}
		if out, ok := rs.outputs[f.Stage][id]; ok {
			return out, nil
		}
		if rs.failed != nil {
			return nil, fmt.Errorf("transport: round %d aborted: %w", rs.round, rs.failed)
		}
		return nil, errorf(ErrDropped, "client %d has no message after stage %v of round %d", id, f.Stage, rs.round)
	}
}

// Submit accepts a client's message for the open stage. A retry of a
// message already accepted succeeds with duplicate set.
func (s *Server) Submit(ctx context.Context, req *pb.SubmitRequest) (*pb.SubmitResponse, error) {
	id, err := s.checkPeer(ctx)
	if err != nil {
		return nil, s.refuse("Submit", -1, 0, 0, err)
	}
	f := req.GetFrame()
	if f.GetStage() == pb.Stage_STAGE_MASKED_INPUT {
		return nil, s.refuse("Submit", id, f.GetRound(), f.GetStage(), errorf(ErrFrame, "masked inputs are sent with Upload"))
	}
	if c, ok := peekClient(req.GetPayload()); ok && c != id {
		return nil, s.refuse("Submit", id, f.GetRound(), f.GetStage(), errorf(ErrIdentity, "message for client %d on the channel of client %d", c, id))
	}
	dup, err := s.submit(ctx, id, false, f, req.GetPayload(), sha256.Sum256(req.GetPayload()))
	if err != nil {
		return nil, s.refuse("Submit", id, f.GetRound(), f.GetStage(), err)
	}
	s.log.Debug("accepted", "client", id, "round", f.GetRound(), "stage", f.GetStage().String(), "bytes", len(req.GetPayload()), "duplicate", dup)
	return &pb.SubmitResponse{Duplicate: dup}, nil
}

// admitLocked checks that client id may send a message for frame f now.
// It returns the round and, for a message already accepted, its digest,
// or, while the state machine handles the client's earlier message of the
// stage, a channel closed when it is done.
func (s *Server) admitLocked(id int, f *pb.Frame) (*roundState, *[32]byte, <-chan struct{}, error) {
	rs, err := s.roundLocked(f)
	if err != nil {
		return nil, nil, nil, err
	}
	if rs == nil {
		return nil, nil, nil, errorf(ErrFrame, "round %d is not open", f.GetRound())
	}
	acc, ok := rs.accepted[f.Stage]
	if !ok {
		return nil, nil, nil, errorf(ErrFrame, "stage %v takes no client message", f.Stage)
	}
	if d, done := acc[id]; done {
		return rs, &d, nil, nil
	}
	if rs.stage != f.Stage {
		if _, gone := rs.dropped[id]; gone {
			return nil, nil, nil, errorf(ErrDropped, "client %d dropped at stage %v of round %d", id, rs.dropped[id], rs.round)
		}
		return nil, nil, nil, errorf(ErrFrame, "stage %v of round %d is not open (open: %v)", f.Stage, rs.round, rs.stage)
	}
	if busy, ok := rs.handling[f.Stage][id]; ok {
		return rs, nil, busy, nil
	}
	if !rs.expected[id] {
		return nil, nil, nil, errorf(ErrDropped, "client %d is not part of stage %v of round %d", id, f.Stage, rs.round)
	}
	if rs.closing {
		return nil, nil, nil, errorf(ErrDropped, "stage %v of round %d closed before client %d's message was handled", f.Stage, rs.round, id)
	}
	return rs, nil, nil, nil
}

// submit hands a client's message to the round's state machine. bound
// reports that the channel's certificate carries the client's roster
// identity (rosterBound), which lets the masked input skip its signature.
//
// The state machine (safe for concurrent use) handles the message with no
// lock of the server held, so that messages on different connections are
// decoded and their signatures verified in parallel; the client is marked
// as being handled meanwhile, and runStage does not close the stage
// before it is done. A second message of the client for the stage that
// arrives meanwhile (a retry after a lost reply) waits for the first and
// is then answered as if it had come after it: "duplicate" if it is the
// same message, ErrConflict if it differs, and handled itself if the
// first was refused.
func (s *Server) submit(ctx context.Context, id int, bound bool, f *pb.Frame, payload []byte, digest [32]byte) (bool, error) {
	for {
		s.mu.Lock()
		rs, prev, busy, err := s.admitLocked(id, f)
		if err != nil {
			s.mu.Unlock()
			return false, err
		}
		if prev != nil {
			s.mu.Unlock()
			if subtle.ConstantTimeCompare(prev[:], digest[:]) == 1 {
				return true, nil
			}
			return false, errorf(ErrConflict, "client %d already sent another message in stage %v of round %d", id, f.Stage, rs.round)
		}
		if busy != nil {
			s.mu.Unlock()
			if h := s.hooks; h != nil && h.wait != nil {
				h.wait(f.Stage, id)
			}
			select {
			case <-busy:
				continue
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
		done := make(chan struct{})
		rs.handling[f.Stage][id] = done
		s.mu.Unlock()
		return false, s.handle(rs, f.Stage, id, bound, payload, digest, done)
	}
}

// handle calls the state machine, with no lock of the server held, for
// the client that submit marked as in flight, then clears the mark and
// accepts the message if the state machine took it. The mark is cleared
// on every way out, a panic included (under a recovering interceptor the
// server goes on), or the stage's close and the client's retries would
// wait for it forever.
func (s *Server) handle(rs *roundState, stage pb.Stage, id int, bound bool, payload []byte, digest [32]byte, done chan struct{}) (err error) {
	returned := false
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(rs.handling[stage], id)
		close(done)
		if returned && err == nil {
			s.acceptLocked(rs, stage, id, digest)
		}
	}()
	if h := s.hooks; h != nil && h.handle != nil {
		defer h.handle(stage, id)()
	}
	err = rs.sr.handle(stage, id, bound, payload)
	returned = true
	return err
}

func (s *Server) acceptLocked(rs *roundState, stage pb.Stage, id int, digest [32]byte) {
	rs.accepted[stage][id] = digest
	for e := range rs.expected {
		if _, ok := rs.accepted[stage][e]; !ok {
			return
		}
	}
	// The channel belongs to the open stage (runStage makes a new one for
	// the next): close it once, whether or not runStage waits on it yet.
	select {
	case <-rs.allIn:
	default:
		close(rs.allIn)
	}
}

// Upload receives a masked input in chunks. The header is checked (frame,
// announced size) and an upload slot taken before the client is told to
// send data, and the identity in the first chunk is checked before it is
// buffered: at most MaxConcurrentUploads masked inputs are in memory. A
// client has at most one upload in progress per certificate (a second is
// refused with ErrBusy, which its retry loop waits out), so that one
// client cannot take every slot, nor another certificate issued for its
// id lock it out, and an upload unfinished when its stage closes ends
// with ErrDropped, freeing its slot.
func (s *Server) Upload(stream pb.Aggregation_UploadServer) error {
	ctx := stream.Context()
	id, err := s.checkPeer(ctx)
	if err != nil {
		return s.refuse("Upload", -1, 0, 0, err)
	}
	var f *pb.Frame
	dup, n, err := s.upload(stream, id, s.rosterBound(ctx, id), &f)
	if err != nil {
		return s.refuse("Upload", id, f.GetRound(), f.GetStage(), err)
	}
	s.log.Debug("accepted", "client", id, "round", f.GetRound(), "stage", f.GetStage().String(), "bytes", n, "duplicate", dup)
	return stream.Send(&pb.UploadReply{Kind: &pb.UploadReply_Done{Done: &pb.SubmitResponse{Duplicate: dup}}})
}

func (s *Server) upload(stream pb.Aggregation_UploadServer, id int, bound bool, fp **pb.Frame) (bool, uint64, error) {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return false, 0, recvError(err, "header")
	}
	h := first.GetHeader()
	if h == nil {
		return false, 0, errorf(ErrUpload, "the first message is not a header")
	}
	f := h.GetFrame()
	*fp = f
	if f.GetStage() != pb.Stage_STAGE_MASKED_INPUT {
		return false, 0, errorf(ErrFrame, "uploads are for stage %v, not %v", pb.Stage_STAGE_MASKED_INPUT, f.GetStage())
	}
	sender := uploader{id, certDigest(ctx)}
	s.mu.Lock()
	rs, prev, busy, err := s.admitLocked(id, f)
	var lo, hi uint64
	var stageDone chan struct{} // closed when the stage closes
	if err == nil {
		lo, hi = rs.sr.uploadBounds()
		stageDone = rs.closed[f.Stage]
		if prev == nil && (s.uploading[sender] || busy != nil) {
			err = errorf(ErrBusy, "client %d has an upload in progress in round %d", id, f.GetRound())
		} else if prev == nil {
			s.uploading[sender] = true
			defer func() {
				s.mu.Lock()
				delete(s.uploading, sender)
				s.mu.Unlock()
			}()
		}
	}
	s.mu.Unlock()
	if err != nil {
		return false, 0, err
	}
	if t := h.GetTotalSize(); t < lo || t > hi {
		_, err := newAssembler(t, lo, hi, false, nil, s.seeds)
		return false, 0, err
	}
	var buf []byte
	slot := false
	if prev == nil {
		select {
		case s.uploads <- struct{}{}:
			slot = true
		case <-stageDone:
			return false, 0, errorf(ErrDropped, "stage %v of round %d closed while client %d waited for an upload slot", f.Stage, f.Round, id)
		case <-ctx.Done():
			return false, 0, ctx.Err()
		}
		select { // a buffer of an earlier upload, if any
		case buf = <-s.bufs:
		default:
		}
	} else {
		stageDone = nil // a retry of an accepted upload only hashes
	}
	a, err := newAssembler(h.GetTotalSize(), lo, hi, prev == nil, buf, s.seeds)
	if err != nil {
		if slot {
			<-s.uploads
		}
		return false, 0, err
	}
	// The slot and buffer are freed when the receiver ends, which may be
	// after this handler returns (the return cancels the stream).
	received := make(chan error, 1)
	free := func() {
		if b := a.release(); b != nil {
			select {
			case s.bufs <- b:
			default:
			}
		}
		if slot {
			<-s.uploads
		}
	}
	// Only now may the client send data: an upload waiting for a slot
	// holds nothing but its header.
	if err := stream.Send(&pb.UploadReply{Kind: &pb.UploadReply_Ready{Ready: &pb.UploadReady{}}}); err != nil {
		free()
		return false, 0, err
	}
	go func() { received <- receiveChunks(stream, a, id) }()
	select {
	case err = <-received:
	case <-stageDone:
		// A client that stalls its upload holds its slot no longer than
		// the stage.
		go func() { <-received; free() }()
		return false, 0, errorf(ErrDropped, "stage %v of round %d closed before client %d's upload finished", f.Stage, f.Round, id)
	}
	defer free()
	if err != nil {
		return false, 0, err
	}
	msg, digest, err := a.finish()
	if err != nil {
		return false, 0, err
	}
	if prev != nil {
		if subtle.ConstantTimeCompare(prev[:], digest[:]) == 1 {
			return true, a.want, nil
		}
		return false, 0, errorf(ErrConflict, "client %d already sent another masked input in round %d", id, f.Round)
	}
	dup, err := s.submit(ctx, id, bound, f, msg, digest)
	return dup, a.want, err
}

// receiveChunks adds the data chunks of an upload to a until the client
// closes its side.
func receiveChunks(stream pb.Aggregation_UploadServer, a *assembler, id int) error {
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return recvError(err, "chunk")
		}
		data := m.GetData()
		if m.GetHeader() != nil {
			return errorf(ErrUpload, "second header at offset %d", a.got)
		}
		if a.got == 0 {
			// The sender's id is in the first bytes: refuse an
			// impersonation before buffering anything.
			if c, ok := peekClient(data); ok && c != id {
				return errorf(ErrIdentity, "masked input for client %d on the channel of client %d", c, id)
			}
		}
		if err := a.add(data); err != nil {
			return err
		}
	}
}

func recvError(err error, what string) error {
	if errors.Is(err, io.EOF) {
		return errorf(ErrUpload, "stream ended before the %s", what)
	}
	return err
}

// refuse logs a refused call (without its payload) and maps its error to
// a status.
func (s *Server) refuse(method string, id int, round uint64, stage pb.Stage, err error) error {
	st := togRPCError(err)
	s.log.Warn("refused", "method", method, "client", id, "round", round, "stage", stage.String(), "code", status.Code(st).String(), "err", err)
	return st
}
