package dp

import (
	"fmt"
	"math"
	"sync"
)

// GaussianMechanism adds discrete Gaussian noise calibrated to a privacy
// target and an L2 sensitivity. Calibration happens once, in the
// constructor (for int64 data, on the first AddNoiseInt64 or SigmaInt64
// call); each call only adjusts sigma for the grid rounding of that call's
// length (one multiplication) and never per element.
//
// It is safe for concurrent use.
type GaussianMechanism struct {
	s     *Sampler
	l2    float64
	sigma float64 // for sensitivity l2, before the grid allowance
	g     float64 // grid spacing

	// The integer noise of AddNoiseInt64 is calibrated on first use.
	eps, delta, rho float64 // the privacy target: (eps, delta) or rho > 0
	intOnce         sync.Once
	intSigma        float64
	intErr          error
}

// NewGaussianMechanism returns a mechanism that is (epsilon, delta)-DP for
// queries of L2 sensitivity l2Sensitivity, with sigma from the analytic
// Gaussian calibration ([GaussianSigma]) for float64 data;
// [GaussianMechanism.AddNoiseInt64] uses the exact discrete calibration
// instead ([GaussianMechanism.SigmaInt64]). The only option is
// [WithSeedForTesting].
func NewGaussianMechanism(epsilon, delta, l2Sensitivity float64, opts ...Option) (*GaussianMechanism, error) {
	sigma, err := GaussianSigma(epsilon, delta, l2Sensitivity)
	if err != nil {
		return nil, err
	}
	m, err := newGaussianMechanism(sigma, l2Sensitivity, opts)
	if err != nil {
		return nil, err
	}
	m.eps, m.delta = epsilon, delta
	return m, nil
}

// NewGaussianMechanismZCDP returns a mechanism that is rho-zCDP for queries
// of L2 sensitivity l2Sensitivity ([GaussianSigmaZCDP]).
func NewGaussianMechanismZCDP(rho, l2Sensitivity float64, opts ...Option) (*GaussianMechanism, error) {
	sigma, err := GaussianSigmaZCDP(rho, l2Sensitivity)
	if err != nil {
		return nil, err
	}
	m, err := newGaussianMechanism(sigma, l2Sensitivity, opts)
	if err != nil {
		return nil, err
	}
	m.rho = rho
	return m, nil
}

func newGaussianMechanism(sigma, l2 float64, opts []Option) (*GaussianMechanism, error) {
	if err := checkFloatParam("sigma", sigma); err != nil {
		return nil, err
	}
	return &GaussianMechanism{s: NewSampler(opts...), l2: l2, sigma: sigma, g: GaussianGranularity(sigma)}, nil
}

// Sigma returns the calibrated standard deviation for the stated
// sensitivity, before the allowance for grid rounding.
func (m *GaussianMechanism) Sigma() float64 { return m.sigma }

// Granularity returns the grid spacing g of the output.
func (m *GaussianMechanism) Granularity() float64 { return m.g }

// SigmaFor returns the standard deviation actually used for an n-element
// call: sigma·(Δ + g·√n')/Δ with n' the power of two at or above n, which
// pays for rounding the input to the grid (rounding n up keeps the number of
// distinct sampler tables small).
func (m *GaussianMechanism) SigmaFor(n int) float64 {
	return roundUp(m.sigma * ((m.l2 + m.g*math.Sqrt(float64(pow2AtLeast(n)))) / m.l2))
}

// pow2AtLeast returns the smallest power of two ≥ max(n, 1).
func pow2AtLeast(n int) int {
	p := 1
	for p < n && p < 1<<62 {
		p <<= 1
	}
	return p
}

// AddNoise adds noise to every element of dst in place; the output lies on
// the grid [GaussianMechanism.Granularity]. dst is unchanged on error.
func (m *GaussianMechanism) AddNoise(dst []float64) error {
	if err := checkFinite("dst", dst); err != nil {
		return err
	}
	return m.s.addGridFixed(dst, kindGauss, m.SigmaFor(len(dst)), m.g)
}

// AddNoiseFloat64 returns x plus noise.
func (m *GaussianMechanism) AddNoiseFloat64(x float64) (float64, error) {
	v := [1]float64{x}
	if err := m.AddNoise(v[:]); err != nil {
		return 0, err
	}
	return v[0], nil
}

// addGridFixed adds noise of parameter param on the grid g (a power of two
// with param/g within the table range).
func (s *Sampler) addGridFixed(dst []float64, kind noiseKind, param, g float64) error {
	pg := param / g
	if err := checkIntParam("noise parameter in grid units", pg); err != nil {
		return err
	}
	t := s.tableFor(kind, pg)
	r := s.src.get()
	defer s.src.put(r)
	addGridLoop(dst, t, r, g, 1/g)
	return nil
}

// LaplaceMechanism adds discrete Laplace noise calibrated to epsilon and an
// L1 sensitivity (pure epsilon-DP). Safe for concurrent use.
type LaplaceMechanism struct {
	s     *Sampler
	eps   float64
	l1    float64
	scale float64
	g     float64
}

// NewLaplaceMechanism returns an epsilon-DP mechanism for queries of L1
// sensitivity l1Sensitivity.
func NewLaplaceMechanism(epsilon, l1Sensitivity float64, opts ...Option) (*LaplaceMechanism, error) {
	b, err := LaplaceScale(epsilon, l1Sensitivity)
	if err != nil {
		return nil, err
	}
	if err := checkFloatParam("scale", b); err != nil {
		return nil, err
	}
	return &LaplaceMechanism{s: NewSampler(opts...), eps: epsilon, l1: l1Sensitivity, scale: b, g: LaplaceGranularity(b)}, nil
}

// Scale returns the calibrated scale Δ/ε before the grid allowance.
func (m *LaplaceMechanism) Scale() float64 { return m.scale }

// Granularity returns the grid spacing g of the output.
func (m *LaplaceMechanism) Granularity() float64 { return m.g }

// ScaleFor returns the scale used for an n-element call, (Δ + g·n')/ε with
// n' the power of two at or above n.
func (m *LaplaceMechanism) ScaleFor(n int) float64 {
	return roundUp((m.l1 + m.g*float64(pow2AtLeast(n))) / m.eps)
}

// AddNoise adds noise to every element of dst in place. dst is unchanged on
// error.
func (m *LaplaceMechanism) AddNoise(dst []float64) error {
	if err := checkFinite("dst", dst); err != nil {
		return err
	}
	return m.s.addGridFixed(dst, kindLaplace, m.ScaleFor(len(dst)), m.g)
}

// AddNoiseFloat64 returns x plus noise.
func (m *LaplaceMechanism) AddNoiseFloat64(x float64) (float64, error) {
	v := [1]float64{x}
	if err := m.AddNoise(v[:]); err != nil {
		return 0, err
	}
	return v[0], nil
}

// AddNoiseInt64 returns x plus discrete Laplace noise of scale Δ/ε on the
// integers, with no rounding (the sensitivity should be an integer). It
// returns an error wrapping [ErrOverflow] if the sum does not fit.
func (m *LaplaceMechanism) AddNoiseInt64(x int64) (int64, error) {
	v := [1]int64{x}
	if err := m.s.AddDiscreteLaplace(v[:], m.scale); err != nil {
		return 0, fmt.Errorf("dp: cannot AddNoiseInt64: %w", err)
	}
	return v[0], nil
}

// SigmaInt64 returns the standard deviation σ of the discrete Gaussian
// N_ℤ(0, σ²) that [GaussianMechanism.AddNoiseInt64] adds, calibrated on
// first use for the integer sensitivity Δ = ⌈l2Sensitivity⌉ (integer data
// that differ by at most l2Sensitivity differ by at most that). For a zCDP
// target it is Δ/√(2ρ): the discrete Gaussian is exactly Δ²/(2σ²)-zCDP
// (Canonne, Kamath and Steinke 2020, "CKS20"). For an (ε, δ) target it is
// [DiscreteGaussianSigma], calibrated on the discrete Gaussian's exact
// privacy profile (CKS20, Theorem 7), not on the continuous one, which
// understates δ on the integers (by 3.5% at ε = 1, δ = 1e-5, Δ = 1, and 56%
// at ε = 6, δ = 1e-3). The error is one wrapping [ErrInvalidSensitivity]
// when Δ exceeds 2^53.
func (m *GaussianMechanism) SigmaInt64() (float64, error) {
	m.intOnce.Do(func() {
		d := math.Ceil(m.l2)
		if err := checkIntSensitivity("integer sensitivity ⌈l2Sensitivity⌉", d); err != nil {
			m.intErr = err
			return
		}
		if m.rho > 0 {
			m.intSigma, m.intErr = GaussianSigmaZCDP(m.rho, d)
			return
		}
		m.intSigma, m.intErr = DiscreteGaussianSigma(m.eps, m.delta, d)
	})
	return m.intSigma, m.intErr
}

// AddNoiseInt64 returns x plus discrete Gaussian noise of standard deviation
// [GaussianMechanism.SigmaInt64] on the integers, with no rounding. It
// returns an error wrapping [ErrOverflow] if the sum does not fit.
func (m *GaussianMechanism) AddNoiseInt64(x int64) (int64, error) {
	sigma, err := m.SigmaInt64()
	if err != nil {
		return 0, fmt.Errorf("dp: cannot AddNoiseInt64: %w", err)
	}
	v := [1]int64{x}
	if err := m.s.AddDiscreteGaussian(v[:], sigma); err != nil {
		return 0, fmt.Errorf("dp: cannot AddNoiseInt64: %w", err)
	}
	return v[0], nil
}
