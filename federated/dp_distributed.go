package federated

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/privml/privml/dp"
)

// The distributed discrete Gaussian encoding (Kairouz, Liu and Steinke
// 2021, "The Distributed Discrete Gaussian Mechanism for Federated Learning
// with Secure Aggregation", Algorithm 1). A client
//
//  1. clips its update x to L2 norm c and scales it by s;
//  2. rotates it with the randomized Hadamard transform
//     R = H·D/sqrt(d') (D a diagonal of random signs shared by the round,
//     H the d'×d' Walsh-Hadamard matrix, d' the dimension padded to a power
//     of two), which spreads its norm evenly so that every coordinate is
//     small with high probability;
//  3. rounds it with conditional randomized rounding: each coordinate to
//     floor or ceil with the unbiased probabilities, retried until the
//     rounded vector's norm is at most Δ (their eq. 4, with β = e^-1/2);
//  4. adds discrete Gaussian noise N_Z(0, σ_i²) per coordinate, drawn with
//     dp's exact sampler;
//  5. reduces every coordinate into [-M, M] modulo 2M+1 (modular clipping),
//     M being the per-client bound of the secure-aggregation headroom check.
//
// The server unmasks the sum, undoes the rotation and divides by s.
//
// Calibration. Δ is the L2 sensitivity of one client's rounded vector. The
// round accepts its sum only if at least m = Config.MinReports clients
// contributed, and each client adds variance σ_i² = z²Δ²/m, so that the sum
// carries at least the variance z²Δ² the accountant assumes, however many
// clients beyond m survive (more survivors, more noise: never less). The
// sum of k ≥ m discrete Gaussians is close to, but not exactly, a discrete
// Gaussian; their Theorem 1 bounds the gap by
// τ = 10·Σ_{j=1}^{k-1} exp(-2π²σ_i²·j/(j+1)): the round is ε-concentrated
// DP with ε² = Δ²/(kσ_i²) + 2τd', where a Gaussian of multiplier z gives
// 1/z². The accountant uses the Gaussian's curve; the encoding refuses
// parameters with 2z²τd' > 1e-6, so that the neglected term changes the
// per-round Rényi divergence by less than one part in a million. That
// bound is for a round before sampling; the accountant then applies the
// amplification by sampling of the continuous Gaussian to it, which is
// not proved here for the discrete sum.
//
// Modular clipping. Secure aggregation here sums in Z_{2^B} and refuses
// (by its headroom check) any configuration in which the sum of n inputs
// of at most M could wrap, so each client keeps its coordinates in
// [-M, M]. The scale s is chosen so that a coordinate leaves that range
// with probability at most 2·exp(-k²/2) (a rotated coordinate plus noise
// is sub-Gaussian with variance proxy (sc)²/d' + σ_i², Hoeffding's bound
// for the random signs), k = sqrt(2·ln(2·n·d'/TailBound)): in a round, any
// client's coordinate is reduced modulo 2M+1 with probability at most
// TailBound (the indicator of adaptive clipping, sized the same way, has
// its own TailBound). Outside that event the server's view is exactly the
// sum of the noised vectors, so the guarantee of a run of T rounds is
// (ε, δ + T·(1+e^ε)·TailBound), twice that term with adaptive clipping:
// RoundReport.TailDelta.
type ddgEncoder struct {
	d, dpad int
	scale   float64 // s
	bound2  float64 // Δ², conditional rounding bound
	sigma   float64 // per-client discrete Gaussian standard deviation σ_i
	maxAbs  int64   // M
}

// TailBound bounds, per round, the probability that the distributed-DP
// encoding has to reduce any coordinate modulo 2M+1.
const TailBound = 1e-12

// condRoundingBeta is β of conditional randomized rounding.
var condRoundingBeta = math.Exp(-0.5)

// condRoundBound returns Δ², the squared norm bound of conditional
// randomized rounding of a vector of norm at most a in dimension d
// (Kairouz, Liu and Steinke 2021, eq. 4).
func condRoundBound(a float64, d int) float64 {
	fd := float64(d)
	b1 := a*a + fd/4 + math.Sqrt(2*math.Log(1/condRoundingBeta))*(a+math.Sqrt(fd)/2)
	b2 := (a + math.Sqrt(fd)) * (a + math.Sqrt(fd))
	return min(b1, b2)
}

// newDDGEncoder chooses the scale for d parameters, n clients in the
// session (headroom), at least m of them needed, noise multiplier z and
// bits of secure aggregation.
func newDDGEncoder(d, n, m int, z float64, nbits uint) (*ddgEncoder, error) {
	M, err := headroomBound(nbits, n)
	if err != nil {
		return nil, err
	}
	dpad := 1 << bits.Len(uint(d-1))
	if d == 1 {
		dpad = 1
	}
	k := math.Sqrt(2 * math.Log(2*float64(n)*float64(dpad)/TailBound))
	fits := func(a float64) (float64, bool) {
		delta := math.Sqrt(condRoundBound(a, dpad))
		sigma := z * delta / math.Sqrt(float64(m))
		return sigma, k*math.Sqrt(a*a/float64(dpad)+sigma*sigma)+1 <= float64(M)
	}
	lo, hi := 0.0, float64(M)
	if _, ok := fits(lo); !ok {
		return nil, fmt.Errorf("%w: distributed DP needs more than %d bits for %d clients (noise multiplier %.3g, %d of them needed)", ErrConfig, nbits, n, z, m)
	}
	for range 100 {
		mid := (lo + hi) / 2
		if _, ok := fits(mid); ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	a := lo
	e := &ddgEncoder{d: d, dpad: dpad, bound2: condRoundBound(a, dpad), maxAbs: M}
	e.sigma, _ = fits(a)
	if a <= 0 {
		return nil, fmt.Errorf("%w: distributed DP leaves no room for the update in %d bits", ErrConfig, nbits)
	}
	if tau := ddgTau(e.sigma, n); 2*z*z*tau*float64(dpad) > 1e-6 {
		return nil, fmt.Errorf("%w: per-client noise sigma %.3g is too small for the discrete Gaussian sum to be accounted as a Gaussian (2 z^2 tau d = %.2g); use more bits or a larger noise multiplier", ErrConfig, e.sigma, 2*z*z*tau*float64(dpad))
	}
	e.scale = a // per unit of clip; see setClip
	return e, nil
}

// ddgTau is τ of Kairouz, Liu and Steinke 2021, Theorem 1, for n summands
// of standard deviation sigma.
func ddgTau(sigma float64, n int) float64 {
	t := 0.0
	for j := 1; j < n; j++ {
		t += math.Exp(-2 * math.Pi * math.Pi * sigma * sigma * float64(j) / float64(j+1))
	}
	return 10 * t
}

// scaleFor returns s for the clipping bound c: the scaled clipped update
// has norm sc = a, the solved value.
func (e *ddgEncoder) scaleFor(c float64) float64 { return e.scale / c }

// encode writes the noiseless rounded rotated vector into noiseless and
// the noised, modular-clipped one into dst (both length dpad). x is
// already clipped to c and s = scaleFor(c).
func (e *ddgEncoder) encode(dst, noiseless []int64, x []float64, s float64, signs []float64, r *rand.Rand, sampler *dp.Sampler) error {
	rot := make([]float64, e.dpad)
	for i, v := range x {
		rot[i] = v * s
	}
	rotate(rot, signs)
	const maxTries = 1000
	for try := 0; ; try++ {
		n2 := 0.0
		for i, v := range rot {
			q := stochasticRound(v, r)
			noiseless[i] = q
			n2 += float64(q) * float64(q)
		}
		if n2 <= e.bound2 {
			break
		}
		if try == maxTries {
			return fmt.Errorf("%w: conditional rounding failed %d times", ErrClient, maxTries)
		}
	}
	copy(dst, noiseless)
	if err := sampler.AddDiscreteGaussian(dst, e.sigma); err != nil {
		return fmt.Errorf("federated: distributed noise: %w", err)
	}
	width := 2*e.maxAbs + 1
	for i, v := range dst {
		if v > e.maxAbs || v < -e.maxAbs {
			v = ((v+e.maxAbs)%width+width)%width - e.maxAbs
			dst[i] = v
		}
	}
	return nil
}

// decode writes the first d coordinates of R^-1·sum/s into dst.
func (e *ddgEncoder) decode(dst []float64, sum []int64, s float64, signs []float64) {
	v := make([]float64, e.dpad)
	for i, x := range sum {
		v[i] = float64(x)
	}
	unrotate(v, signs)
	for i := range dst {
		dst[i] = v[i] / s
	}
}

// randomSigns draws the diagonal D of the rotation.
func randomSigns(n int, r *rand.Rand) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 1
		if r.Uint64()&1 == 1 {
			s[i] = -1
		}
	}
	return s
}

// rotate applies R = H·D/sqrt(n) in place; len(v) is a power of two.
func rotate(v, signs []float64) {
	for i := range v {
		v[i] *= signs[i]
	}
	fwht(v)
	inv := 1 / math.Sqrt(float64(len(v)))
	for i := range v {
		v[i] *= inv
	}
}

// unrotate applies R^-1 = D·H/sqrt(n) (H is symmetric and H·H = n·I).
func unrotate(v, signs []float64) {
	fwht(v)
	inv := 1 / math.Sqrt(float64(len(v)))
	for i := range v {
		v[i] *= inv * signs[i]
	}
}

// fwht is the in-place fast Walsh-Hadamard transform (unnormalized).
func fwht(v []float64) {
	for h := 1; h < len(v); h <<= 1 {
		for i := 0; i < len(v); i += h << 1 {
			for j := i; j < i+h; j++ {
				a, b := v[j], v[j+h]
				v[j], v[j+h] = a+b, a-b
			}
		}
	}
}

// indicatorEncoder carries adaptive clipping's indicator under distributed
// DP: a client sends S·(2b_i - 1) plus discrete Gaussian noise of standard
// deviation S·2σ_b/sqrt(m), reduced modulo 2M+1 like the main coordinates,
// so that the sum of at least m inputs carries noise of at least S·2σ_b:
// σ_b on Σ(b_i - 1/2), whose sensitivity is 1/2 (Andrew et al. 2021). The
// integer scale S makes the per-client noise at least 4, where the sum of
// discrete Gaussians is a Gaussian to within a negligible τ.
type indicatorEncoder struct {
	scale  int64
	sigma  float64
	maxAbs int64
}

func newIndicatorEncoder(sigmaB float64, m int, maxAbs int64, n int) (*indicatorEncoder, error) {
	per := 2 * sigmaB / math.Sqrt(float64(m))
	s := max(1, int64(math.Ceil(4/per)))
	e := &indicatorEncoder{scale: s, sigma: float64(s) * per, maxAbs: maxAbs}
	k := math.Sqrt(2 * math.Log(2*float64(n)/TailBound))
	if k*e.sigma+float64(s) > float64(maxAbs) {
		return nil, fmt.Errorf("%w: the adaptive clipping indicator's noise (sigma %.3g) does not fit in the per-client range %d", ErrConfig, e.sigma, maxAbs)
	}
	return e, nil
}

func (e *indicatorEncoder) encode(clipped bool, sampler *dp.Sampler) (int64, error) {
	v := []int64{e.scale * int64(indicatorOf(clipped))}
	if err := sampler.AddDiscreteGaussian(v, e.sigma); err != nil {
		return 0, fmt.Errorf("federated: indicator noise: %w", err)
	}
	width := 2*e.maxAbs + 1
	if v[0] > e.maxAbs || v[0] < -e.maxAbs {
		v[0] = ((v[0]+e.maxAbs)%width+width)%width - e.maxAbs
	}
	return v[0], nil
}

// decode turns the summed side coordinate into the noised Σ(b_i - 1/2).
func (e *indicatorEncoder) decode(sum int64) float64 {
	return float64(sum) / float64(e.scale) / 2
}
