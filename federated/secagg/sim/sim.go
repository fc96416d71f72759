package sim

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/internal/cputime"
)

// ServerBehaviour selects how the simulated server deviates from the
// protocol. The deviations are those a curious server would try in order
// to unmask one client's input, [Options.Target].
type ServerBehaviour int

const (
	// Honest follows the protocol.
	Honest ServerBehaviour = iota
	// AskBothShares lists the target both alive and dropped in the unmask
	// requests of its neighbours, asking for both its self-mask share and
	// its mask-key share.
	AskBothShares
	// InconsistentDropouts tells half of the target's neighbours that it
	// dropped out and the other half that it survived (in the survivor set
	// of the consistency check in the malicious model, in the unmask
	// requests otherwise), to collect self-mask shares from one half and
	// mask-key shares from the other.
	InconsistentDropouts
	// ReplayUnmask sends every unmask request a second time with the
	// target's status flipped from alive to dropped.
	ReplayUnmask
	// ReplayOldSession delivers share bundles recorded in another session
	// (same clients, an earlier aggregation).
	ReplayOldSession
	// DuplicateAdvert lists the target's advert twice in the advert list.
	DuplicateAdvert
	// SplitView colludes with the clients in [Options.Corrupt] (whose
	// secrets the server knows: it runs a copy of each, with the same
	// randomness) against the target: after the masked-input round it
	// shows the target alive to one group of the honest clients and
	// dropped to the others, chosen to maximise what it collects (the
	// nodes of either half of the graph around the target, then clients
	// moved between groups while that helps); each group gets the
	// consistency signatures of its own members and of the corrupt
	// clients, which sign both survivor sets and reveal both shares of
	// the target. [Report.Unmasked] says whether it got t of each.
	SplitView
)

func (b ServerBehaviour) String() string {
	switch b {
	case Honest:
		return "honest"
	case AskBothShares:
		return "ask-both-shares"
	case InconsistentDropouts:
		return "inconsistent-dropouts"
	case ReplayUnmask:
		return "replay-unmask"
	case ReplayOldSession:
		return "replay-old-session"
	case DuplicateAdvert:
		return "duplicate-advert"
	case SplitView:
		return "split-view"
	}
	return fmt.Sprintf("ServerBehaviour(%d)", int(b))
}

// ClientFault is how a misbehaving client corrupts its message.
type ClientFault int

const (
	// Garbage replaces the message by random bytes.
	Garbage ClientFault = iota + 1
	// Truncated drops the last byte of the message.
	Truncated
	// WrongLength sends a masked input one element too long (re-encoded,
	// so the header is consistent with the body).
	WrongLength
	// Replayed sends the message twice.
	Replayed
	// CorruptShares flips a bit in every share an unmask response reveals
	// (well-formed message, wrong values).
	CorruptShares
)

// Fault is one client misbehaving in one round.
type Fault struct {
	Client int
	Round  secagg.Round
	Kind   ClientFault
}

// Options describe a simulated session. The zero value runs an honest
// session without dropouts.
type Options struct {
	// Drop lists, per round, the clients that go silent before sending
	// their message of that round (and stay silent).
	Drop map[secagg.Round][]int
	// Server is the server's behaviour and Target the client it attacks.
	Server ServerBehaviour
	Target int
	// Corrupt are the clients that collude with the server under
	// [SplitView]. Their randomness is derived from InsecureTestRand (or
	// crypto/rand) so that the server can run a copy of each.
	Corrupt []int
	// Faults are client misbehaviours.
	Faults []Fault
	// Identities are the clients' long-term keys (malicious model).
	Identities []ed25519.PrivateKey
	// InsecureTestRand, if set, is the randomness of every client, for
	// reproducible runs. Never use it outside tests and benchmarks.
	InsecureTestRand io.Reader
	// InsecureTrustServerConfig makes the malicious-model clients take the
	// server's word for the threshold and rates
	// (secagg.ClientPolicy.InsecureTrustServerConfig): only for control
	// runs of a configuration below the secure minimum, which the default
	// policy refuses.
	InsecureTrustServerConfig bool
}

// Phase timings and traffic of a run.
type Stats struct {
	// ClientTime is the mean compute time of one client per round;
	// ServerTime the server's compute time per round (message handling and
	// finishing, decoding included).
	ClientTime map[secagg.Round]time.Duration
	ServerTime map[secagg.Round]time.Duration
	// ClientCPU and ServerCPU are the same in process CPU time (user +
	// system, garbage collection included), which a loaded machine does
	// not inflate. They are zero where the platform cannot measure them.
	ClientCPU map[secagg.Round]time.Duration
	ServerCPU map[secagg.Round]time.Duration
	// BytesUp and BytesDown are the bytes each client sent and received.
	BytesUp, BytesDown []int
}

// Report is the outcome of a run.
type Report struct {
	// Result is the server's result, nil if the session aborted.
	Result *secagg.Result
	// Err is the error that aborted the session, if any.
	Err error
	// Expected is the plain sum of the inputs of Result.Survivors.
	Expected []int64
	// Correct reports whether Result.Sum equals Expected.
	Correct bool
	// ClientErrors holds the error of each client that refused or aborted.
	ClientErrors map[int]error
	// Rejected holds the errors of the client messages the server
	// rejected.
	Rejected []error
	// Revealed counts the shares of the target's secrets that clients
	// other than the target handed to the server: Self self-mask shares
	// and Key mask-key shares (under [SplitView], the target's own
	// self-mask share and the corrupt clients' shares included). Both
	// reaching the threshold means the server can unmask the target's
	// input.
	Revealed struct{ Self, Key int }
	// Unmasked reports whether Revealed reached the threshold for both
	// kinds of shares: the server can then unmask the target.
	Unmasked bool
	Stats
}

// NewIdentities derives n Ed25519 identity key pairs from rand (crypto/rand
// if nil).
func NewIdentities(n int, rand io.Reader) ([]ed25519.PublicKey, []ed25519.PrivateKey, error) {
	pub := make([]ed25519.PublicKey, n)
	priv := make([]ed25519.PrivateKey, n)
	for i := range n {
		var err error
		if rand == nil {
			pub[i], priv[i], err = ed25519.GenerateKey(nil)
		} else {
			seed := make([]byte, ed25519.SeedSize)
			if _, err = io.ReadFull(rand, seed); err == nil {
				priv[i] = ed25519.NewKeyFromSeed(seed)
				pub[i] = priv[i].Public().(ed25519.PublicKey)
			}
			clear(seed)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return pub, priv, nil
}

// clientOptions returns the options of simulated client i: in the
// malicious model, the policy of a client that learnt the roster and the
// session seed outside the server (the simulation knows the true ones),
// and a fresh in-memory sequence store.
func clientOptions(p *secagg.Params, opts Options, i int) *secagg.ClientOptions {
	co := &secagg.ClientOptions{InsecureTestRand: opts.InsecureTestRand}
	if opts.Identities != nil {
		cfg := p.Config()
		seed := cfg.SessionSeed
		co.Identity = opts.Identities[i]
		co.Sequences = &secagg.MemorySequenceStore{}
		co.Policy = secagg.ClientPolicy{Roster: secagg.RosterDigest(cfg.Identities), SessionSeed: &seed,
			InsecureTrustServerConfig: opts.InsecureTrustServerConfig}
	}
	return co
}

type party struct {
	c       *secagg.Client
	twin    *secagg.Client // the server's copy of a corrupt client
	dead    bool           // dropped out or aborted
	aborted bool
}

type runner struct {
	p       *secagg.Params
	opts    Options
	parties []*party
	srv     *secagg.Server
	rep     *Report
	drop    map[secagg.Round]map[int]bool
	faults  map[secagg.Round]map[int]ClientFault
}

// Inputs fills dst (p.Length() coordinates) with the input of a client. It
// must be deterministic: Run calls it again to compute the expected sum, so
// that no more than two vectors are ever materialised.
type Inputs func(client int, dst []int64)

// Vectors returns the Inputs that reads the given vectors.
func Vectors(v [][]int64) Inputs {
	return func(i int, dst []int64) { copy(dst, v[i]) }
}

// Run simulates one session of p with the given inputs.
func Run(p *secagg.Params, inputs Inputs, opts Options) (*Report, error) {
	n := p.NumClients()
	r := &runner{p: p, opts: opts, rep: &Report{ClientErrors: map[int]error{}}}
	r.rep.ClientTime = map[secagg.Round]time.Duration{}
	r.rep.ServerTime = map[secagg.Round]time.Duration{}
	r.rep.ClientCPU = map[secagg.Round]time.Duration{}
	r.rep.ServerCPU = map[secagg.Round]time.Duration{}
	r.rep.BytesUp = make([]int, n)
	r.rep.BytesDown = make([]int, n)
	r.drop = map[secagg.Round]map[int]bool{}
	for rd, ids := range opts.Drop {
		r.drop[rd] = map[int]bool{}
		for _, id := range ids {
			r.drop[rd][id] = true
		}
	}
	r.faults = map[secagg.Round]map[int]ClientFault{}
	for _, f := range opts.Faults {
		if r.faults[f.Round] == nil {
			r.faults[f.Round] = map[int]ClientFault{}
		}
		r.faults[f.Round][f.Client] = f.Kind
	}
	var err error
	if r.srv, err = secagg.NewServer(p); err != nil {
		return nil, err
	}
	r.parties = make([]*party, n)
	for i := range n {
		c, err := secagg.NewClient(p, i, clientOptions(p, opts, i))
		if err != nil {
			return nil, err
		}
		r.parties[i] = &party{c: c}
	}
	if opts.Server == SplitView {
		if err := r.corruptClients(); err != nil {
			return nil, err
		}
	}
	r.rep.Err = r.run(inputs)
	t := p.Threshold()
	r.rep.Unmasked = r.rep.Revealed.Self >= t && r.rep.Revealed.Key >= t
	if r.rep.Result != nil {
		r.rep.Expected = make([]int64, p.Length())
		x := make([]int64, p.Length())
		for _, u := range r.rep.Result.Survivors {
			inputs(u, x)
			for j, v := range x {
				r.rep.Expected[j] += v
			}
		}
		r.rep.Correct = slices.Equal(r.rep.Expected, r.rep.Result.Sum)
	}
	return r.rep, nil
}

// live returns the ids of the clients that are still in the session and
// do not drop before sending their message of round rd.
func (r *runner) live(rd secagg.Round) []int {
	var ids []int
	for i, pt := range r.parties {
		if pt.dead {
			continue
		}
		if r.drop[rd][i] {
			pt.dead = true
			continue
		}
		ids = append(ids, i)
	}
	return ids
}

func (r *runner) clientFailed(i int, err error) {
	r.parties[i].dead = true
	r.parties[i].aborted = true
	r.rep.ClientErrors[i] = err
}

// msg is what every message type implements.
type msg interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// down encodes a server message for client i, counts its bytes, and
// decodes it on the client's side.
func (r *runner) down(i int, m msg, into msg) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	r.rep.BytesDown[i] += len(b)
	return into.UnmarshalBinary(b)
}

// up encodes client i's message (applying its fault, if any), counts its
// bytes and returns the encodings the server receives.
func (r *runner) up(i int, rd secagg.Round, m msg) [][]byte {
	b, err := m.MarshalBinary()
	if err != nil {
		r.clientFailed(i, err)
		return nil
	}
	out := [][]byte{b}
	switch r.faults[rd][i] {
	case Garbage:
		g := make([]byte, len(b))
		for k := range g {
			g[k] = byte(k*131 + i*7 + 1)
		}
		copy(g, b[:6]) // keep version, type and id so the error names the client
		out = [][]byte{g}
	case Truncated:
		out = [][]byte{b[:len(b)-1]}
	case WrongLength:
		if mi, ok := m.(*secagg.MaskedInput); ok {
			bad := *mi
			bad.Length++
			bad.Packed = append(slices.Clone(mi.Packed), make([]byte, (int(mi.Bits)+7)/8)...)
			b2, _ := bad.MarshalBinary()
			out = [][]byte{b2}
		}
	case Replayed:
		out = append(out, b)
	case CorruptShares:
		if ur, ok := m.(*secagg.UnmaskResponse); ok {
			bad := *ur
			bad.SelfShares = corrupt(ur.SelfShares)
			bad.KeyShares = corrupt(ur.KeyShares)
			b2, _ := bad.MarshalBinary()
			out = [][]byte{b2}
		}
	}
	for _, o := range out {
		r.rep.BytesUp[i] += len(o)
	}
	return out
}

// serve decodes raw bytes into a fresh message and hands it to the server;
// rejections are recorded.
func serve[T any, PT interface {
	*T
	msg
}](r *runner, raw [][]byte, handle func(PT) error) {
	for _, b := range raw {
		var m T
		pm := PT(&m)
		if err := pm.UnmarshalBinary(b); err != nil {
			r.rep.Rejected = append(r.rep.Rejected, err)
			continue
		}
		if err := handle(pm); err != nil {
			r.rep.Rejected = append(r.rep.Rejected, err)
		}
	}
}

// timeClients runs f for each client in ids and hands what it sends to
// sink at once (so that the server never holds more than one masked input
// in flight); the clients' and the server's times are kept apart. prep, if
// not nil, runs untimed before each client (to generate its input).
func (r *runner) timeClients(rd secagg.Round, ids []int, prep func(i int), f func(i int) [][]byte, sink func([][]byte)) {
	if len(ids) == 0 {
		return
	}
	var cd, sd, cc, sc time.Duration
	for _, i := range ids {
		if prep != nil {
			prep(i)
		}
		start, c0 := time.Now(), cputime.Process()
		raw := f(i)
		cd += time.Since(start)
		cc += cputime.Process() - c0
		if raw != nil && sink != nil {
			start, c0 = time.Now(), cputime.Process()
			sink(raw)
			sd += time.Since(start)
			sc += cputime.Process() - c0
		}
	}
	r.rep.ClientTime[rd] += cd / time.Duration(len(ids))
	r.rep.ClientCPU[rd] += cc / time.Duration(len(ids))
	r.rep.ServerTime[rd] += sd
	r.rep.ServerCPU[rd] += sc
}

func (r *runner) timeServer(rd secagg.Round, f func()) {
	start, c0 := time.Now(), cputime.Process()
	f()
	r.rep.ServerTime[rd] += time.Since(start)
	r.rep.ServerCPU[rd] += cputime.Process() - c0
}

func corrupt(rs []secagg.RevealedShare) []secagg.RevealedShare {
	out := make([]secagg.RevealedShare, len(rs))
	for i, r := range rs {
		y := slices.Clone(r.Share.Y)
		y[0] ^= 1
		out[i] = r
		out[i].Share.Y = y
	}
	return out
}
