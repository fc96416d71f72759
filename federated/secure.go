package federated

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/privml/privml/federated/secagg"
)

// SecureConfig turns on secure aggregation (SecAgg+, package secagg):
// every round runs the real client and server state machines of a fresh
// session over the sampled clients, with the dropouts of the deadline
// model, and the server learns only the sum of the survivors' encoded
// updates.
type SecureConfig struct {
	// Bits is B: inputs are summed in Z_{2^B}. Defaults to 32 without DP
	// and with central DP, 20 with distributed DP.
	Bits uint
	// Threat is the threat model of the sessions. Defaults to
	// secagg.SemiHonest; secagg.Malicious gives every client a long-term
	// Ed25519 identity (drawn by the server at start, a simulation
	// shortcut) and adds the signed consistency round.
	Threat secagg.Threat
	// DropoutRate and CorruptRate drive SecAgg+'s choice of neighbour
	// graph and threshold (secagg.FindGraphParams). DropoutRate is the
	// expected fraction of a session's clients that send no input,
	// including those cut off by the deadline and the over-selected ones
	// not needed; it defaults to 0.1 + OverSelect/(1+OverSelect).
	// CorruptRate defaults to 0.05.
	DropoutRate, CorruptRate float64
	// MaxWeight bounds a client's weight without DP (weights above it are
	// capped). Defaults to 1.
	MaxWeight float64
}

func (s *SecureConfig) withDefaults(mode DPMode, overSelect float64) SecureConfig {
	c := *s
	if c.Bits == 0 {
		c.Bits = 32
		if mode == DPDistributed {
			c.Bits = 20
		}
	}
	if c.DropoutRate == 0 {
		c.DropoutRate = min(0.9, 0.1+overSelect/(1+overSelect))
	}
	if c.CorruptRate == 0 {
		c.CorruptRate = 0.05
	}
	if c.MaxWeight == 0 {
		c.MaxWeight = 1
	}
	return c
}

// check reports a setting no round could use: bits outside 8 to 62, a
// maximum weight that is not a finite positive number (an infinite one
// would turn w/MaxWeight into NaN), an unknown threat model or a rate
// outside [0, 1). It runs on the defaulted copy, at NewServer, so that
// a bad setting fails there and not in the first round.
func (c *SecureConfig) check() error {
	switch {
	case c.Bits < 8 || c.Bits > 62:
		return fmt.Errorf("%w: Secure.Bits = %d, want 8 to 62", ErrConfig, c.Bits)
	case !(c.MaxWeight > 0) || math.IsInf(c.MaxWeight, 0):
		return fmt.Errorf("%w: Secure.MaxWeight = %v, want a finite value > 0", ErrConfig, c.MaxWeight)
	case c.Threat != secagg.SemiHonest && c.Threat != secagg.Malicious:
		return fmt.Errorf("%w: Secure.Threat = %d, want secagg.SemiHonest or secagg.Malicious", ErrConfig, c.Threat)
	case !(c.DropoutRate >= 0 && c.DropoutRate < 1):
		return fmt.Errorf("%w: Secure.DropoutRate = %v, want [0, 1)", ErrConfig, c.DropoutRate)
	case !(c.CorruptRate >= 0 && c.CorruptRate < 1):
		return fmt.Errorf("%w: Secure.CorruptRate = %v, want [0, 1)", ErrConfig, c.CorruptRate)
	}
	return nil
}

// secureSession is one round's secure aggregation over the n clients of
// the session (session ids 0..n-1).
type secureSession struct {
	cfg      secagg.Config
	fates    []DropStep                     // by session id
	input    func(i int) ([]int64, error)   // encoded input of session client i
	rand     func(i int) io.Reader          // nil: crypto/rand
	identity func(i int) ed25519.PrivateKey // malicious model
	// policy and sequences stand for what a malicious-model client learns
	// outside the server (the roster digest and the session seed) and for
	// its persisted replay state.
	policy    secagg.ClientPolicy
	sequences func(i int) secagg.SequenceStore
	minInputs int               // survivors needed before unmasking
	observe   func(sum []int64) // test hook: what the server sees
	// clientTime and serverTime accumulate the wall time spent in the
	// clients' steps (encoding included) and in the server's.
	clientTime, serverTime time.Duration
	clock                  func() time.Duration
}

// onClient and onServer time one step of a party.
func (ss *secureSession) onClient(f func() error) error {
	t := ss.clock()
	err := f()
	ss.clientTime += ss.clock() - t
	return err
}

func (ss *secureSession) onServer(f func() error) error {
	t := ss.clock()
	err := f()
	ss.serverTime += ss.clock() - t
	return err
}

// errBelowMinimum ends a session with fewer survivors than the round
// accepts.
var errBelowMinimum = errors.New("too few survivors to unmask")

// run drives the session through the state machines of package secagg and
// returns the server's result.
func (ss *secureSession) run() (*secagg.Result, error) {
	p, err := secagg.NewParams(ss.cfg)
	if err == nil && p.MinInputs() < ss.minInputs {
		// The round's own floor is above secagg's default one: make it
		// the session's, so that server and clients enforce it.
		ss.cfg.MinInputs = ss.minInputs
		p, err = secagg.NewParams(ss.cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	srv, err := secagg.NewServer(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	n := p.NumClients()
	clients := make([]*secagg.Client, n)
	for i := range n {
		opts := &secagg.ClientOptions{MinSequence: ss.cfg.Sequence}
		if ss.rand != nil {
			opts.InsecureTestRand = ss.rand(i)
		}
		if ss.cfg.Threat == secagg.Malicious {
			opts.Identity = ss.identity(i)
			opts.Policy = ss.policy
			opts.Sequences = ss.sequences(i)
		}
		if clients[i], err = secagg.NewClient(p, i, opts); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
	}
	alive := func(i int, before DropStep) bool {
		return ss.fates[i] == DropNever || ss.fates[i] > before
	}
	if err := ss.advertise(srv, clients, alive); err != nil {
		return nil, err
	}
	bundles, err := ss.shareKeys(srv, clients, alive)
	if err != nil {
		return nil, err
	}
	if err := ss.maskInputs(srv, clients, bundles, alive); err != nil {
		return nil, err
	}
	if err := ss.onServer(srv.FinishMaskedInput); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	if ss.cfg.Threat == secagg.Malicious {
		if err := ss.consistency(srv, clients); err != nil {
			return nil, err
		}
	}
	return ss.unmask(srv, clients, alive)
}

func (ss *secureSession) advertise(srv *secagg.Server, clients []*secagg.Client, alive func(int, DropStep) bool) error {
	for i, c := range clients {
		if !alive(i, DropBeforeAdvertise) {
			continue
		}
		var a *secagg.KeyAdvert
		if err := ss.onClient(func() (err error) { a, err = c.Advertise(); return err }); err != nil {
			return fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
		if err := ss.onServer(func() error { return srv.HandleAdvert(a) }); err != nil {
			return fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
	}
	return nil
}

func (ss *secureSession) shareKeys(srv *secagg.Server, clients []*secagg.Client, alive func(int, DropStep) bool) (map[int]*secagg.ShareBundle, error) {
	var lists map[int]*secagg.AdvertList
	if err := ss.onServer(func() (err error) { lists, err = srv.FinishAdvertise(); return err }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	for i, c := range clients {
		l, ok := lists[i]
		if !ok || !alive(i, DropBeforeShare) {
			continue
		}
		var m *secagg.ShareKeys
		if err := ss.onClient(func() (err error) { m, err = c.ShareKeys(l); return err }); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
		if err := ss.onServer(func() error { return srv.HandleShareKeys(m) }); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
	}
	var bundles map[int]*secagg.ShareBundle
	if err := ss.onServer(func() (err error) { bundles, err = srv.FinishShareKeys(); return err }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	return bundles, nil
}

func (ss *secureSession) maskInputs(srv *secagg.Server, clients []*secagg.Client, bundles map[int]*secagg.ShareBundle, alive func(int, DropStep) bool) error {
	for i, c := range clients {
		b, ok := bundles[i]
		if !ok || !alive(i, DropBeforeInput) {
			continue
		}
		var x []int64
		if err := ss.onClient(func() (err error) { x, err = ss.input(i); return err }); err != nil {
			return err
		}
		var m *secagg.MaskedInput
		err := ss.onClient(func() (err error) { m, err = c.MaskInput(b, x); return err })
		clear(x)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
		// The message comes from client i in this process: its channel is
		// authenticated by construction, as the gRPC transport's is by
		// mutual TLS, so the server skips hashing the vector to verify it.
		if err := ss.onServer(func() error { return srv.HandleMaskedInputFrom(i, m) }); err != nil {
			return fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
	}
	return nil
}

func (ss *secureSession) consistency(srv *secagg.Server, clients []*secagg.Client) error {
	var reqs map[int]*secagg.ConsistencyRequest
	if err := ss.onServer(func() (err error) { reqs, err = srv.ConsistencyRequests(); return err }); err != nil {
		return fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	for i, c := range clients {
		q, ok := reqs[i]
		if !ok || ss.fates[i] == DropBeforeUnmask {
			continue
		}
		var m *secagg.ConsistencyReply
		if err := ss.onClient(func() (err error) { m, err = c.Consistency(q); return err }); err != nil {
			return fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
		if err := ss.onServer(func() error { return srv.HandleConsistency(m) }); err != nil {
			return fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
	}
	if err := ss.onServer(srv.FinishConsistency); err != nil {
		return fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	return nil
}

// unmask runs the last round. The server (honest in the semi-honest
// model) stops if fewer than minInputs inputs arrived; in the malicious
// model, where the request carries the survivor set, every client also
// refuses to unmask below that number.
func (ss *secureSession) unmask(srv *secagg.Server, clients []*secagg.Client, alive func(int, DropStep) bool) (*secagg.Result, error) {
	var reqs map[int]*secagg.UnmaskRequest
	if err := ss.onServer(func() (err error) { reqs, err = srv.UnmaskRequests(); return err }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	if inputs := len(reqs); ss.cfg.Threat == secagg.SemiHonest && inputs < ss.minInputs {
		return nil, fmt.Errorf("%w: %w: %d inputs, need %d", ErrTooFewReports, errBelowMinimum, inputs, ss.minInputs)
	}
	for i, c := range clients {
		q, ok := reqs[i]
		if !ok || !alive(i, DropBeforeUnmask) {
			continue
		}
		if ss.cfg.Threat == secagg.Malicious && len(q.Survivors) < ss.minInputs {
			return nil, fmt.Errorf("%w: %w: client %d was shown %d survivors, needs %d", ErrTooFewReports, errBelowMinimum, i, len(q.Survivors), ss.minInputs)
		}
		var m *secagg.UnmaskResponse
		if err := ss.onClient(func() (err error) { m, err = c.Unmask(q); return err }); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
		if err := ss.onServer(func() error { return srv.HandleUnmask(m) }); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
		}
	}
	var res *secagg.Result
	if err := ss.onServer(func() (err error) { res, err = srv.Finish(); return err }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecAgg, err)
	}
	if ss.observe != nil {
		ss.observe(res.Sum)
	}
	return res, nil
}
