package secagg_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
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
	seed := sha256.Sum256([]byte("privml/secagg/test/review-concurrency/" + name))
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
		a, err := clients[i].Advertise()
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

// TestReviewUnmaskAfterFinishIsRefused: Finish closes the Unmasking
// round, so an unmask response that comes after it (late on its
// connection, or held back on purpose by a client) must be refused with
// ErrRound, neither recorded nor allowed to panic the server.
func TestReviewUnmaskAfterFinishIsRefused(t *testing.T) {
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

// TestReviewUnmaskRacesFinish hands the last unmask responses to the
// server from several goroutines while another runs Finish: each must be
// recorded before Finish or refused with ErrRound, never panic, and the
// sum stays the plain sum.
func TestReviewUnmaskRacesFinish(t *testing.T) {
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

// TestReviewAdvertErrorKindUnchanged: an advert with a refused key (of
// small order) whose other key repeats another client's was refused with
// ErrMalformed when the handlers ran one at a time (keys are checked
// before their freshness); concurrency must not change the error a
// caller sees for the same message.
func TestReviewAdvertErrorKindUnchanged(t *testing.T) {
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
			require.NoError(t, rs.srv.HandleAdvert(a1), "the refused adverts left no state")
		})
	}
}

// TestReviewTwoSignedMessagesOfOneClientRace: a malicious client signs
// two different, equally valid ShareKeys messages (same keys, different
// secrets) and, later, two different masked inputs, and sends both
// copies of each over several connections at once. Exactly one of each
// must be recorded, whole: the envelopes routed to its neighbours are
// those of the recorded ShareKeys, the commitment too (else the
// self-mask seed fails to verify at Finish), and the sum holds the
// recorded input once. The session must end with the plain sum of the
// recorded inputs.
func TestReviewTwoSignedMessagesOfOneClientRace(t *testing.T) {
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
