package secagg_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
	"github.com/privml/privml/internal/prg"
)

// concurrentSession drives a session whose client messages are handed to
// the server from many goroutines at once, as a server that reads many
// connections does.
type concurrentSession struct {
	t       *testing.T
	p       *secagg.Params
	srv     *secagg.Server
	clients []*secagg.Client
}

// flood hands every message to the server from 8 goroutines, each message
// three times (the original and two copies racing it, as retries over
// other connections would) plus, in the malicious model, one forgery
// (signature byte flipped) racing them. It returns the clients whose
// message was recorded: exactly one copy of each must be accepted, the
// other copies refused with ErrReplay, every forgery with ErrAuth (or
// ErrReplay when the genuine message got in first).
func flood[M any](cs *concurrentSession, msgs map[int]M, handle func(M) error, forge func(M) M) []int {
	t := cs.t
	type job struct {
		id     int
		m      M
		forged bool
	}
	var jobs []job
	for id, m := range msgs {
		for range 3 {
			jobs = append(jobs, job{id, m, false})
		}
		if forge != nil {
			jobs = append(jobs, job{id, forge(m), true})
		}
	}
	rand.New(rand.NewPCG(uint64(len(jobs)), 5)).Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	accepted := make([]atomic.Int32, cs.p.NumClients())
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				j := jobs[i]
				err := handle(j.m)
				switch {
				case err == nil && !j.forged:
					accepted[j.id].Add(1)
				case err == nil && j.forged:
					mu.Lock()
					failures = append(failures, fmt.Sprintf("forged message of client %d accepted", j.id))
					mu.Unlock()
				case j.forged && !errors.Is(err, secagg.ErrAuth) && !errors.Is(err, secagg.ErrReplay):
					mu.Lock()
					failures = append(failures, fmt.Sprintf("forged message of client %d: %v", j.id, err))
					mu.Unlock()
				case !j.forged && !errors.Is(err, secagg.ErrReplay):
					mu.Lock()
					failures = append(failures, fmt.Sprintf("copy of client %d's message: %v", j.id, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
	var in []int
	for id := range msgs {
		require.EqualValues(t, 1, accepted[id].Load(), "client %d: copies accepted", id)
		in = append(in, id)
	}
	slices.Sort(in)
	return in
}

// TestConcurrentHandlers runs sessions in both threat models, on a sparse
// graph and on the complete one, with every client message handed to the
// server from eight goroutines, three copies of each and a forgery racing
// them. The result must be the plain sum of the survivors' inputs and
// equal that of the same session fed one message at a time; run under
// -race, it also checks that the handlers share no unguarded state.
func TestConcurrentHandlers(t *testing.T) {
	for _, c := range []struct {
		n, degree int
		threat    secagg.Threat
	}{
		{40, 0, secagg.SemiHonest},
		{40, 0, secagg.Malicious},
		{14, 13, secagg.SemiHonest},
		{14, 13, secagg.Malicious},
	} {
		t.Run(fmt.Sprintf("n=%d/k=%d/%s", c.n, c.degree, c.threat), func(t *testing.T) {
			seq := runConcurrentSession(t, c.n, c.degree, c.threat, false)
			par := runConcurrentSession(t, c.n, c.degree, c.threat, true)
			require.Equal(t, seq, par, "concurrent handling changed the result")
		})
	}
}

func runConcurrentSession(t *testing.T, n, degree int, threat secagg.Threat, concurrent bool) *secagg.Result {
	t.Helper()
	seed := sha256.Sum256(fmt.Appendf(nil, "privml/secagg/test/concurrent/%d/%d/%s", n, degree, threat))
	cfg := secagg.Config{NumClients: n, Dim: 5000, SideDim: 1, Bits: 32, MaxAbs: 1000, MaxSideAbs: 10,
		DropoutRate: 0.3, CorruptRate: 0.05, Degree: degree, Threat: threat, SessionSeed: seed}
	var priv []ed25519.PrivateKey
	if threat == secagg.Malicious {
		pub, pk, err := sim.NewIdentities(n, prg.NewReader(&seed))
		require.NoError(t, err)
		cfg.Identities, priv = pub, pk
	}
	p, err := secagg.NewParams(cfg)
	require.NoError(t, err)
	srv, err := secagg.NewServer(p)
	require.NoError(t, err)
	cs := &concurrentSession{t: t, p: p, srv: srv, clients: make([]*secagg.Client, n)}
	for i := range cs.clients {
		cseed := sha256.Sum256(append(seed[:], byte(i), byte(i>>8)))
		opts := &secagg.ClientOptions{InsecureTestRand: prg.NewReader(&cseed), InsecureAllowReplay: true}
		if priv != nil {
			opts.Identity = priv[i]
			opts.Policy = secagg.ClientPolicy{Roster: secagg.RosterDigest(cfg.Identities), SessionSeed: &seed}
		}
		cs.clients[i], err = secagg.NewClient(p, i, opts)
		require.NoError(t, err)
	}
	// run hands msgs to the server, concurrently with copies and
	// forgeries or one at a time, and returns who got in.
	run := func(msgs map[int]any, handle func(any) error, forge func(any) any) []int {
		if concurrent {
			if threat != secagg.Malicious {
				forge = nil
			}
			return flood(cs, msgs, handle, forge)
		}
		var in []int
		for id := range n {
			if m, ok := msgs[id]; ok {
				require.NoError(t, handle(m))
				in = append(in, id)
			}
		}
		return in
	}
	flip := func(sig []byte) []byte {
		s := slices.Clone(sig)
		if len(s) > 0 {
			s[7] ^= 1
		}
		return s
	}
	// One client drops before each of the first three rounds.
	dropAt := map[int]int{3: 0, 5: 1, 7: 2}
	alive := func(id, round int) bool { r, gone := dropAt[id]; return !gone || round < r }

	msgs := map[int]any{}
	for id, c := range cs.clients {
		if alive(id, 0) {
			a, err := c.Advertise()
			require.NoError(t, err)
			msgs[id] = a
		}
	}
	run(msgs, func(m any) error { return srv.HandleAdvert(m.(*secagg.KeyAdvert)) },
		func(m any) any { a := *m.(*secagg.KeyAdvert); a.Signature = flip(a.Signature); return &a })
	lists, err := srv.FinishAdvertise()
	require.NoError(t, err)

	msgs = map[int]any{}
	for id, l := range lists {
		if alive(id, 1) {
			m, err := cs.clients[id].ShareKeys(l)
			require.NoError(t, err)
			msgs[id] = m
		}
	}
	run(msgs, func(m any) error { return srv.HandleShareKeys(m.(*secagg.ShareKeys)) },
		func(m any) any { s := *m.(*secagg.ShareKeys); s.Signature = flip(s.Signature); return &s })
	bundles, err := srv.FinishShareKeys()
	require.NoError(t, err)

	msgs = map[int]any{}
	x := make([]int64, p.Length())
	for id, b := range bundles {
		if alive(id, 2) {
			fillInput(id, x)
			m, err := cs.clients[id].MaskInput(b, x)
			require.NoError(t, err)
			msgs[id] = m
		}
	}
	survivors := run(msgs, func(m any) error { return srv.HandleMaskedInput(m.(*secagg.MaskedInput)) },
		func(m any) any { s := *m.(*secagg.MaskedInput); s.Signature = flip(s.Signature); return &s })
	require.NoError(t, srv.FinishMaskedInput())

	if threat == secagg.Malicious {
		reqs, err := srv.ConsistencyRequests()
		require.NoError(t, err)
		msgs = map[int]any{}
		for id, q := range reqs {
			m, err := cs.clients[id].Consistency(q)
			require.NoError(t, err)
			msgs[id] = m
		}
		run(msgs, func(m any) error { return srv.HandleConsistency(m.(*secagg.ConsistencyReply)) },
			func(m any) any { s := *m.(*secagg.ConsistencyReply); s.Signature = flip(s.Signature); return &s })
		require.NoError(t, srv.FinishConsistency())
	}
	reqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	msgs = map[int]any{}
	for id, q := range reqs {
		m, err := cs.clients[id].Unmask(q)
		require.NoError(t, err)
		msgs[id] = m
	}
	run(msgs, func(m any) error { return srv.HandleUnmask(m.(*secagg.UnmaskResponse)) },
		func(m any) any { s := *m.(*secagg.UnmaskResponse); s.Signature = flip(s.Signature); return &s })
	res, err := srv.Finish()
	require.NoError(t, err)

	require.Equal(t, survivors, res.Survivors)
	want := make([]int64, p.Length())
	for _, id := range survivors {
		fillInput(id, x)
		for j, v := range x {
			want[j] += v
		}
	}
	assert.Equal(t, want, res.Sum, "sum differs from the plain sum of the survivors")
	return res
}

// fillInput writes client id's input, within MaxAbs 1000 and MaxSideAbs
// 10 (the last coordinate), into x.
func fillInput(id int, x []int64) {
	r := rand.New(rand.NewPCG(uint64(id), 17))
	for j := range x {
		lim := uint64(1000)
		if j == len(x)-1 {
			lim = 10
		}
		x[j] = int64(r.Uint64N(2*lim+1)) - int64(lim)
	}
}

// TestHandlersRaceTheRoundClose hands masked inputs to the server from
// eight goroutines while another closes the round: every input the
// server accepted must be in the sum and every other one refused with
// ErrRound, whatever the interleaving. The session then completes and the
// sum is the plain sum of exactly the accepted inputs.
func TestHandlersRaceTheRoundClose(t *testing.T) {
	for attempt := range 5 {
		t.Run(fmt.Sprint(attempt), func(t *testing.T) {
			raceRoundClose(t, uint64(attempt))
		})
	}
}

func raceRoundClose(t *testing.T, attempt uint64) {
	const n = 30
	seed := sha256.Sum256(fmt.Appendf(nil, "privml/secagg/test/close-race/%d", attempt))
	cfg := secagg.Config{NumClients: n, Dim: 20000, Bits: 32, MaxAbs: 1000, DropoutRate: 0.4, CorruptRate: 0.05,
		Threat: secagg.SemiHonest, SessionSeed: seed}
	p, err := secagg.NewParams(cfg)
	require.NoError(t, err)
	srv, err := secagg.NewServer(p)
	require.NoError(t, err)
	clients := make([]*secagg.Client, n)
	for i := range clients {
		cseed := sha256.Sum256(append(seed[:], byte(i)))
		clients[i], err = secagg.NewClient(p, i, &secagg.ClientOptions{InsecureTestRand: prg.NewReader(&cseed)})
		require.NoError(t, err)
	}
	bundles := shareKeys(t, srv, clients)
	masked := make([]*secagg.MaskedInput, n)
	x := make([]int64, p.Length())
	for i, c := range clients {
		fillInput(i, x)
		masked[i], err = c.MaskInput(bundles[i], x)
		require.NoError(t, err)
	}
	// The first 20 inputs go in before the close can start, so that the
	// round has enough inputs to close; the other 10 race it.
	for i := range 20 {
		require.NoError(t, srv.HandleMaskedInput(masked[i]))
	}
	accepted := make([]bool, n)
	for i := range 20 {
		accepted[i] = true
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	next.Store(20)
	errs := make([]error, n)
	start := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			<-start
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				errs[i] = srv.HandleMaskedInput(masked[i])
			}
		})
	}
	var closeErr error
	wg.Go(func() {
		<-start
		closeErr = srv.FinishMaskedInput()
	})
	close(start)
	wg.Wait()
	require.NoError(t, closeErr)
	for i := 20; i < n; i++ {
		if errs[i] == nil {
			accepted[i] = true
		} else {
			require.ErrorIs(t, errs[i], secagg.ErrRound, "client %d", i)
		}
	}
	reqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	for id, q := range reqs {
		require.True(t, accepted[id], "client %d was refused but is asked to unmask", id)
		m, err := clients[id].Unmask(q)
		require.NoError(t, err)
		require.NoError(t, srv.HandleUnmask(m))
	}
	res, err := srv.Finish()
	require.NoError(t, err)
	want := make([]int64, p.Length())
	var in []int
	for i, ok := range accepted {
		if !ok {
			continue
		}
		in = append(in, i)
		fillInput(i, x)
		for j, v := range x {
			want[j] += v
		}
	}
	require.Equal(t, in, res.Survivors)
	require.Equal(t, want, res.Sum)
}

// shareKeys runs the advert and key-sharing rounds of every client, one
// message at a time, and returns the share bundles.
func shareKeys(t *testing.T, srv *secagg.Server, clients []*secagg.Client) map[int]*secagg.ShareBundle {
	t.Helper()
	for _, c := range clients {
		a, err := c.Advertise()
		require.NoError(t, err)
		require.NoError(t, srv.HandleAdvert(a))
	}
	lists, err := srv.FinishAdvertise()
	require.NoError(t, err)
	for i, c := range clients {
		m, err := c.ShareKeys(lists[i])
		require.NoError(t, err)
		require.NoError(t, srv.HandleShareKeys(m))
	}
	bundles, err := srv.FinishShareKeys()
	require.NoError(t, err)
	return bundles
}
