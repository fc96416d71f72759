package transport

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/federated/secagg"
	pb "github.com/privml/privml/federated/transport/transportpb"
)

// serveWith serves h.srv on a new listener with extra gRPC server options
// (an interceptor, say), replacing the harness's server.
func (h *harness) serveWith(opts ...grpc.ServerOption) {
	h.t.Helper()
	h.g.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(h.t, err)
	h.lis = LimitListener(ln, h.lim.MaxConnections)
	h.addr = ln.Addr().String()
	h.g = NewGRPCServer(h.srv, h.tlsConf, h.lim, opts...)
	g, lis := h.g, h.lis
	go func() { _ = g.Serve(lis) }()
}

// recoverUnary is the usual panic-recovery interceptor of a gRPC
// deployment: a handler's panic becomes an Internal status.
func recoverUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = status.Errorf(codes.Internal, "panic: %v", p)
		}
	}()
	return handler(ctx, req)
}

// goroutines returns the header line ("goroutine N [state]:") and stack
// of every goroutine, by header's id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		f := strings.Fields(g)
		if len(f) >= 2 {
			out[f[1]] = g
		}
	}
	return out
}

// stuckIn names the goroutines, not among before (from goroutines), whose
// stack holds one of the functions (such as "transport.(*Server).submit"),
// after waiting up to d for them to go.
func stuckIn(d time.Duration, before map[string]string, funcs ...string) []string {
	var out []string
	waitFor(d, func() bool {
		out = out[:0]
		for id, g := range goroutines() {
			if _, old := before[id]; old {
				continue
			}
			for _, f := range funcs {
				if strings.Contains(g, f+"(") {
					out = append(out, strings.SplitN(g, "\n", 2)[0]+" in "+f)
				}
			}
		}
		return len(out) == 0
	})
	return out
}

// firstAdvert awaits round 1's configuration on raw and returns a fresh
// advert of client id and the frame builder. It may run off the test's
// goroutine: it returns its errors.
func firstAdvert(ctx context.Context, raw pb.AggregationClient, id int) ([]byte, func(pb.Stage) *pb.Frame, error) {
	hello, err := raw.Hello(ctx, &pb.HelloRequest{})
	if err != nil {
		return nil, nil, err
	}
	fr := func(st pb.Stage) *pb.Frame { return &pb.Frame{Session: hello.Session, Round: 1, Stage: st} }
	st, err := raw.Await(ctx, &pb.AwaitRequest{Frame: fr(pb.Stage_STAGE_CONFIG)})
	if err != nil {
		return nil, nil, err
	}
	enc, err := receiveDownload(st.Recv, fr(pb.Stage_STAGE_CONFIG), 1<<20)
	if err != nil {
		return nil, nil, err
	}
	var sc pb.SessionConfig
	if err := proto.Unmarshal(enc, &sc); err != nil {
		return nil, nil, err
	}
	scfg, err := configFromPB(&sc)
	if err != nil {
		return nil, nil, err
	}
	cr, err := newClientRound(scfg, id, 1, &clientPolicy{})
	if err != nil {
		return nil, nil, err
	}
	advert, err := cr.advertise()
	return advert, fr, err
}

// TestPanicInStateMachineLeavesNoClientInFlight: the state machine panics
// while it handles client 0's advert, on a gRPC server with the usual
// recovery interceptor (NewGRPCServer takes the deployment's options).
// The panic must not leave client 0 marked as in flight: its retry of the
// advert must be handled (not wait forever for the call that panicked),
// and the stage must close at its deadline (not wait forever for it), so
// that Run finishes its round. With the message's cleanup not deferred,
// both hang: the server's rounds stop for good.
func TestPanicInStateMachineLeavesNoClientInFlight(t *testing.T) {
	const n, dim = 3, 20
	cfg := baseConfig(n, dim, 1)
	cfg.StageTimeout = time.Second
	h := newHarness(t, cfg, Limits{})
	var once sync.Once
	h.srv.hooks = &serverHooks{handle: func(stage pb.Stage, id int) func() {
		if stage == pb.Stage_STAGE_ADVERTISE && id == 0 {
			once.Do(func() { panic("state machine bug") })
		}
		return func() {}
	}}
	h.serveWith(grpc.ChainUnaryInterceptor(recoverUnary))
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	raw := h.raw(0)
	others := h.runClients(ctx, []int{1, 2}, nil)
	advert, fr, err := firstAdvert(ctx, raw, 0)
	require.NoError(t, err)
	_, err = raw.Submit(ctx, &pb.SubmitRequest{Frame: fr(pb.Stage_STAGE_ADVERTISE), Payload: advert})
	require.Equal(t, codes.Internal, status.Code(err), "the call that panicked: %v", err)

	retryCtx, retryCancel := context.WithTimeout(ctx, 5*time.Second)
	defer retryCancel()
	r, err := raw.Submit(retryCtx, &pb.SubmitRequest{Frame: fr(pb.Stage_STAGE_ADVERTISE), Payload: advert})
	require.NoError(t, err, "the retry after the panic")
	assert.False(t, r.GetDuplicate())

	select {
	case err := <-h.runErr:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not finish: the stage waits for the message whose handler panicked")
	}
	for id, err := range others() {
		require.NoError(t, err, "client %d", id)
	}
	rep := h.roundReports()[0]
	// Client 0's advert was accepted on the retry; the raw client goes no
	// further.
	assert.Equal(t, pb.Stage_STAGE_SHARE_KEYS, rep.DroppedAt[0], "dropped at %v", rep.DroppedAt)
}

// TestCancelledRunLeavesNothingWaiting: the run is cancelled while, for
// each of three clients, an advert is held in the state machine and two
// copies wait for it (one of them cancelled by its caller meanwhile),
// and other clients await the stage's message. Once Run returns and the
// adverts are let out, every call is answered and no goroutine is left in
// submit, await or runStage.
func TestCancelledRunLeavesNothingWaiting(t *testing.T) {
	const n, dim, held = 6, 20, 3
	before := goroutines()
	cfg := baseConfig(n, dim, 2)
	cfg.StageTimeout = 30 * time.Second
	h := newHarness(t, cfg, Limits{})
	entered, waiting := make(chan int, held), make(chan int, 4*held)
	release := make(chan struct{})
	h.srv.hooks = &serverHooks{
		handle: func(stage pb.Stage, id int) func() {
			if stage == pb.Stage_STAGE_ADVERTISE && id < held {
				entered <- id
				<-release
			}
			return func() {}
		},
		wait: func(_ pb.Stage, id int) { waiting <- id },
	}
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	raws := make([]pb.AggregationClient, n)
	adverts := make([][]byte, n)
	frs := make([]func(pb.Stage) *pb.Frame, n)
	errs := make([]error, n)
	for id := range n {
		raws[id] = h.raw(id)
	}
	var wg sync.WaitGroup
	for id := range n { // every client awaits the configuration: the round opens when all are present
		wg.Go(func() { adverts[id], frs[id], errs[id] = firstAdvert(ctx, raws[id], id) })
	}
	wg.Wait()
	for id, err := range errs {
		require.NoError(t, err, "client %d", id)
	}
	fr := frs[0]

	answers := make(chan error, 3*held+n)
	submit := func(ctx context.Context, id int) {
		go func() {
			_, err := raws[id].Submit(ctx, &pb.SubmitRequest{Frame: fr(pb.Stage_STAGE_ADVERTISE), Payload: adverts[id]})
			answers <- err
		}()
	}
	for id := range held {
		submit(ctx, id)
	}
	for range held {
		<-entered
	}
	cancelled, cancelWaiter := context.WithCancel(ctx)
	for id := range held {
		submit(ctx, id)
		submit(cancelled, id)
	}
	for range 2 * held {
		<-waiting
	}
	cancelWaiter()
	awaited := make(chan error, n)
	for id := held; id < n; id++ {
		go func() {
			st, err := raws[id].Await(ctx, &pb.AwaitRequest{Frame: fr(pb.Stage_STAGE_ADVERTISE)})
			if err == nil {
				_, err = receiveDownload(st.Recv, fr(pb.Stage_STAGE_ADVERTISE), 1<<20)
			}
			awaited <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	h.cancel()
	time.Sleep(100 * time.Millisecond)
	close(release)
	require.ErrorIs(t, h.wait(), context.Canceled)
	for range 3 * held {
		select {
		case err := <-answers:
			if err != nil {
				assert.Contains(t, []codes.Code{codes.Canceled}, status.Code(err), "%v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a submit was never answered")
		}
	}
	for range n - held {
		select {
		case err := <-awaited:
			assert.ErrorContains(t, err, "aborted")
		case <-time.After(10 * time.Second):
			t.Fatal("an await was never answered")
		}
	}
	assert.Empty(t, stuckIn(5*time.Second, before, "transport.(*Server).submit", "transport.(*Server).await", "transport.(*Server).runStage"))
}

// TestDuplicateStormBooksAgree races, over three rounds of 8 clients,
// every client message with concurrent copies of itself (one of them
// given a deadline of a few milliseconds, so that waiting copies are
// cancelled), clients that send near each stage's deadline, and a state
// machine whose calls are slowed by varying amounts. In every round the
// transport's accepted clients are exactly those the state machine
// counted, a client is reported dropped at a stage if and only if it was
// not accepted there, the sum is the plain sum of the accepted masked
// inputs, every message reached the state machine once, and no
// call is left waiting at the end.
func TestDuplicateStormBooksAgree(t *testing.T) {
	const n, dim, rounds = 8, 40, 3
	const timeout = 700 * time.Millisecond
	before := goroutines()
	cfg := baseConfig(n, dim, rounds)
	cfg.StageTimeout = timeout
	var h *harness
	var booksMu sync.Mutex
	books := map[uint64]roundBook{}
	cfg.OnRound = func(rep *RoundReport) ([]byte, error) {
		b := bookOf(t, h.srv, rep.Round)
		booksMu.Lock()
		books[rep.Round] = b
		booksMu.Unlock()
		return []byte("model"), nil
	}
	h = newHarness(t, cfg, Limits{})
	c := newHandleCounter()
	c.gate = func(stage pb.Stage, id int) {
		time.Sleep(time.Duration((id*13+int(stage)*7)%25) * time.Millisecond)
	}
	var callsMu sync.Mutex
	perRound := map[string]int{} // round/stage/client -> state-machine calls
	counted := c.handle
	c2 := func(stage pb.Stage, id int) func() {
		h.srv.mu.Lock()
		r := h.srv.cur.round
		h.srv.mu.Unlock()
		callsMu.Lock()
		perRound[fmt.Sprintf("%d/%v/%d", r, stage, id)]++
		callsMu.Unlock()
		return counted(stage, id)
	}
	h.srv.hooks = &serverHooks{handle: c2}
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, cc *ClientConfig) {
		rng := rand.New(rand.NewPCG(uint64(id), 7))
		var rngMu sync.Mutex
		cc.BeforeStage = func(round uint64, st Stage) error {
			if (int(round)+id+int(st))%5 == 0 { // about one message in five near the deadline
				time.Sleep(timeout - 30*time.Millisecond + time.Duration(id*11%60)*time.Millisecond)
			}
			return nil
		}
		cc.DialOptions = append(cc.DialOptions, grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, conn *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			sr, ok := req.(*pb.SubmitRequest)
			if !ok {
				return invoker(ctx, method, req, reply, conn, opts...)
			}
			rngMu.Lock()
			short := time.Duration(rng.IntN(5)+1) * time.Millisecond
			rngMu.Unlock()
			var wg sync.WaitGroup
			for k := range 2 {
				wg.Go(func() {
					cctx, ccancel := ctx, context.CancelFunc(func() {})
					if k == 1 {
						cctx, ccancel = context.WithTimeout(ctx, short)
					}
					defer ccancel()
					_ = invoker(cctx, method, proto.Clone(sr), new(pb.SubmitResponse), conn, opts...)
				})
			}
			err := invoker(ctx, method, req, reply, conn, opts...)
			wg.Wait()
			return err
		}))
	})
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	reps := h.roundReports()
	require.Len(t, reps, rounds)
	for _, rep := range reps {
		t.Logf("round %d: err %v, dropped %v", rep.Round, rep.Err, rep.DroppedAt)
		booksMu.Lock()
		b := books[rep.Round]
		booksMu.Unlock()
		checkBook(t, n, semiHonestStages, rep, b)
	}
	callsMu.Lock()
	for k, v := range perRound {
		assert.Equal(t, 1, v, "%s: state-machine calls (copies of one message)", k)
	}
	callsMu.Unlock()
	assert.Empty(t, stuckIn(5*time.Second, before, "transport.(*Server).submit", "transport.(*Server).runStage"))
}

// TestOnRoundErrorReleasesAwaiters: OnRound fails (the checkpoint cannot
// be written, say), which stops Run before the round's result is
// published. The clients awaiting the result must learn that the
// federation ended instead of waiting (and re-asking after each await
// timeout) until their own context ends.
func TestOnRoundErrorReleasesAwaiters(t *testing.T) {
	const n, dim = 4, 20
	cfg := baseConfig(n, dim, 2)
	cfg.StageTimeout = 2 * time.Second
	cfg.OnRound = func(*RoundReport) ([]byte, error) { return nil, errors.New("checkpoint disk full") }
	h := newHarness(t, cfg, Limits{})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	wait := h.runClients(ctx, ids(n), nil)
	require.ErrorContains(t, h.wait(), "checkpoint disk full")
	reps := h.roundReports()
	require.Len(t, reps, 1)
	require.NoError(t, reps[0].Err, "the round ran to its result")
	done := make(chan map[int]error, 1)
	go func() { done <- wait() }()
	select {
	case errs := <-done:
		for id, err := range errs {
			assert.NoError(t, err, "client %d: the federation ended", id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("clients still wait for the result of a round whose server stopped")
	}
}

// TestSecondCertificateStalledUpload: the holder of a second certificate
// the CA issued for client 1 (its key off the roster, so it cannot sign
// for client 1) opens an upload of client 1's masked input, is given a
// slot, and sends nothing. The honest client 1 (roster-bound channel)
// must still get its masked input in: the stall must not count as client
// 1's upload in progress, or the honest client is refused as busy until
// the stage closes and reported dropped, its input missing from the sum.
func TestSecondCertificateStalledUpload(t *testing.T) {
	const n, dim = 6, 40
	beacon := []byte("beacon value fixed in advance")
	h, confs, keys, roster := maliciousHarness(t, n, dim, beacon)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	stalled := make(chan struct{})
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.TLS, c.Identity, c.RequireMalicious = confs[id], keys[id], true
		c.Roster, c.SessionSeed = roster, BeaconSeeds(beacon, roster)
		if id == 1 {
			in := c.Input
			c.Input = func(ctx context.Context, round uint64, model []byte, length int) ([]int64, error) {
				<-stalled
				return in(ctx, round, model, length)
			}
		}
	})

	imp := h.raw(1) // a fresh certificate for client 1, a key off the roster
	hello, err := imp.Hello(ctx, &pb.HelloRequest{})
	require.NoError(t, err)
	fr := func(st pb.Stage) *pb.Frame { return &pb.Frame{Session: hello.Session, Round: 1, Stage: st} }
	await := func(f *pb.Frame) []byte {
		st, err := imp.Await(ctx, &pb.AwaitRequest{Frame: f})
		require.NoError(t, err)
		msg, err := receiveDownload(st.Recv, f, 1<<30)
		require.NoError(t, err)
		return msg
	}
	var sc pb.SessionConfig
	require.NoError(t, proto.Unmarshal(await(fr(pb.Stage_STAGE_CONFIG)), &sc))
	scfg, err := configFromPB(&sc)
	require.NoError(t, err)
	p, err := secagg.NewParams(scfg)
	require.NoError(t, err)
	await(fr(pb.Stage_STAGE_SHARE_KEYS)) // the masked-input stage is open

	upCtx, upCancel := context.WithCancel(ctx)
	defer upCancel()
	st, err := imp.Upload(upCtx)
	require.NoError(t, err)
	require.NoError(t, st.Send(&pb.UploadChunk{Kind: &pb.UploadChunk_Header{Header: &pb.UploadHeader{Frame: fr(pb.Stage_STAGE_MASKED_INPUT), TotalSize: maskedInputSize(p)}}}))
	r, err := st.Recv()
	require.NoError(t, err)
	require.NotNil(t, r.GetReady(), "the stalling upload got a slot")
	close(stalled) // and sends nothing more

	require.NoError(t, h.wait())
	errs := wait()
	require.NoError(t, errs[1])
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	require.NotNil(t, rep.Result)
	assert.Empty(t, rep.DroppedAt, "a stalled upload on another certificate for client 1 kept the honest client 1 out")
	assert.Equal(t, ids(n), rep.Result.Survivors)
	assert.Equal(t, plainSum(rep.Result.Survivors, 1, dim+1), rep.Result.Sum)
}

// TestSecondCertificateInFlight: a second certificate the CA issued for
// client 1 (its key off the roster) races the honest client 1's adverts
// while they are in the state machine. Round 1: the impostor's forged
// advert is in the state machine when the honest advert arrives; the
// honest one waits, the forgery is refused, and the honest one is then
// handled itself (not answered from the forgery's outcome). Round 2: the
// honest advert is in the state machine when the forgery arrives; the
// forgery waits and is refused as a conflict, never answered as the
// honest one's success. Both rounds sum every client's input.
func TestSecondCertificateInFlight(t *testing.T) {
	const n, dim = 5, 30
	beacon := []byte("beacon for the in-flight impostor")
	cfg := baseConfig(n, dim, 2)
	cfg.StageTimeout = 20 * time.Second
	entered := map[uint64]chan struct{}{1: make(chan struct{}), 2: make(chan struct{})} // the first advert of client 1 is in the state machine
	waiting := map[uint64]chan struct{}{1: make(chan struct{}), 2: make(chan struct{})} // a second waits for it
	waited := map[uint64]func(){1: sync.OnceFunc(func() { close(waiting[1]) }), 2: sync.OnceFunc(func() { close(waiting[2]) })}
	var calls [3]int
	var mu sync.Mutex
	hooks := func(srv *Server) *serverHooks {
		return &serverHooks{
			handle: func(stage pb.Stage, id int) func() {
				if stage != pb.Stage_STAGE_ADVERTISE || id != 1 {
					return func() {}
				}
				srv.mu.Lock()
				r := srv.cur.round
				srv.mu.Unlock()
				mu.Lock()
				calls[r]++
				first := calls[r] == 1
				mu.Unlock()
				if first {
					close(entered[r])
					select {
					case <-waiting[r]:
					case <-time.After(15 * time.Second):
					}
				}
				return func() {}
			},
			wait: func(stage pb.Stage, id int) {
				if stage != pb.Stage_STAGE_ADVERTISE || id != 1 {
					return
				}
				srv.mu.Lock()
				r := srv.cur.round
				srv.mu.Unlock()
				waited[r]()
			},
		}
	}
	h, confs, keys, roster := maliciousHarnessWith(t, cfg, beacon, hooks)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	imp := h.raw(1) // a fresh certificate for client 1, a key off the roster
	hello, err := imp.Hello(ctx, &pb.HelloRequest{})
	require.NoError(t, err)
	forged := fakeMessage(38+2*32+2+ed25519.SignatureSize, 1, 1)
	impErr := map[uint64]chan error{1: make(chan error, 1), 2: make(chan error, 1)}
	go func() {
		for r := uint64(1); r <= 2; r++ {
			fr := func(st pb.Stage) *pb.Frame { return &pb.Frame{Session: hello.Session, Round: r, Stage: st} }
			st, err := imp.Await(ctx, &pb.AwaitRequest{Frame: fr(pb.Stage_STAGE_CONFIG)})
			if err == nil {
				_, err = receiveDownload(st.Recv, fr(pb.Stage_STAGE_CONFIG), 1<<20)
			}
			if err != nil {
				impErr[r] <- err
				continue
			}
			if r == 2 {
				<-entered[2] // the honest advert is in the state machine
			}
			_, err = imp.Submit(ctx, &pb.SubmitRequest{Frame: fr(pb.Stage_STAGE_ADVERTISE), Payload: forged})
			impErr[r] <- err
		}
	}()
	wait := h.runClients(ctx, ids(n), func(id int, cc *ClientConfig) {
		cc.TLS, cc.Identity, cc.RequireMalicious = confs[id], keys[id], true
		cc.Roster, cc.SessionSeed = roster, BeaconSeeds(beacon, roster)
		if id == 1 {
			cc.BeforeStage = func(round uint64, st Stage) error {
				if round == 1 && st == pb.Stage_STAGE_ADVERTISE {
					<-entered[1] // the forgery is in the state machine
				}
				return nil
			}
		}
	})
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	e1, e2 := <-impErr[1], <-impErr[2]
	assert.Equal(t, codes.InvalidArgument, status.Code(e1), "round 1, the forgery handled first: %v", e1)
	assert.Equal(t, codes.AlreadyExists, status.Code(e2), "round 2, the forgery that waited for the honest advert: %v", e2)
	mu.Lock()
	assert.Equal(t, 2, calls[1], "round 1: the forgery and the honest advert each reach the state machine")
	assert.Equal(t, 1, calls[2], "round 2: only the honest advert reaches the state machine")
	mu.Unlock()
	reps := h.roundReports()
	require.Len(t, reps, 2)
	for _, rep := range reps {
		require.NoError(t, rep.Err)
		assert.Empty(t, rep.DroppedAt, "round %d", rep.Round)
		assert.Equal(t, ids(n), rep.Result.Survivors, "round %d", rep.Round)
		assert.Equal(t, plainSum(ids(n), rep.Round, dim+1), rep.Result.Sum, "round %d", rep.Round)
	}
}
