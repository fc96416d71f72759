package dpsgd

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/privml/privml/dp"
	"github.com/privml/privml/dp/accounting"
)

// Sentinel errors; every error of this package wraps one of them or an
// error of dp or dp/accounting.
var (
	// ErrInvalidParameter reports a bad configuration value; the message
	// names it and its value.
	ErrInvalidParameter = errors.New("dpsgd: invalid parameter")
	// ErrInvalidInput reports gradients of the wrong shape or not finite.
	ErrInvalidInput = errors.New("dpsgd: invalid input")
)

// Noise adds independent Gaussian noise of standard deviation sigma to every
// element of dst, leaving dst unchanged on error. [dp.Sampler] implements it.
type Noise interface {
	AddGaussian(dst []float64, sigma float64) error
}

// Config configures [New].
type Config struct {
	// ClipNorm is the L2 bound C on each per-example gradient. Required: > 0.
	ClipNorm float64
	// NoiseMultiplier is σ: the noise standard deviation is σ·C.
	// Required: > 0.
	NoiseMultiplier float64
	// SamplingRate is the Poisson sampling rate q. Required: in (0, 1].
	SamplingRate float64
	// DatasetSize is the number of records N. Required: >= 1.
	DatasetSize int
	// Noise draws the Gaussian noise. Defaults to a [dp.Sampler] keyed from
	// crypto/rand. The grid rounding of a [*dp.Sampler] is charged (see the
	// package documentation) whether it is the default or supplied here.
	Noise Noise
	// Rand is the randomness of batch sampling. Defaults to crypto/rand.
	// A deterministic reader makes the batches predictable: tests only.
	Rand io.Reader
}

// SGD privatises the gradient of each step and records the steps. It is not
// safe for concurrent use.
type SGD struct {
	cfg      Config
	grid     bool // noise is a dp.Sampler, which rounds to a grid
	rng      *bufio.Reader
	ledger   Ledger
	sum      []float64
	factors  []float64
	lastStep accounting.Event
	lastDim  int
	rows     [][]float64
}

// New checks cfg and returns an SGD with no steps recorded.
func New(cfg Config) (*SGD, error) {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("%w: %s = %v, want %s", ErrInvalidParameter, name, v, want)
	}
	switch {
	case !(cfg.ClipNorm > 0) || math.IsInf(cfg.ClipNorm, 0):
		return nil, bad("clip norm", cfg.ClipNorm, "finite and > 0")
	case !(cfg.NoiseMultiplier > 0) || math.IsInf(cfg.NoiseMultiplier, 0):
		return nil, bad("noise multiplier", cfg.NoiseMultiplier, "finite and > 0")
	case !(cfg.SamplingRate > 0) || cfg.SamplingRate > 1:
		return nil, bad("sampling rate", cfg.SamplingRate, "in (0, 1]")
	case cfg.DatasetSize < 1:
		return nil, bad("dataset size", cfg.DatasetSize, ">= 1")
	}
	s := &SGD{cfg: cfg}
	if s.cfg.Noise == nil {
		s.cfg.Noise = dp.NewSampler()
	}
	// A dp.Sampler rounds to its grid whoever built it; the rounding is
	// charged for every one.
	_, s.grid = s.cfg.Noise.(*dp.Sampler)
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	s.rng = bufio.NewReaderSize(r, 4096)
	return s, nil
}

// SampleBatch appends to dst the indices in [0, N) of a Poisson batch: each
// index independently with probability q. The batch may be empty; the step
// must still be taken (with [SGD.Privatize] on no gradients) for the
// accounting to hold.
func (s *SGD) SampleBatch(dst []int) ([]int, error) {
	// u < q with u uniform on {0, 1, ..., 2^53-1}/2^53: probability
	// ceil(q·2^53)/2^53, within 2^-53 of q.
	thr := uint64(math.Ceil(s.cfg.SamplingRate * (1 << 53)))
	var b [8]byte
	for i := range s.cfg.DatasetSize {
		if _, err := io.ReadFull(s.rng, b[:]); err != nil {
			return dst, fmt.Errorf("dpsgd: cannot sample batch: %w", err)
		}
		if binary.LittleEndian.Uint64(b[:])>>11 < thr {
			dst = append(dst, i)
		}
	}
	return dst, nil
}

// Privatize writes to dst the privatised mean gradient of one step:
//
//	dst = (Σ_i clip_C(grads[i]) + N(0, σ²C²·I)) / (q·N)
//
// and records the step. Every gradient must have len(dst) finite elements;
// grads may be empty. On error nothing is recorded and dst is unspecified.
func (s *SGD) Privatize(dst []float64, grads [][]float64) error {
	if len(dst) == 0 {
		return fmt.Errorf("%w: len(dst) = 0", ErrInvalidInput)
	}
	if cap(s.sum) < len(dst) {
		s.sum = make([]float64, len(dst))
	}
	sum := s.sum[:len(dst)]
	clear(sum)
	if cap(s.factors) < len(grads) {
		s.factors = make([]float64, len(grads))
	}
	if err := dp.ClipBatchL2(sum, grads, s.cfg.ClipNorm, s.factors[:len(grads)]); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	std := s.cfg.NoiseMultiplier * s.cfg.ClipNorm
	if err := s.cfg.Noise.AddGaussian(sum, std); err != nil {
		return fmt.Errorf("dpsgd: cannot add noise: %w", err)
	}
	scale := 1 / (s.cfg.SamplingRate * float64(s.cfg.DatasetSize))
	for i, v := range sum {
		dst[i] = v * scale
	}
	s.ledger.Record(s.stepEvent(len(dst)))
	return nil
}

// PrivatizeFlat is [SGD.Privatize] with the per-example gradients stored
// row-major in one slice: example i is flat[i*len(dst):(i+1)*len(dst)].
// len(flat) must be a multiple of len(dst).
func (s *SGD) PrivatizeFlat(dst, flat []float64) error {
	d := len(dst)
	if d == 0 || len(flat)%d != 0 {
		return fmt.Errorf("%w: len(flat) = %d is not a multiple of len(dst) = %d", ErrInvalidInput, len(flat), d)
	}
	n := len(flat) / d
	s.rows = s.rows[:0]
	for i := range n {
		s.rows = append(s.rows, flat[i*d:(i+1)*d:(i+1)*d])
	}
	return s.Privatize(dst, s.rows)
}

// stepEvent is the event of one step on d coordinates.
func (s *SGD) stepEvent(d int) accounting.Event {
	if s.lastStep != nil && s.lastDim == d {
		return s.lastStep
	}
	m := s.cfg.NoiseMultiplier
	if s.grid {
		// The grid rounding of dp.Sampler adds g·√d to the sensitivity C.
		g := dp.GaussianGranularity(m * s.cfg.ClipNorm)
		m = m * s.cfg.ClipNorm / (s.cfg.ClipNorm + g*math.Sqrt(float64(d)))
	}
	s.lastStep = accounting.PoissonSampled{Rate: s.cfg.SamplingRate, Event: accounting.Gaussian{NoiseMultiplier: m}}
	s.lastDim = d
	return s.lastStep
}

// Steps returns the number of steps recorded.
func (s *SGD) Steps() int { return s.ledger.Steps() }

// Ledger returns the record of the steps taken so far.
func (s *SGD) Ledger() *Ledger { return &s.ledger }

// Epsilon returns the example-level ε at delta of the steps taken so far,
// with the RDP accountant (usePLD false; exact RDP, CKS20 conversion,
// default orders) or the PLD accountant (interval 1e-4).
func (s *SGD) Epsilon(delta float64, usePLD bool) (float64, error) {
	return s.ledger.Epsilon(delta, usePLD)
}

// Ledger records the events of a training run, merging consecutive repeats
// of one event into a single self-composition, as the accountants evaluate
// those in one go.
type Ledger struct {
	runs []accounting.SelfComposed
}

// Record appends one occurrence of e.
func (l *Ledger) Record(e accounting.Event) {
	if n := len(l.runs); n > 0 && canCompare(e) && canCompare(l.runs[n-1].Event) && l.runs[n-1].Event == e {
		l.runs[n-1].Count++
		return
	}
	l.runs = append(l.runs, accounting.SelfComposed{Event: e, Count: 1})
}

// canCompare reports whether == on e cannot panic: e holds no Composed
// (whose slice makes it incomparable) at any depth.
func canCompare(e accounting.Event) bool {
	switch e := e.(type) {
	case accounting.Composed:
		return false
	case accounting.SelfComposed:
		return canCompare(e.Event)
	case accounting.PoissonSampled:
		return canCompare(e.Event)
	case accounting.SampledWithoutReplacement:
		return canCompare(e.Event)
	}
	return true
}

// Steps returns the number of events recorded.
func (l *Ledger) Steps() int {
	var n int
	for _, r := range l.runs {
		n += r.Count
	}
	return n
}

// Event returns everything recorded as one event, or nil if nothing is.
func (l *Ledger) Event() accounting.Event {
	switch len(l.runs) {
	case 0:
		return nil
	case 1:
		return l.runs[0]
	}
	evs := make([]accounting.Event, len(l.runs))
	for i, r := range l.runs {
		evs[i] = r
	}
	return accounting.Composed{Events: evs}
}

// Epsilon returns the ε at delta of everything recorded (0 if nothing is).
func (l *Ledger) Epsilon(delta float64, usePLD bool) (float64, error) {
	e := l.Event()
	if usePLD {
		a, err := accounting.NewPLDAccountant(accounting.PLDConfig{})
		if err != nil {
			return 0, err
		}
		if e != nil {
			if err := a.Compose(e); err != nil {
				return 0, err
			}
		}
		return a.Epsilon(delta)
	}
	a, err := accounting.NewRDPAccountant(accounting.RDPConfig{})
	if err != nil {
		return 0, err
	}
	if e != nil {
		if err := a.Compose(e); err != nil {
			return 0, err
		}
	}
	eps, _, err := a.Epsilon(delta)
	return eps, err
}
