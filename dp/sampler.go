package dp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
)

// Sampler draws exact discrete Gaussian and discrete Laplace noise, on the
// integers or on a power-of-two grid of float64 values. It holds no privacy
// parameters: the caller chooses sigma or the scale (see [GaussianSigma],
// [LaplaceScale] or the calibrated mechanisms [GaussianMechanism] and
// [LaplaceMechanism]).
//
// A Sampler is safe for concurrent use. By default each goroutine draws from
// its own ChaCha8 stream keyed from crypto/rand; with [WithSeedForTesting]
// the output is reproducible and not private. The zero value is not
// usable; call [NewSampler].
type Sampler struct {
	src   *source
	cache [tableCacheSize]atomic.Pointer[table] // recently built tables
	next  atomic.Uint32                         // round-robin slot for the next insertion
}

// tableCacheSize is the number of (kind, parameter) tables a Sampler keeps.
const tableCacheSize = 8

// NewSampler returns a Sampler. It takes no options other than
// [WithSeedForTesting].
func NewSampler(opts ...Option) *Sampler {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return &Sampler{src: newSource(c)}
}

// tableFor returns the sampler table for (kind, param), building it once
// per distinct parameter (tens of microseconds) and keeping the last eight.
func (s *Sampler) tableFor(kind noiseKind, param float64) *table {
	for i := range s.cache {
		if t := s.cache[i].Load(); t != nil && t.kind == kind && t.param == param {
			return t
		}
	}
	t := newTable(kind, param)
	s.cache[s.next.Add(1)%tableCacheSize].Store(t)
	return t
}

// gridShift is the number of bits between the noise parameter and the grid:
// the float64 mechanisms use the granularity g = 2^(⌊log2 σ⌋ - gridShift),
// so that σ/g lies in [2^36, 2^37).
const gridShift = 36

// GaussianGranularity returns the grid spacing g used by [Sampler.AddGaussian]
// for noise of standard deviation sigma: the power of two
// 2^(⌊log2 sigma⌋ - 36), so that sigma/g lies in [2^36, 2^37). Rounding a
// d-dimensional input to this grid adds at most g·√d to its L2 sensitivity
// (and g·d to its L1 sensitivity); see the package documentation.
func GaussianGranularity(sigma float64) float64 {
	return math.Ldexp(1, math.Ilogb(sigma)-gridShift)
}

// LaplaceGranularity returns the grid spacing g used by [Sampler.AddLaplace]
// for a scale b: 2^(⌊log2 b⌋ - 36).
func LaplaceGranularity(scale float64) float64 { return GaussianGranularity(scale) }

// minFloatParam keeps the grid spacing a normal float64.
const (
	minFloatParam = 0x1p-960
	maxFloatParam = 0x1p960
)

func checkFloatParam(name string, v float64) error {
	if !finite(v) || v < minFloatParam || v > maxFloatParam {
		return paramErr(ErrInvalidParameter, name, v, "must be finite and in [2^-960, 2^960]")
	}
	return nil
}

// AddGaussian adds discrete Gaussian noise of standard deviation sigma to
// every element of dst, on the grid g = [GaussianGranularity](sigma):
//
//	dst[i] ← g · (round(dst[i]/g) + Z_i),  Z_i ~ N_ℤ(0, (sigma/g)²) i.i.d.
//
// The noise is exact (CKS20 discrete Gaussian, not an approximation of a
// continuous one) and the result lies on the grid. Rounding to the grid is
// part of the mechanism: the caller's L2 sensitivity Δ becomes Δ + g·√len(dst),
// at most Δ + sigma·2^-36·√len(dst). Sigma is computed once per call, and
// dst is left unchanged on error. AddGaussian does not allocate.
func (s *Sampler) AddGaussian(dst []float64, sigma float64) error {
	if err := checkFloatParam("sigma", sigma); err != nil {
		return err
	}
	return s.addGrid(dst, kindGauss, sigma)
}

// AddLaplace adds discrete Laplace noise of scale b to every element of dst,
// on the grid g = [LaplaceGranularity](b): dst[i] ← g·(round(dst[i]/g) + Z_i)
// with P(Z_i = z) ∝ exp(-|z|·g/b). Rounding adds at most g·len(dst) to the
// caller's L1 sensitivity. dst is left unchanged on error.
func (s *Sampler) AddLaplace(dst []float64, scale float64) error {
	if err := checkFloatParam("scale", scale); err != nil {
		return err
	}
	return s.addGrid(dst, kindLaplace, scale)
}

func (s *Sampler) addGrid(dst []float64, kind noiseKind, param float64) error {
	if err := checkFinite("dst", dst); err != nil {
		return err
	}
	e := math.Ilogb(param) - gridShift
	g := math.Ldexp(1, e)
	inv := math.Ldexp(1, -e)
	t := s.tableFor(kind, math.Ldexp(param, -e))
	r := s.src.get()
	defer s.src.put(r)
	addGridLoop(dst, t, r, g, inv)
	return nil
}

// noiseBuf returns a buffer for noise drawn a batch at a time: 256
// samples for vectors, so that the trial loop runs without a call per
// sample, and a small one for short inputs, which would otherwise pay for
// clearing the large one.
func noiseBuf(n int) []int64 {
	if n <= 8 {
		return make([]int64, 8)
	}
	return make([]int64, 256)
}

func addGridLoop(dst []float64, t *table, r *rand.ChaCha8, g, inv float64) {
	// Inputs of magnitude 2^52·g or more are already multiples of g.
	big := 0x1p52 * g
	st := stream{r: r}
	z := noiseBuf(len(dst))
	for len(dst) > 0 {
		n := min(len(dst), len(z))
		t.fill(z[:n], &st)
		for i, v := range dst[:n] {
			kg := v
			if math.Abs(v) < big {
				kg = math.RoundToEven(v*inv) * g
			}
			// kg and the noise are multiples of g; the float64 sum is
			// their correctly rounded value, a post-processing of the
			// exact sum.
			dst[i] = kg + float64(z[i])*g
		}
		dst = dst[n:]
	}
}

// checkIntParam validates sigma or b for the integer samplers.
func checkIntParam(name string, v float64) error {
	if !finite(v) || v < minParam || v > maxParam {
		return paramErr(ErrInvalidParameter, name, v, "must be finite and in [2^-20, 2^50]")
	}
	return nil
}

// DiscreteGaussian returns one exact sample of the discrete Gaussian
// N_ℤ(0, sigma²) on the integers: P(z) ∝ exp(-z²/(2·sigma²)). Sigma is used
// exactly as the float64 given and must lie in [2^-20, 2^50].
func (s *Sampler) DiscreteGaussian(sigma float64) (int64, error) {
	if err := checkIntParam("sigma", sigma); err != nil {
		return 0, err
	}
	t := s.tableFor(kindGauss, sigma)
	r := s.src.get()
	z := t.sample(&stream{r: r})
	s.src.put(r)
	return z, nil
}

// DiscreteLaplace returns one exact sample of the discrete Laplace
// (two-sided geometric) distribution with P(z) ∝ exp(-|z|/scale), z ∈ ℤ.
// Adding it to an integer query of L1 sensitivity Δ is (Δ/scale)-DP.
func (s *Sampler) DiscreteLaplace(scale float64) (int64, error) {
	if err := checkIntParam("scale", scale); err != nil {
		return 0, err
	}
	t := s.tableFor(kindLaplace, scale)
	r := s.src.get()
	z := t.sample(&stream{r: r})
	s.src.put(r)
	return z, nil
}

// AddDiscreteGaussian adds independent N_ℤ(0, sigma²) samples to every
// element of dst. If a sum would overflow int64 it returns an error wrapping
// [ErrOverflow] naming the index; dst is then partly noised and must be
// discarded.
func (s *Sampler) AddDiscreteGaussian(dst []int64, sigma float64) error {
	if err := checkIntParam("sigma", sigma); err != nil {
		return err
	}
	return s.addInt(dst, s.tableFor(kindGauss, sigma))
}

// AddDiscreteLaplace adds independent discrete Laplace samples of the given
// scale to every element of dst, like [Sampler.AddDiscreteGaussian].
func (s *Sampler) AddDiscreteLaplace(dst []int64, scale float64) error {
	if err := checkIntParam("scale", scale); err != nil {
		return err
	}
	return s.addInt(dst, s.tableFor(kindLaplace, scale))
}

func (s *Sampler) addInt(dst []int64, t *table) error {
	r := s.src.get()
	defer s.src.put(r)
	st := stream{r: r}
	z := noiseBuf(len(dst))
	for off := 0; off < len(dst); off += len(z) {
		part := dst[off:min(off+len(z), len(dst))]
		t.fill(z[:len(part)], &st)
		for i, v := range part {
			sum := v + z[i]
			// Signed overflow: both operands differ in sign from the sum
			// (branch-free, as the sign of the noise is random).
			if (v^sum)&(z[i]^sum) < 0 {
				return fmt.Errorf("%w: dst[%d] = %d plus noise does not fit in int64", ErrOverflow, off+i, v)
			}
			part[i] = sum
		}
	}
	return nil
}
