package transport

import (
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// handleCounter counts the state machine's calls per stage and client and
// the most that ran at once. gate, if set, runs inside each call (after
// it is counted), so a test can hold a call in flight.
type handleCounter struct {
	mu    sync.Mutex
	calls map[pb.Stage]map[int]int
	now   int
	max   int
	gate  func(stage pb.Stage, id int)
}

func newHandleCounter() *handleCounter {
	return &handleCounter{calls: make(map[pb.Stage]map[int]int)}
}

func (c *handleCounter) handle(stage pb.Stage, id int) func() {
	c.mu.Lock()
	if c.calls[stage] == nil {
		c.calls[stage] = make(map[int]int)
	}
	c.calls[stage][id]++
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	if c.gate != nil {
		c.gate(stage, id)
	}
	return func() {
		c.mu.Lock()
		c.now--
		c.mu.Unlock()
	}
}

func (c *handleCounter) snapshot() (map[pb.Stage]map[int]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[pb.Stage]map[int]int, len(c.calls))
	for st, m := range c.calls {
		out[st] = maps.Clone(m)
	}
	return out, c.max
}

// waitFor polls cond every millisecond until it holds or d passes, and
// reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return cond()
}

// closingStage reports whether stage of round is open on s but admits no
// more messages (runStage waits for the messages in flight).
func closingStage(s *Server, round uint64, stage pb.Stage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil && s.cur.round == round && s.cur.stage == stage && s.cur.closing
}

// roundBook is the transport's and the state machine's account of a
// finished round: per stage, the clients whose message the transport
// accepted (with its digest) and those the state machine sent a message
// to when it closed the stage (the clients it counted).
type roundBook struct {
	accepted map[pb.Stage]map[int][32]byte
	counted  map[pb.Stage][]int
	outputs  map[pb.Stage]map[int][]byte
}

// bookOf copies the book of s's current round, which must be round r. It
// runs in OnRound, off the test's goroutine: it asserts, never requires.
func bookOf(t *testing.T, s *Server, r uint64) roundBook {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := roundBook{accepted: make(map[pb.Stage]map[int][32]byte), counted: make(map[pb.Stage][]int), outputs: make(map[pb.Stage]map[int][]byte)}
	rs := s.cur
	if !assert.NotNil(t, rs) || !assert.Equal(t, r, rs.round) {
		return b
	}
	for st, m := range rs.accepted {
		b.accepted[st] = maps.Clone(m)
	}
	for st, m := range rs.outputs {
		b.counted[st] = slices.Sorted(maps.Keys(m))
		b.outputs[st] = maps.Clone(m)
	}
	for st, m := range rs.handling {
		assert.Empty(t, m, "round %d stage %v: messages still in flight after the round", r, st)
	}
	return b
}

// checkBook asserts that the transport's books and the state machine's
// agree on round rep of n clients: at every stage that closed, the
// clients the state machine counted are exactly those the transport
// accepted; every client expected at a stage and not accepted is reported
// dropped at it, and no accepted client is; the result's survivors are
// the accepted masked inputs and its sum is theirs.
func checkBook(t *testing.T, n int, stages []pb.Stage, rep *RoundReport, b roundBook) {
	expected := ids(n)
	for _, st := range stages {
		counted, closed := b.counted[st]
		if !closed {
			break // the round aborted at st
		}
		acc := slices.Sorted(maps.Keys(b.accepted[st]))
		for _, id := range expected {
			_, ok := b.accepted[st][id]
			if ok {
				assert.NotEqual(t, st, rep.DroppedAt[id], "round %d: client %d accepted and dropped at %v", rep.Round, id, st)
			} else {
				assert.Equal(t, st, rep.DroppedAt[id], "round %d: client %d expected at %v, not accepted, not reported dropped there", rep.Round, id, st)
			}
		}
		assert.Subset(t, expected, acc, "round %d stage %v: accepted clients that were not expected", rep.Round, st)
		if st == pb.Stage_STAGE_UNMASK {
			break // the result, checked below
		}
		assert.Equal(t, acc, counted, "round %d stage %v: clients the state machine counted vs clients accepted", rep.Round, st)
		expected = counted
	}
	for id, st := range rep.DroppedAt {
		_, ok := b.accepted[st][id]
		assert.False(t, ok, "round %d: client %d reported dropped at %v but accepted there", rep.Round, id, st)
	}
	if rep.Result != nil {
		masked := slices.Sorted(maps.Keys(b.accepted[pb.Stage_STAGE_MASKED_INPUT]))
		assert.Equal(t, masked, rep.Result.Survivors, "round %d: survivors vs accepted masked inputs", rep.Round)
		assert.Equal(t, plainSum(rep.Result.Survivors, rep.Round, len(rep.Result.Sum)), rep.Result.Sum, "round %d sum", rep.Round)
	}
}

var semiHonestStages = []pb.Stage{pb.Stage_STAGE_ADVERTISE, pb.Stage_STAGE_SHARE_KEYS, pb.Stage_STAGE_MASKED_INPUT, pb.Stage_STAGE_UNMASK}

// TestHandlersRunConcurrently runs a round of the malicious model (every
// message signed, so every Handle verifies an Ed25519 signature) with 10
// clients and shows that the state machine handles messages of different
// clients at the same time: the first advert held in the state machine is
// joined there by a second (impossible while messages are handled under
// the server's lock). The sum is the plain sum and every message reached
// the state machine once.
func TestHandlersRunConcurrently(t *testing.T) {
	const n, dim = 10, 500
	beacon := []byte("beacon for the concurrency test")
	cfg := baseConfig(n, dim, 1)
	cfg.StageTimeout = 30 * time.Second // stages close when all are in
	c := newHandleCounter()
	var once sync.Once
	joined := false
	c.gate = func(stage pb.Stage, _ int) {
		if stage != pb.Stage_STAGE_ADVERTISE {
			return
		}
		once.Do(func() { // the first advert waits for a second to join it
			joined = waitFor(20*time.Second, func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.now >= 2
			})
		})
	}
	h, confs, keys, roster := maliciousHarnessWith(t, cfg, beacon, func(*Server) *serverHooks { return &serverHooks{handle: c.handle} })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, cc *ClientConfig) {
		cc.TLS, cc.Identity, cc.RequireMalicious = confs[id], keys[id], true
		cc.Roster, cc.SessionSeed = roster, BeaconSeeds(beacon, roster)
	})
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	require.NotNil(t, rep.Result)
	assert.Empty(t, rep.DroppedAt)
	assert.Equal(t, ids(n), rep.Result.Survivors)
	assert.Equal(t, plainSum(ids(n), 1, dim+1), rep.Result.Sum)

	calls, most := c.snapshot()
	assert.True(t, joined, "no second message entered the state machine while the first was in it")
	assert.GreaterOrEqual(t, most, 2, "most concurrent state-machine calls")
	t.Logf("most concurrent state-machine calls: %d", most)
	for _, st := range clientStages {
		for id := range n {
			assert.Equal(t, 1, calls[st][id], "stage %v client %d: state-machine calls", st, id)
		}
	}
}

// TestStageCloseRace: messages race their stage's deadline while others
// are in the state machine. Round 1 is staged exactly: client 0's advert
// is held in the state machine past the deadline, so the stage is closing
// when client 7 sends its advert; client 7 is refused (and reported
// dropped), client 0's advert, recorded while the stage closes, is
// counted and accepted. In rounds 2 and 3 three clients send near the
// deadline of a stage while every call of the state machine is slowed
// down. In every round the transport's accepted clients are exactly those
// the state machine counted, every client refused is reported dropped, no
// client is both, and the sum is the plain sum of the counted inputs.
func TestStageCloseRace(t *testing.T) {
	const n, dim, rounds = 10, 50, 3
	const timeout = 2 * time.Second
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
		return []byte("model after round"), nil
	}
	h = newHarness(t, cfg, Limits{})

	// late[round][id] is when, after its stage's message is due, a client
	// sends it: near the deadline.
	late := map[uint64]map[int]time.Duration{
		2: {1: timeout - 90*time.Millisecond, 2: timeout - 50*time.Millisecond, 3: timeout - 20*time.Millisecond},
		3: {4: timeout - 70*time.Millisecond, 5: timeout - 40*time.Millisecond, 6: timeout + 10*time.Millisecond},
	}
	lateStage := map[uint64]pb.Stage{2: pb.Stage_STAGE_SHARE_KEYS, 3: pb.Stage_STAGE_MASKED_INPUT}
	refused7 := make(chan error, 1)
	var inFlightAtClose atomic.Int32 // calls of rounds 2 and 3 still running when their stage began to close
	sawClosing := false
	c := newHandleCounter()
	c.gate = func(stage pb.Stage, id int) {
		h.srv.mu.Lock()
		round := h.srv.cur.round
		h.srv.mu.Unlock()
		switch {
		case round == 1 && stage == pb.Stage_STAGE_ADVERTISE && id == 0:
			// Hold client 0's advert until the deadline has passed and
			// client 7's late advert has been refused.
			sawClosing = waitFor(20*time.Second, func() bool { return closingStage(h.srv, 1, stage) })
			select {
			case <-refused7:
			case <-time.After(20 * time.Second):
			}
		case round > 1:
			d := time.Duration(id*7+int(stage)*3) % 40 * time.Millisecond
			if _, ok := late[round][id]; ok && stage == lateStage[round] {
				d = 80 * time.Millisecond // a late message stays in flight past the deadline
			}
			time.Sleep(d)
			if closingStage(h.srv, round, stage) {
				inFlightAtClose.Add(1)
			}
		}
	}
	h.srv.hooks = &serverHooks{handle: c.handle}
	h.start()

	var code7 codes.Code
	var msg7 string
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, cc *ClientConfig) {
		cc.BeforeStage = func(round uint64, st Stage) error {
			if round == 1 && id == 7 && st == pb.Stage_STAGE_ADVERTISE {
				waitFor(20*time.Second, func() bool { return closingStage(h.srv, 1, st) })
			}
			if d, ok := late[round][id]; ok && st == lateStage[round] {
				time.Sleep(d)
			}
			return nil
		}
		if id == 7 {
			first := true
			cc.DialOptions = append(cc.DialOptions, grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, conn *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				err := invoker(ctx, method, req, reply, conn, opts...)
				if sr, ok := req.(*pb.SubmitRequest); ok && first && sr.Frame.Round == 1 {
					first = false
					code7, msg7 = status.Code(err), status.Convert(err).Message()
					refused7 <- err
				}
				return err
			}))
		}
	})
	require.NoError(t, h.wait())
	errs := wait()
	for id, err := range errs {
		require.NoError(t, err, "client %d", id)
	}
	reps := h.roundReports()
	require.Len(t, reps, rounds)

	// Round 1, staged.
	assert.True(t, sawClosing, "client 0's advert was not in the state machine when its stage began to close")
	assert.Equal(t, codes.FailedPrecondition, code7, "client 7's late advert: %s", msg7)
	assert.Contains(t, msg7, "closed before client 7's message was handled")
	r1 := reps[0]
	require.NoError(t, r1.Err)
	assert.Equal(t, map[int]pb.Stage{7: pb.Stage_STAGE_ADVERTISE}, r1.DroppedAt)
	assert.Contains(t, books[1].accepted[pb.Stage_STAGE_ADVERTISE], 0)
	assert.Contains(t, books[1].counted[pb.Stage_STAGE_ADVERTISE], 0)
	assert.NotContains(t, books[1].counted[pb.Stage_STAGE_ADVERTISE], 7)

	t.Logf("rounds 2 and 3: %d state-machine calls were in flight when their stage began to close", inFlightAtClose.Load())
	calls, _ := c.snapshot()
	for _, rep := range reps {
		t.Logf("round %d: err %v, dropped %v", rep.Round, rep.Err, rep.DroppedAt)
		checkBook(t, n, semiHonestStages, rep, books[rep.Round])
	}
	// Client 7's refused advert never reached the state machine: one
	// advert per client per round (three rounds).
	for id := range n {
		want := 3
		if id == 7 {
			want = 2
		}
		assert.Equal(t, want, calls[pb.Stage_STAGE_ADVERTISE][id], "client %d: adverts handled", id)
	}
}

// TestConcurrentDuplicateSubmissions: a client's second message for a
// stage that arrives while the state machine is handling its first (a
// retry after a lost reply, or a different message) never reaches the
// state machine beside the first: it waits for the first and is answered
// as if it came after it. The same message is answered "duplicate", a
// different one AlreadyExists, and one whose first copy was refused is
// handled itself. The message accepted is the one the state machine
// recorded.
func TestConcurrentDuplicateSubmissions(t *testing.T) {
	const n, dim = 10, 30
	cfg := baseConfig(n, dim, 1)
	cfg.StageTimeout = 5 * time.Second // ShareKeys waits it out for the raw clients
	var h *harness
	var book roundBook
	cfg.OnRound = func(rep *RoundReport) ([]byte, error) {
		book = bookOf(t, h.srv, rep.Round)
		return nil, nil
	}
	h = newHarness(t, cfg, Limits{})
	held := map[int]bool{0: true, 1: true, 2: true} // the raw clients
	entered := map[int]chan struct{}{0: make(chan struct{}, 2), 1: make(chan struct{}, 2), 2: make(chan struct{}, 2)}
	release := map[int]chan struct{}{0: make(chan struct{}), 1: make(chan struct{}), 2: make(chan struct{})}
	waiting := map[int]chan struct{}{0: make(chan struct{}, 2), 1: make(chan struct{}, 2), 2: make(chan struct{}, 2)}
	c := newHandleCounter()
	c.gate = func(stage pb.Stage, id int) {
		if stage == pb.Stage_STAGE_ADVERTISE && held[id] {
			entered[id] <- struct{}{}
			<-release[id]
		}
	}
	h.srv.hooks = &serverHooks{handle: c.handle, wait: func(stage pb.Stage, id int) {
		if stage == pb.Stage_STAGE_ADVERTISE && held[id] {
			waiting[id] <- struct{}{}
		}
	}}
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	raws := make([]pb.AggregationClient, 3)
	var session []byte
	for id := range raws {
		raws[id] = h.raw(id)
		hello, err := raws[id].Hello(ctx, &pb.HelloRequest{})
		require.NoError(t, err)
		session = hello.Session
	}
	others := h.runClients(ctx, ids(n)[3:], nil)
	fr := func(st pb.Stage) *pb.Frame { return &pb.Frame{Session: session, Round: 1, Stage: st} }
	st, err := raws[0].Await(ctx, &pb.AwaitRequest{Frame: fr(pb.Stage_STAGE_CONFIG)})
	require.NoError(t, err)
	raw, err := receiveDownload(st.Recv, fr(pb.Stage_STAGE_CONFIG), 1<<20)
	require.NoError(t, err)
	var sc pb.SessionConfig
	require.NoError(t, proto.Unmarshal(raw, &sc))
	scfg, err := configFromPB(&sc)
	require.NoError(t, err)
	advert := func(id int) []byte { // a fresh, valid advert of client id
		cr, err := newClientRound(scfg, id, 1, &clientPolicy{})
		require.NoError(t, err)
		b, err := cr.advertise()
		require.NoError(t, err)
		return b
	}

	type answer struct {
		dup bool
		err error
	}
	submit := func(id int, payload []byte) chan answer {
		ch := make(chan answer, 1)
		go func() {
			r, err := raws[id].Submit(ctx, &pb.SubmitRequest{Frame: fr(pb.Stage_STAGE_ADVERTISE), Payload: payload})
			ch <- answer{r.GetDuplicate(), err}
		}()
		return ch
	}
	// race sends first, and second once first is in the state machine;
	// first is let out once second waits for it.
	race := func(id int, first, second []byte) (answer, answer) {
		a := submit(id, first)
		<-entered[id]
		b := submit(id, second)
		<-waiting[id]
		close(release[id])
		return <-a, <-b
	}

	a0 := advert(0)
	first, second := race(0, a0, a0)
	require.NoError(t, first.err)
	require.NoError(t, second.err)
	assert.False(t, first.dup)
	assert.True(t, second.dup, "the same advert sent while the first was handled")

	b1, b1x := advert(1), advert(1)
	require.NotEqual(t, b1, b1x)
	first, second = race(1, b1, b1x)
	require.NoError(t, first.err)
	assert.Equal(t, codes.AlreadyExists, status.Code(second.err), "a different advert sent while the first was handled: %v", second.err)

	bad := fakeMessage(len(a0), a0[1], 2) // client 2's header, no valid advert
	c2 := advert(2)
	first, second = race(2, bad, c2)
	assert.Equal(t, codes.FailedPrecondition, status.Code(first.err), "%v", first.err)
	assert.ErrorContains(t, first.err, "bound to another session")
	require.NoError(t, second.err, "the valid advert that waited for a refused one")
	assert.False(t, second.dup)

	require.NoError(t, h.wait())
	for id, err := range others() {
		require.NoError(t, err, "client %d", id)
	}
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	calls, _ := c.snapshot()
	adverts := calls[pb.Stage_STAGE_ADVERTISE]
	assert.Equal(t, 1, adverts[0], "client 0: the same advert twice at once")
	assert.Equal(t, 1, adverts[1], "client 1: two adverts at once")
	assert.Equal(t, 2, adverts[2], "client 2: a refused advert, then a valid one that waited")
	for id := 3; id < n; id++ {
		assert.Equal(t, 1, adverts[id], "client %d", id)
	}
	// The transport accepted, and the state machine recorded, the first
	// advert of clients 0 and 1 and the valid one of client 2.
	acc := book.accepted[pb.Stage_STAGE_ADVERTISE]
	assert.Equal(t, sha256.Sum256(a0), acc[0])
	assert.Equal(t, sha256.Sum256(b1), acc[1])
	assert.Equal(t, sha256.Sum256(c2), acc[2])
	var list secagg.AdvertList
	require.NoError(t, list.UnmarshalBinary(book.outputs[pb.Stage_STAGE_ADVERTISE][3]))
	recorded := map[int][]byte{}
	for _, a := range list.Adverts {
		b, err := a.MarshalBinary()
		require.NoError(t, err)
		recorded[int(a.Client)] = b
	}
	assert.Equal(t, a0, recorded[0])
	assert.Equal(t, b1, recorded[1])
	assert.Equal(t, c2, recorded[2])
	// The raw clients go no further: dropped at ShareKeys; the others'
	// sum is exact.
	checkBook(t, n, semiHonestStages, rep, book)
	assert.Equal(t, map[int]pb.Stage{0: pb.Stage_STAGE_SHARE_KEYS, 1: pb.Stage_STAGE_SHARE_KEYS, 2: pb.Stage_STAGE_SHARE_KEYS}, rep.DroppedAt)
	assert.True(t, strings.Contains(h.logs.String(), `"code":"AlreadyExists"`), "the conflict is logged as refused")
}

// TestCancelWithMessageInFlight: the run ends (its context is cancelled)
// while client 0's advert is in the state machine and a retry of it
// waits. Run returns only once the advert is done, with the context's
// error; both calls are answered (the advert, then its retry as a
// duplicate), and a client awaiting the stage learns that the round
// aborted: nothing is left waiting.
func TestCancelWithMessageInFlight(t *testing.T) {
	const n, dim = 3, 20
	cfg := baseConfig(n, dim, 1)
	cfg.StageTimeout = 30 * time.Second
	h := newHarness(t, cfg, Limits{})
	entered, release, waiting := make(chan struct{}, 1), make(chan struct{}), make(chan struct{}, 1)
	h.srv.hooks = &serverHooks{
		handle: func(stage pb.Stage, id int) func() {
			if stage == pb.Stage_STAGE_ADVERTISE && id == 0 {
				entered <- struct{}{}
				<-release
			}
			return func() {}
		},
		wait: func(pb.Stage, int) { waiting <- struct{}{} },
	}
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raws := make([]pb.AggregationClient, n)
	var session []byte
	for id := range n {
		raws[id] = h.raw(id)
		hello, err := raws[id].Hello(ctx, &pb.HelloRequest{})
		require.NoError(t, err)
		session = hello.Session
	}
	fr := func(st pb.Stage) *pb.Frame { return &pb.Frame{Session: session, Round: 1, Stage: st} }
	st, err := raws[0].Await(ctx, &pb.AwaitRequest{Frame: fr(pb.Stage_STAGE_CONFIG)})
	require.NoError(t, err)
	raw, err := receiveDownload(st.Recv, fr(pb.Stage_STAGE_CONFIG), 1<<20)
	require.NoError(t, err)
	var sc pb.SessionConfig
	require.NoError(t, proto.Unmarshal(raw, &sc))
	scfg, err := configFromPB(&sc)
	require.NoError(t, err)
	cr, err := newClientRound(scfg, 0, 1, &clientPolicy{})
	require.NoError(t, err)
	advert, err := cr.advertise()
	require.NoError(t, err)

	type answer struct {
		dup bool
		err error
	}
	submit := func() chan answer {
		ch := make(chan answer, 1)
		go func() {
			r, err := raws[0].Submit(ctx, &pb.SubmitRequest{Frame: fr(pb.Stage_STAGE_ADVERTISE), Payload: advert})
			ch <- answer{r.GetDuplicate(), err}
		}()
		return ch
	}
	first := submit()
	<-entered
	second := submit()
	<-waiting
	awaited := make(chan error, 1)
	go func() {
		st, err := raws[1].Await(ctx, &pb.AwaitRequest{Frame: fr(pb.Stage_STAGE_ADVERTISE)})
		if err == nil {
			_, err = receiveDownload(st.Recv, fr(pb.Stage_STAGE_ADVERTISE), 1<<20)
		}
		awaited <- err
	}()

	h.cancel()
	select {
	case err := <-h.runErr:
		t.Fatalf("Run returned (%v) while a message was in the state machine", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	require.ErrorIs(t, h.wait(), context.Canceled)
	a, b := <-first, <-second
	require.NoError(t, a.err)
	assert.False(t, a.dup)
	require.NoError(t, b.err)
	assert.True(t, b.dup)
	err = <-awaited
	require.Error(t, err)
	assert.Contains(t, err.Error(), "round 1 aborted")
}
