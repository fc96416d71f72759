package federated

import (
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/privml/privml/dp"
	"github.com/privml/privml/federated/secagg"
)

// Config describes a federated training run. NewServer checks it.
type Config struct {
	// Shape describes the model's parameter vector. Required.
	Shape Shape
	// ClientsPerRound is K, the number of reports a round wants. Each
	// client is sampled independently with probability
	// q = min(1, K·(1+OverSelect)/N) (Poisson sampling, N the population);
	// with OverSelect > 0 only the first K reports (by latency) are used.
	// Epsilon is accounted at q.
	// Exactly one of ClientsPerRound and Fraction must be set.
	ClientsPerRound int
	// Fraction sets K = round(Fraction·N) instead.
	Fraction float64
	// OverSelect is the extra fraction of clients sampled to make up for
	// stragglers and dropouts, e.g. 0.3. Default 0.
	OverSelect float64
	// MinReports is the least number of updates a round needs; with fewer,
	// the round changes nothing (with secure aggregation the sum is never
	// unmasked). Defaults to max(2, K/2), at most K.
	MinReports int
	// Deadline is the time a round waits for updates; a client whose
	// Availability.Latency exceeds it is a dropout. Zero: no deadline.
	Deadline time.Duration
	// Availability simulates each sampled client's fate in a round (see
	// [Simulated]). Nil: every client reports at once.
	Availability func(round, client int, r *rand.Rand) Availability
	// Optimizer turns the aggregated update into the next model. Nil is
	// FedAvg with server learning rate 1 (the model moves by the average
	// update).
	Optimizer ServerOptimizer
	// Aggregator combines updates seen in the clear (no secure
	// aggregation, no DP). Nil is the weighted mean.
	Aggregator Aggregator
	// Clip is the L2 bound of a client's update. Required with secure
	// aggregation or DP (the initial bound with adaptive clipping); zero
	// otherwise means no clipping.
	Clip float64
	// Secure, when set, aggregates every round with secure aggregation.
	Secure *SecureConfig
	// DP is the client-level differential privacy of the run.
	DP DPConfig
	// InsecureSeed, when set, derives every random choice of the run
	// (sampling, simulated dropouts, the clients' Task.Rand, rounding, DP
	// noise, secure-aggregation keys) from it, so that the run is
	// repeatable bit for bit. For simulations and tests only: a known
	// seed reveals the noise and the masks. Nil uses crypto/rand.
	InsecureSeed *[32]byte
	// Workers bounds the clients trained at once. Defaults to GOMAXPROCS.
	Workers int
	// Clock times RoundReport.ClientTime and ServerTime. Nil is the wall
	// clock. The aggregation steps of both sides run on the goroutine that
	// calls Round, so a benchmark that locks it to its thread can pass the
	// thread's CPU time and be immune to other load on the machine.
	Clock func() time.Duration
}

// Simulated returns an availability model in which each sampled client
// drops out with probability dropout, at a protocol step chosen uniformly
// among the four, and takes an exponentially distributed time of mean
// meanLatency to report (zero: no latency).
func Simulated(dropout float64, meanLatency time.Duration) func(round, client int, r *rand.Rand) Availability {
	return func(_, _ int, r *rand.Rand) Availability {
		a := Availability{}
		if r.Float64() < dropout {
			a.Drop = DropStep(1 + r.IntN(4))
		}
		if meanLatency > 0 {
			a.Latency = time.Duration(r.ExpFloat64() * float64(meanLatency))
		}
		return a
	}
}

// Server runs federated rounds over a population of clients. It holds the
// global model, the optimizer's state and the privacy ledger. It is not
// safe for concurrent use.
type Server struct {
	cfg     Config
	sec     SecureConfig
	clients []Client
	model   []float64
	rate    float64 // Poisson sampling rate q
	k       int     // reports wanted per round
	round   int
	clip    float64 // current clipping bound (adaptive clipping moves it)
	zDelta  float64 // noise multiplier of the update (adaptive: z_Δ)
	opt     ServerOptimizer
	agg     Aggregator
	sampler *dp.Sampler
	ids     []ed25519.PrivateKey // malicious model: long-term identities
	pubs    []ed25519.PublicKey
	seqs    []*secagg.MemorySequenceStore // malicious model: each client's replay state
	// inSums counts, per client, the unmasked sums its input was in;
	// mostInSums is the largest count (distributed DP's guarantee against
	// the server, which knows who took part).
	inSums     []int
	mostInSums int
	// noisedClipped is the round's clipped fraction as adaptive clipping
	// estimates it from the noised indicator sum (NaN: none).
	noisedClipped float64
	// summedClipped is, with secure aggregation and no DP, the clipped
	// fraction read from the secure sum (NaN: none).
	summedClipped float64
	hooks         hooks
}

// hooks let the package's tests look at what the parties see.
type hooks struct {
	serverSum func(round int, sum []int64)                     // the unmasked sum
	encoded   func(round, client int, noiseless, sent []int64) // a client's input
	encoder   func(round int, e *ddgEncoder)                   // the round's distributed-DP encoding
}

// NewServer checks cfg and returns a server for the given population,
// starting from the model initial (copied).
func NewServer(cfg Config, clients []Client, initial []float64) (*Server, error) {
	if err := cfg.Shape.Check(); err != nil {
		return nil, err
	}
	if len(initial) != cfg.Shape.Size() {
		return nil, fmt.Errorf("%w: initial model has %d parameters, shape %v has %d", ErrConfig, len(initial), cfg.Shape, cfg.Shape.Size())
	}
	s := &Server{cfg: cfg, clients: clients, model: append([]float64(nil), initial...), clip: cfg.Clip, inSums: make([]int, len(clients))}
	if err := s.checkSampling(); err != nil {
		return nil, err
	}
	if err := s.checkPrivacy(); err != nil {
		return nil, err
	}
	s.opt, s.agg = cfg.Optimizer, cfg.Aggregator
	if s.opt == nil {
		s.opt = plainStep{}
	}
	if s.agg == nil {
		s.agg = plainMean{}
	}
	if s.cfg.Clock == nil {
		t0 := time.Now()
		s.cfg.Clock = func() time.Duration { return time.Since(t0) }
	}
	if s.cfg.Workers <= 0 {
		s.cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.InsecureSeed != nil {
		s.sampler = nil // one seeded sampler per client and round
	} else {
		s.sampler = dp.NewSampler()
	}
	if cfg.Secure != nil && s.sec.Threat == secagg.Malicious {
		if err := s.makeIdentities(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) checkSampling() error {
	c := &s.cfg
	n := len(s.clients)
	if n < 2 {
		return fmt.Errorf("%w: %d clients, want at least 2", ErrConfig, n)
	}
	switch {
	case c.ClientsPerRound > 0 && c.Fraction == 0:
		s.k = c.ClientsPerRound
	case c.ClientsPerRound == 0 && c.Fraction > 0 && c.Fraction <= 1:
		s.k = max(1, int(math.Round(c.Fraction*float64(n))))
	default:
		return fmt.Errorf("%w: set exactly one of ClientsPerRound (%d) and Fraction (%v, in (0, 1])", ErrConfig, c.ClientsPerRound, c.Fraction)
	}
	if s.k > n {
		return fmt.Errorf("%w: %d clients per round out of %d clients", ErrConfig, s.k, n)
	}
	if !(c.OverSelect >= 0) || c.OverSelect > 10 {
		return fmt.Errorf("%w: OverSelect = %v, want 0 to 10", ErrConfig, c.OverSelect)
	}
	s.rate = min(1, float64(s.k)*(1+c.OverSelect)/float64(n))
	if c.MinReports == 0 {
		c.MinReports = min(s.k, max(2, s.k/2))
	}
	if c.MinReports < 1 || c.MinReports > s.k {
		return fmt.Errorf("%w: MinReports = %d, want 1 to %d (clients per round)", ErrConfig, c.MinReports, s.k)
	}
	if c.Deadline < 0 {
		return fmt.Errorf("%w: negative deadline %v", ErrConfig, c.Deadline)
	}
	return nil
}

func (s *Server) checkPrivacy() error {
	c := &s.cfg
	if c.Clip < 0 || math.IsNaN(c.Clip) || math.IsInf(c.Clip, 0) {
		return fmt.Errorf("%w: clipping bound %v", ErrConfig, c.Clip)
	}
	if (c.Secure != nil || c.DP.Mode != DPNone) && c.Clip == 0 {
		return fmt.Errorf("%w: secure aggregation and DP need a clipping bound (Clip)", ErrConfig)
	}
	if c.Secure != nil {
		s.sec = c.Secure.withDefaults(c.DP.Mode, c.OverSelect)
		if err := s.sec.check(); err != nil {
			return err
		}
		if c.Aggregator != nil {
			return fmt.Errorf("%w: aggregator %s needs the individual updates, which secure aggregation hides", ErrConfig, c.Aggregator.Name())
		}
		if c.MinReports < 2 {
			return fmt.Errorf("%w: secure aggregation needs MinReports >= 2", ErrConfig)
		}
	}
	switch c.DP.Mode {
	case DPNone:
		if c.DP.Adaptive != nil {
			return fmt.Errorf("%w: adaptive clipping is part of DP-FedAvg; set DP.Mode", ErrConfig)
		}
		return nil
	case DPCentral, DPDistributed:
	default:
		return fmt.Errorf("%w: unknown DP mode %d", ErrConfig, c.DP.Mode)
	}
	if c.Aggregator != nil {
		return fmt.Errorf("%w: aggregator %s with DP: client-level DP here is defined for the clipped mean", ErrConfig, c.Aggregator.Name())
	}
	z := c.DP.NoiseMultiplier
	if !(z > 0) || math.IsInf(z, 0) {
		return fmt.Errorf("%w: noise multiplier %v, want > 0", ErrConfig, z)
	}
	if !(c.DP.Delta > 0 && c.DP.Delta < 1) {
		return fmt.Errorf("%w: delta %v, want in (0, 1)", ErrConfig, c.DP.Delta)
	}
	s.zDelta = z
	if c.DP.Adaptive != nil {
		zd, err := c.DP.Adaptive.updateNoiseMultiplier(z)
		if err != nil {
			return err
		}
		s.zDelta = zd
	}
	if c.DP.Mode == DPDistributed {
		if c.Secure == nil {
			return fmt.Errorf("%w: distributed DP needs secure aggregation (Secure)", ErrConfig)
		}
		// Fail now rather than in a round if B cannot hold the noise of a
		// session of the size Poisson sampling reaches with probability
		// 1 - 1e-9 (six standard deviations above the mean).
		N := float64(len(s.clients))
		n := min(len(s.clients), int(math.Ceil(s.rate*N+6*math.Sqrt(s.rate*(1-s.rate)*N))))
		e, err := newDDGEncoder(c.Shape.Size(), max(n, 2), c.MinReports, s.zDelta, s.sec.Bits)
		if err != nil {
			return err
		}
		if c.DP.Adaptive != nil {
			if _, err := newIndicatorEncoder(c.DP.Adaptive.IndicatorNoise, c.MinReports, e.maxAbs, max(n, 2)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) makeIdentities() error {
	s.ids = make([]ed25519.PrivateKey, len(s.clients))
	s.pubs = make([]ed25519.PublicKey, len(s.clients))
	s.seqs = make([]*secagg.MemorySequenceStore, len(s.clients))
	for i := range s.seqs {
		s.seqs[i] = new(secagg.MemorySequenceStore)
	}
	r := s.stream("identities", 0, 0)
	for i := range s.clients {
		pub, priv, err := ed25519.GenerateKey(readerOf(r))
		if err != nil {
			return fmt.Errorf("%w: identity of client %d: %w", ErrConfig, i, err)
		}
		s.ids[i], s.pubs[i] = priv, pub
	}
	return nil
}

// String describes the server without its secrets (the clients' signing
// keys in the malicious model, the seed of a simulation), so that %v and
// %+v print nothing that a log must not hold.
func (s *Server) String() string {
	return fmt.Sprintf("federated.Server{round %d, %d clients, %d per round, DP %s}", s.round, len(s.clients), s.k, s.cfg.DP.Mode)
}

// GoString is String, for %#v.
func (s *Server) GoString() string { return s.String() }

// Model returns a copy of the current global model.
func (s *Server) Model() []float64 { return append([]float64(nil), s.model...) }

// SamplingRate returns q, the probability that a client is sampled in a
// round (the rate the accountant uses).
func (s *Server) SamplingRate() float64 { return s.rate }

// Clip returns the current clipping bound.
func (s *Server) Clip() float64 { return s.clip }

// stream returns a ChaCha8 generator for (label, round, client): derived
// from InsecureSeed when set, from crypto/rand otherwise.
func (s *Server) stream(label string, round, client int) *rand.Rand {
	var key [32]byte
	if s.cfg.InsecureSeed == nil {
		if _, err := crand.Read(key[:]); err != nil {
			panic("federated: crypto/rand failed: " + err.Error()) // crypto/rand.Read never fails on supported systems
		}
	} else {
		h := sha256.New()
		h.Write(s.cfg.InsecureSeed[:])
		h.Write([]byte(label))
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], uint64(round))
		binary.LittleEndian.PutUint64(b[8:], uint64(client))
		h.Write(b[:])
		h.Sum(key[:0])
	}
	return rand.New(rand.NewChaCha8(key))
}

// noiseSampler returns the dp sampler for a client's (or the server's)
// noise in a round.
func (s *Server) noiseSampler(round, client int) *dp.Sampler {
	if s.sampler != nil {
		return s.sampler
	}
	return dp.NewSampler(dp.WithSeedForTesting(s.stream("noise", round, client).Uint64()))
}

// readerOf adapts a *rand.Rand to io.Reader.
type randReader struct{ r *rand.Rand }

func (r randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

func readerOf(r *rand.Rand) randReader { return randReader{r} }

// plainStep is FedAvg with server learning rate 1: global += delta.
type plainStep struct{}

func (plainStep) Step(global, delta []float64) error {
	if len(global) != len(delta) {
		return fmt.Errorf("%w: delta has %d coordinates, model %d", ErrConfig, len(delta), len(global))
	}
	for i, d := range delta {
		global[i] += d
	}
	return nil
}

func (plainStep) Name() string { return "fedavg" }

// plainMean is the plaintext weighted mean of the updates. The weights
// are divided by the largest one first, so that weights near the float64
// limit neither overflow their sum nor the products; an aggregate that is
// still not finite (updates near the limit) is an error, never a NaN
// model.
type plainMean struct{}

func (plainMean) Aggregate(dst []float64, updates [][]float64, weights []float64) error {
	clear(dst)
	top := 0.0
	for _, w := range weights {
		top = max(top, w)
	}
	if !(top > 0) {
		return fmt.Errorf("%w: total weight %v", ErrClient, top)
	}
	total := 0.0
	for i, u := range updates {
		w := weights[i] / top
		total += w
		for j, v := range u {
			dst[j] += w * v
		}
	}
	for j := range dst {
		dst[j] /= total
		if math.IsNaN(dst[j]) || math.IsInf(dst[j], 0) {
			clear(dst)
			return fmt.Errorf("%w: the weighted mean overflows at coordinate %d", ErrClient, j)
		}
	}
	return nil
}

func (plainMean) Name() string { return "mean" }
