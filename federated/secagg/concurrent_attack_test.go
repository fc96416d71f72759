package secagg_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
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

// revSession is a small session for the concurrency attacks below: its
// clients draw their randomness from streams that tests can replay, so
// that two client objects can reach the same state (and sign two
// different, equally valid messages of one client).
type revSession struct {
	t    *testing.T
	cfg  secagg.Config
	p    *secagg.Params
	srv  *secagg.Server
	seed [32]byte
	priv []ed25519.PrivateKey
}

func newRevSession(t *testing.T, name string, n, degree int, threat secagg.Threat) *revSession {
	t.Helper()
	seed := sha256.Sum256([]byte("privml/secagg/test/attack-concurrency/" + name))
	cfg := secagg.Config{NumClients: n, Dim: 16, SideDim: 1, Bits: 32, MaxAbs: 1000, MaxSideAbs: 10,
		DropoutRate: 0.3, CorruptRate: 0.05, Degree: degree, Threat: threat, SessionSeed: seed}
	rs := &revSession{t: t, seed: seed}
	if threat == secagg.Malicious {
		pub, pk, err := sim.NewIdentities(n, prg.NewReader(&seed))
		require.NoError(t, err)
		cfg.Identities, rs.priv = pub, pk
	}
	var err error
	rs.p, err = secagg.NewParams(cfg)
	require.NoError(t, err)
	rs.srv, err = secagg.NewServer(rs.p)
	require.NoError(t, err)
	rs.cfg = cfg
	return rs
}

// stream returns client i's randomness: variant 0 is one stream; variant
// v > 0 repeats its first keyBytes bytes (the advert's keys) and then
// differs, so the variants advertise the same keys and share different
// secrets.
func (rs *revSession) stream(i, variant, keyBytes int) io.Reader {
	s := sha256.Sum256(append(rs.seed[:], byte(i), byte(i>>8), 0))
	if variant == 0 {
		return prg.NewReader(&s)
	}
	d := sha256.Sum256(append(rs.seed[:], byte(i), byte(i>>8), byte(variant)))
	return io.MultiReader(io.LimitReader(prg.NewReader(&s), int64(keyBytes)), prg.NewReader(&d))
}

func (rs *revSession) client(i int, r io.Reader) *secagg.Client {
	opts := &secagg.ClientOptions{InsecureTestRand: r, InsecureAllowReplay: true}
	if rs.priv != nil {
		opts.Identity = rs.priv[i]
		opts.Policy = secagg.ClientPolicy{Roster: secagg.RosterDigest(rs.cfg.Identities), SessionSeed: &rs.seed}
	}
	c, err := secagg.NewClient(rs.p, i, opts)
	require.NoError(rs.t, err)
	return c
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	k, err := c.r.Read(b)
	c.n += k
	return k, err
}

// advertBytes returns how many bytes of randomness Advertise draws.
func (rs *revSession) advertBytes() int {
	cr := &countingReader{r: rs.stream(0, 0, 0)}
	_, err := rs.client(0, cr).Advertise()
	require.NoError(rs.t, err)
	return cr.n
}

// upToUnmask runs every client through the masked inputs, one message
// at a time, and returns the clients, their unmask responses and the
// plain sum of all inputs.
func (rs *revSession) upToUnmask() ([]*secagg.Client, map[int]*secagg.UnmaskResponse, []int64) {
	t, srv, n := rs.t, rs.srv, rs.cfg.NumClients
	clients := make([]*secagg.Client, n)
	for i := range clients {
		clients[i] = rs.client(i, rs.stream(i, 0, 0))
	}
	bundles := shareKeys(t, srv, clients)
	x := make([]int64, rs.p.Length())
	want := make([]int64, rs.p.Length())
	for i, c := range clients {
		fillInput(i, x)
		m, err := c.MaskInput(bundles[i], x)
		require.NoError(t, err)
		require.NoError(t, srv.HandleMaskedInput(m))
		for j, v := range x {
			want[j] += v
		}
	}
	require.NoError(t, srv.FinishMaskedInput())
	if rs.cfg.Threat == secagg.Malicious {
		reqs, err := srv.ConsistencyRequests()
		require.NoError(t, err)
		for id, q := range reqs {
			m, err := clients[id].Consistency(q)
			require.NoError(t, err)
			require.NoError(t, srv.HandleConsistency(m))
		}
		require.NoError(t, srv.FinishConsistency())
	}
	reqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	resp := make(map[int]*secagg.UnmaskResponse, len(reqs))
	for id, q := range reqs {
		resp[id], err = clients[id].Unmask(q)
		require.NoError(t, err)
	}
	return clients, resp, want
}

// safeCall runs f and turns a panic into an error, so that a panic in a
// racing goroutine fails the test instead of killing the process.
func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// TestConcurrencyUnmaskAfterFinishIsRefused: Finish closes the Unmasking
// round, so an unmask response that comes after it (late on its
// connection, or held back on purpose by a client) must be refused with
// ErrRound, neither recorded nor allowed to panic the server.
func TestConcurrencyUnmaskAfterFinishIsRefused(t *testing.T) {
	for _, threat := range []secagg.Threat{secagg.SemiHonest, secagg.Malicious} {
		t.Run(fmt.Sprint(threat, "/after a successful Finish"), func(t *testing.T) {
			rs := newRevSession(t, "late-unmask-ok", 8, 7, threat)
			_, resp, want := rs.upToUnmask()
			const late = 5
			for id := range 8 {
				if id != late {
					require.NoError(t, rs.srv.HandleUnmask(resp[id]))
				}
			}
			res, err := rs.srv.Finish()
			require.NoError(t, err)
			require.Equal(t, want, res.Sum)
			err = safeCall(func() error { return rs.srv.HandleUnmask(resp[late]) })
			require.ErrorIs(t, err, secagg.ErrRound, "late unmask response after Finish")
		})
		t.Run(fmt.Sprint(threat, "/after a failed Finish"), func(t *testing.T) {
			rs := newRevSession(t, "late-unmask-fail", 8, 7, threat)
			_, resp, _ := rs.upToUnmask()
			require.NoError(t, rs.srv.HandleUnmask(resp[0]))
			_, err := rs.srv.Finish()
			require.ErrorIs(t, err, secagg.ErrTooFewClients)
			err = safeCall(func() error { return rs.srv.HandleUnmask(resp[1]) })
			require.ErrorIs(t, err, secagg.ErrRound, "unmask response after a failed Finish is recorded")
		})
	}
}

// TestConcurrencyUnmaskRacesFinish hands the last unmask responses to the
// server from several goroutines while another runs Finish: each must be
// recorded before Finish or refused with ErrRound, never panic, and the
// sum stays the plain sum.
func TestConcurrencyUnmaskRacesFinish(t *testing.T) {
	for attempt := range 4 {
		t.Run(fmt.Sprint(attempt), func(t *testing.T) {
			rs := newRevSession(t, fmt.Sprint("unmask-race-", attempt), 10, 9, secagg.SemiHonest)
			_, resp, want := rs.upToUnmask()
			early := rs.p.Threshold() + 1
			for id := range early {
				require.NoError(t, rs.srv.HandleUnmask(resp[id]))
			}
			errs := make([]error, 10)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for id := early; id < 10; id++ {
				wg.Go(func() {
					<-start
					errs[id] = safeCall(func() error { return rs.srv.HandleUnmask(resp[id]) })
				})
			}
			var res *secagg.Result
			var ferr error
			wg.Go(func() {
				<-start
				ferr = safeCall(func() (err error) { res, err = rs.srv.Finish(); return err })
			})
			close(start)
			wg.Wait()
			require.NoError(t, ferr)
			require.Equal(t, want, res.Sum)
			for id := early; id < 10; id++ {
				if errs[id] != nil {
					assert.ErrorIs(t, errs[id], secagg.ErrRound, "client %d", id)
				}
			}
		})
	}
}

// TestConcurrencyAdvertErrorKindUnchanged: an advert with a refused key (of
// small order) whose other key repeats another client's was refused with
// ErrMalformed when the handlers ran one at a time (keys are checked
// before their freshness); concurrency must not change the error a
// caller sees for the same message.
func TestConcurrencyAdvertErrorKindUnchanged(t *testing.T) {
	for _, threat := range []secagg.Threat{secagg.SemiHonest, secagg.Malicious} {
		t.Run(threat.String(), func(t *testing.T) {
			rs := newRevSession(t, "advert-kind", 6, 5, threat)
			a0, err := rs.client(0, rs.stream(0, 0, 0)).Advertise()
			require.NoError(t, err)
			require.NoError(t, rs.srv.HandleAdvert(a0))
			a1, err := rs.client(1, rs.stream(1, 0, 0)).Advertise()
			require.NoError(t, err)
			var zero [32]byte // u = 0: a point of small order
			bad := *a1
			bad.CipherKey, bad.MaskKey = zero, a0.MaskKey
			require.ErrorIs(t, rs.srv.HandleAdvert(&bad), secagg.ErrMalformed, "cipher key of small order, mask key repeated")
			bad = *a1
			bad.CipherKey, bad.MaskKey = a0.CipherKey, zero
			require.ErrorIs(t, rs.srv.HandleAdvert(&bad), secagg.ErrMalformed, "cipher key repeated, mask key of small order")
			if threat == secagg.Malicious {
				// A bad signature comes after the key checks.
				bad = *a1
				bad.MaskKey = a0.MaskKey
				bad.Signature = slices.Clone(a1.Signature)
				bad.Signature[0] ^= 1
				require.ErrorIs(t, rs.srv.HandleAdvert(&bad), secagg.ErrReplay, "repeated key, bad signature")
				bad.MaskKey = zero
				require.ErrorIs(t, rs.srv.HandleAdvert(&bad), secagg.ErrMalformed, "small-order key, bad signature")
				bad = *a1
				bad.Signature = slices.Clone(a1.Signature)
				bad.Signature[0] ^= 1
				require.ErrorIs(t, rs.srv.HandleAdvert(&bad), secagg.ErrAuth, "bad signature")
			}
			require.NoError(t, rs.srv.HandleAdvert(a1), "the refused adverts left no state")
			bad = *a1
			bad.CipherKey = zero
			require.ErrorIs(t, rs.srv.HandleAdvert(&bad), secagg.ErrReplay, "second advert with a bad key")
		})
	}
}

// TestConcurrencyTwoSignedMessagesOfOneClientRace: a malicious client signs
// two different, equally valid ShareKeys messages (same keys, different
// secrets) and, later, two different masked inputs, and sends both
// copies of each over several connections at once. Exactly one of each
// must be recorded, whole: the envelopes routed to its neighbours are
// those of the recorded ShareKeys, the commitment too (else the
// self-mask seed fails to verify at Finish), and the sum holds the
// recorded input once. The session must end with the plain sum of the
// recorded inputs.
func TestConcurrencyTwoSignedMessagesOfOneClientRace(t *testing.T) {
	for _, c := range []struct{ n, degree int }{{12, 0}, {8, 7}} {
		t.Run(fmt.Sprintf("n=%d/k=%d", c.n, c.degree), func(t *testing.T) {
			rs := newRevSession(t, fmt.Sprint("two-signed-", c.n), c.n, c.degree, secagg.Malicious)
			raceTwoSigned(t, rs)
		})
	}
}

func raceTwoSigned(t *testing.T, rs *revSession) {
	n, srv := rs.cfg.NumClients, rs.srv
	kb := rs.advertBytes()
	// variant v of client i, driven to just before ShareKeys.
	fresh := func(i, v int) *secagg.Client {
		c := rs.client(i, rs.stream(i, v, kb))
		_, err := c.Advertise()
		require.NoError(t, err)
		return c
	}
	for i := range n {
		a0, err := rs.client(i, rs.stream(i, 0, kb)).Advertise()
		require.NoError(t, err)
		a1, err := rs.client(i, rs.stream(i, 1, kb)).Advertise()
		require.NoError(t, err)
		require.Equal(t, a0, a1, "both variants advertise the same keys")
		require.NoError(t, srv.HandleAdvert(a0))
	}
	lists, err := srv.FinishAdvertise()
	require.NoError(t, err)

	// Two ShareKeys per client, two copies of each, racing.
	share := make([][2]*secagg.ShareKeys, n)
	for i := range n {
		for v := range 2 {
			share[i][v], err = fresh(i, v).ShareKeys(lists[i])
			require.NoError(t, err)
		}
		require.NotEqual(t, share[i][0].Commitment, share[i][1].Commitment)
	}
	won := raceVariants(t, n, func(i, v int) error { return srv.HandleShareKeys(share[i][v]) })
	bundles, err := srv.FinishShareKeys()
	require.NoError(t, err)
	for j, b := range bundles {
		for _, e := range b.Envelopes {
			w := share[e.From][won[e.From]]
			k := slices.IndexFunc(w.Envelopes, func(x secagg.Envelope) bool { return x.To == uint32(j) })
			require.GreaterOrEqual(t, k, 0)
			require.Equal(t, w.Envelopes[k], e, "envelope from %d to %d is not from its recorded ShareKeys", e.From, j)
		}
	}

	// The recorded variant of each client, twice over (same state), masks
	// two different inputs; the two race.
	clients := make([]*secagg.Client, n)
	masked := make([][2]*secagg.MaskedInput, n)
	inputs := make([][2][]int64, n)
	for i := range n {
		for v := range 2 {
			c := fresh(i, won[i])
			m, err := c.ShareKeys(lists[i])
			require.NoError(t, err)
			require.Equal(t, share[i][won[i]], m, "replayed client reached the recorded state")
			x := make([]int64, rs.p.Length())
			fillInput(i+100*v, x)
			inputs[i][v] = x
			masked[i][v], err = c.MaskInput(bundles[i], x)
			require.NoError(t, err)
			if v == 0 {
				clients[i] = c
			}
		}
	}
	// Only the v=0 object continues, and it knows nothing of which input
	// got in: the sum must hold whichever did, once.
	inWon := raceVariants(t, n, func(i, v int) error { return srv.HandleMaskedInput(masked[i][v]) })
	require.NoError(t, srv.FinishMaskedInput())
	reqs, err := srv.ConsistencyRequests()
	require.NoError(t, err)
	for id, q := range reqs {
		m, err := clients[id].Consistency(q)
		require.NoError(t, err)
		require.NoError(t, srv.HandleConsistency(m))
	}
	require.NoError(t, srv.FinishConsistency())
	ureqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	for id, q := range ureqs {
		m, err := clients[id].Unmask(q)
		require.NoError(t, err)
		require.NoError(t, srv.HandleUnmask(m))
	}
	res, err := srv.Finish()
	require.NoError(t, err)
	want := make([]int64, rs.p.Length())
	for i := range n {
		for j, v := range inputs[i][inWon[i]] {
			want[j] += v
		}
	}
	require.Equal(t, want, res.Sum)
}

// raceVariants hands handle(i, v) for every client i and variant v in
// {0, 1}, twice each, from eight goroutines, and returns the variant
// recorded for each client: exactly one call per client may succeed, the
// others must get ErrReplay.
func raceVariants(t *testing.T, n int, handle func(i, v int) error) []int {
	type job struct{ i, v int }
	var jobs []job
	for rep := range 2 {
		for i := range n {
			for v := range 2 {
				jobs = append(jobs, job{i, (v + rep + i) % 2})
			}
		}
	}
	won := make([]atomic.Int32, n)
	okCount := make([]atomic.Int32, n)
	var next atomic.Int64
	var mu sync.Mutex
	var bad []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(jobs) {
					return
				}
				j := jobs[k]
				err := safeCall(func() error { return handle(j.i, j.v) })
				switch {
				case err == nil:
					okCount[j.i].Add(1)
					won[j.i].Store(int32(j.v))
				case !errors.Is(err, secagg.ErrReplay):
					mu.Lock()
					bad = append(bad, fmt.Sprintf("client %d variant %d: %v", j.i, j.v, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, bad)
	out := make([]int, n)
	for i := range n {
		require.EqualValues(t, 1, okCount[i].Load(), "client %d: messages recorded", i)
		out[i] = int(won[i].Load())
	}
	return out
}

// TestConcurrencyEveryRoundRacesItsClose runs a malicious-model session in
// which, in every round, the last clients' messages (each twice, plus
// a forgery) race the round's close, a premature call of the next
// round's close, replays of the previous round's messages, masked inputs
// on the wrong authenticated channel, and Session readers. Each message
// must be recorded before the close or refused with ErrRound (copies
// ErrReplay, forgeries ErrAuth), a refused client drops out, Session
// reads either zero or the final id, and the session ends with the plain
// sum of exactly the inputs recorded. Run it under -race.
func TestConcurrencyEveryRoundRacesItsClose(t *testing.T) {
	// The close yields spin times before it runs, so that both orders
	// come up with and without -race.
	for attempt, spin := range []int{0, 10, 100, 1000} {
		for _, degree := range []int{0, 19} {
			t.Run(fmt.Sprintf("%d/k=%d", attempt, degree), func(t *testing.T) {
				rs := newRevSession(t, fmt.Sprintf("round-close-%d-%d", attempt, degree), 20, degree, secagg.Malicious)
				raceEveryClose(t, rs, spin)
			})
		}
	}
}

// closeRace hands the messages of ids to handle: all but the last racing
// one at a time, then those (twice each, and a forgery) from goroutines
// racing closeRound, nextClose, the previous round's stale messages and
// extra. It returns the ids whose message was recorded.
type closeRace struct {
	t          *testing.T
	srv        *secagg.Server
	racing     int
	spin       int
	ids        []int
	handle     func(id int, forged bool) error
	closeRound func() error
	nextClose  func() error
	stale      []func() error
	extra      []func() error
}

func (c *closeRace) run() []int {
	t := c.t
	slices.Sort(c.ids)
	cut := len(c.ids) - c.racing
	for _, id := range c.ids[:cut] {
		require.NoError(t, c.handle(id, false))
	}
	var mu sync.Mutex
	var bad []string
	fail := func(f string, a ...any) { mu.Lock(); bad = append(bad, fmt.Sprintf(f, a...)); mu.Unlock() }
	okCount := make(map[int]*atomic.Int32)
	for _, id := range c.ids {
		okCount[id] = new(atomic.Int32)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	var closeErr error
	for _, id := range c.ids[cut:] {
		for copyNo := range 3 {
			wg.Go(func() {
				<-start
				forged := copyNo == 2
				err := safeCall(func() error { return c.handle(id, forged) })
				switch {
				case err == nil && forged:
					fail("forgery of client %d recorded", id)
				case err == nil:
					okCount[id].Add(1)
				case forged && !errors.Is(err, secagg.ErrAuth) && !errors.Is(err, secagg.ErrRound) && !errors.Is(err, secagg.ErrReplay):
					fail("forgery of client %d: %v", id, err)
				case !forged && !errors.Is(err, secagg.ErrRound) && !errors.Is(err, secagg.ErrReplay):
					fail("client %d: %v", id, err)
				}
			})
		}
	}
	for k, f := range c.stale {
		wg.Go(func() {
			<-start
			if err := safeCall(f); !errors.Is(err, secagg.ErrRound) {
				fail("stale message %d: %v", k, err)
			}
		})
	}
	for k, f := range c.extra {
		wg.Go(func() {
			<-start
			if err := safeCall(f); err != nil {
				fail("extra %d: %v", k, err)
			}
		})
	}
	wg.Go(func() {
		<-start
		if c.nextClose != nil {
			if err := safeCall(c.nextClose); !errors.Is(err, secagg.ErrRound) && !errors.Is(err, secagg.ErrTooFewClients) {
				fail("next round's close: %v", err)
			}
		}
	})
	wg.Go(func() {
		<-start
		for range c.spin {
			runtime.Gosched()
		}
		closeErr = safeCall(c.closeRound)
	})
	close(start)
	wg.Wait()
	require.Empty(t, bad)
	require.NoError(t, closeErr)
	var in []int
	for _, id := range c.ids {
		k := okCount[id].Load()
		if slices.Index(c.ids, id) < cut {
			k++
		}
		require.LessOrEqual(t, k, int32(1), "client %d recorded twice", id)
		if k == 1 {
			in = append(in, id)
		}
	}
	t.Logf("%d of %d racing clients recorded before the close", len(in)-cut, c.racing)
	return in
}

func raceEveryClose(t *testing.T, rs *revSession, spin int) {
	n, srv := rs.cfg.NumClients, rs.srv
	// Each refused client drops out: one a round (five in all, whatever
	// the interleaving) keeps every secret's holders at or above the
	// threshold on both graphs.
	const racing = 1
	flip := func(sig []byte) []byte { s := slices.Clone(sig); s[3] ^= 0x10; return s }
	clients := make([]*secagg.Client, n)
	adverts := make(map[int]*secagg.KeyAdvert)
	var ids []int
	for i := range n {
		clients[i] = rs.client(i, rs.stream(i, 0, 0))
		a, err := clients[i].Advertise()
		require.NoError(t, err)
		adverts[i] = a
		ids = append(ids, i)
	}
	// Session readers: zero until the adverts close, then the final id.
	var sessions []func() error
	var seen sync.Map
	for range 2 {
		sessions = append(sessions, func() error {
			for range 50 {
				seen.Store(srv.Session(), true)
			}
			return nil
		})
	}
	var lists map[int]*secagg.AdvertList
	in := (&closeRace{t: t, srv: srv, racing: racing, spin: spin, ids: ids,
		handle: func(id int, forged bool) error {
			a := *adverts[id]
			if forged {
				a.Signature = flip(a.Signature)
			}
			return srv.HandleAdvert(&a)
		},
		closeRound: func() (err error) { lists, err = srv.FinishAdvertise(); return err },
		nextClose:  func() error { _, err := srv.FinishShareKeys(); return err },
		extra:      sessions,
	}).run()
	require.Len(t, lists, len(in))
	seen.Range(func(k, _ any) bool {
		assert.Contains(t, [][32]byte{{}, srv.Session()}, k.([32]byte))
		return true
	})

	share := make(map[int]*secagg.ShareKeys)
	for _, id := range in {
		var err error
		share[id], err = clients[id].ShareKeys(lists[id])
		require.NoError(t, err)
	}
	var stale []func() error
	for _, id := range in[:3] {
		stale = append(stale, func() error { return srv.HandleAdvert(adverts[id]) })
	}
	var bundles map[int]*secagg.ShareBundle
	in = (&closeRace{t: t, srv: srv, racing: racing, spin: spin, ids: slices.Collect(mapKeys(share)),
		handle: func(id int, forged bool) error {
			m := *share[id]
			if forged {
				m.Signature = flip(m.Signature)
			}
			return srv.HandleShareKeys(&m)
		},
		closeRound: func() (err error) { bundles, err = srv.FinishShareKeys(); return err },
		nextClose:  srv.FinishMaskedInput,
		stale:      stale,
	}).run()
	require.Len(t, bundles, len(in))

	masked := make(map[int]*secagg.MaskedInput)
	x := make([]int64, rs.p.Length())
	for _, id := range in {
		fillInput(id, x)
		var err error
		masked[id], err = clients[id].MaskInput(bundles[id], x)
		require.NoError(t, err)
	}
	stale = nil
	for _, id := range in[:3] {
		stale = append(stale, func() error { return srv.HandleShareKeys(share[id]) })
	}
	// A masked input on another client's authenticated channel.
	wrongChannel := func(id int) func() error {
		return func() error {
			if err := srv.HandleMaskedInputFrom((id+1)%n, masked[id]); !errors.Is(err, secagg.ErrAuth) {
				return fmt.Errorf("masked input of %d on the wrong channel: %v", id, err)
			}
			return nil
		}
	}
	in = (&closeRace{t: t, srv: srv, racing: racing, spin: spin, ids: slices.Collect(mapKeys(masked)),
		handle: func(id int, forged bool) error {
			m := *masked[id]
			if forged {
				m.Signature = flip(m.Signature)
				return srv.HandleMaskedInput(&m)
			}
			if id%2 == 0 {
				return srv.HandleMaskedInputFrom(id, &m)
			}
			return srv.HandleMaskedInput(&m)
		},
		closeRound: srv.FinishMaskedInput,
		nextClose:  srv.FinishConsistency,
		stale:      stale,
		extra:      []func() error{wrongChannel(in[0]), wrongChannel(in[len(in)-1])},
	}).run()
	survivors := in

	reqs, err := srv.ConsistencyRequests()
	require.NoError(t, err)
	cons := make(map[int]*secagg.ConsistencyReply)
	for id, q := range reqs {
		cons[id], err = clients[id].Consistency(q)
		require.NoError(t, err)
	}
	stale = nil
	for _, id := range survivors[:3] {
		stale = append(stale, func() error { return srv.HandleMaskedInput(masked[id]) })
	}
	in = (&closeRace{t: t, srv: srv, racing: racing, spin: spin, ids: slices.Collect(mapKeys(cons)),
		handle: func(id int, forged bool) error {
			m := *cons[id]
			if forged {
				m.Signature = flip(m.Signature)
			}
			return srv.HandleConsistency(&m)
		},
		closeRound: srv.FinishConsistency,
		nextClose:  func() error { _, err := srv.Finish(); return err },
		stale:      stale,
	}).run()

	ureqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	require.Len(t, ureqs, len(in))
	unm := make(map[int]*secagg.UnmaskResponse)
	for id, q := range ureqs {
		unm[id], err = clients[id].Unmask(q)
		require.NoError(t, err)
	}
	stale = nil
	for _, id := range in[:3] {
		stale = append(stale, func() error { return srv.HandleConsistency(cons[id]) })
	}
	var res *secagg.Result
	(&closeRace{t: t, srv: srv, racing: racing, spin: spin, ids: slices.Collect(mapKeys(unm)),
		handle: func(id int, forged bool) error {
			m := *unm[id]
			if forged {
				m.Signature = flip(m.Signature)
			}
			return srv.HandleUnmask(&m)
		},
		closeRound: func() (err error) { res, err = srv.Finish(); return err },
		stale:      stale,
	}).run()

	require.Equal(t, survivors, res.Survivors)
	want := make([]int64, rs.p.Length())
	for _, id := range survivors {
		fillInput(id, x)
		for j, v := range x {
			want[j] += v
		}
	}
	require.Equal(t, want, res.Sum)
}

func mapKeys[V any](m map[int]V) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
