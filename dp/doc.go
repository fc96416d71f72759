// Package dp provides differential-privacy noise mechanisms for machine
// learning: exact discrete Gaussian and discrete Laplace noise on a lattice,
// for scalars, whole vectors and int64 counts; their calibration (including
// the analytic Gaussian); per-vector and per-example clipping; selection
// mechanisms; vector aggregation; and privacy budgets.
//
// # Overview
//
// [Sampler] draws noise for a given sigma or scale. [Sampler.AddGaussian]
// and [Sampler.AddLaplace] noise a []float64 in place on a power-of-two
// grid; [Sampler.AddDiscreteGaussian] and [Sampler.AddDiscreteLaplace] noise
// a []int64. [GaussianMechanism] and [LaplaceMechanism] are calibrated once
// from (ε, δ) or ρ and a sensitivity ([GaussianSigma] implements Balle and
// Wang's analytic Gaussian in log space, [GaussianDelta] its inverse;
// [DiscreteGaussianSigma] calibrates exactly on the integers) and
// then noise any number of vectors. [ClipL2], [ClipLInf], [ClipBatchL2] and
// [ClipBatchL2Layers] bound contributions; [VectorSum] and [VectorMean]
// combine clipping and noise. [Sampler.Exponential],
// [Sampler.PermuteAndFlip], [Sampler.TopK] and [AboveThreshold] select.
// [Filter] refuses releases that would overspend a budget; its saved state
// is decoded only into states its constructors and Spend can reach, and
// [Filter.MarshalBinaryMAC] adds an HMAC-SHA256 tag under a caller's key so
// that a modified state is refused (an older state, or another filter's,
// saved under the same key is not detected: see the method).
//
// # Exact noise on a lattice
//
// Floating-point noise leaks: Mironov (2012) recovered inputs from the low
// bits of Laplace samples, and Go's NormFloat64 returns values on a few
// fixed grids. As in Google's and OpenDP's libraries, this package never
// adds floating-point noise. The float64 mechanisms release
//
//	g·(round(x/g) + Z),   Z integer-valued,
//
// where g is a power of two (2^(⌊log2 σ⌋-36), so σ/g ∈ [2^36, 2^37)), and Z
// follows the discrete Gaussian N_ℤ(0, (σ/g)²) or the discrete Laplace with
// P(z) ∝ exp(-|z|·g/b) (Canonne, Kamath and Steinke 2020, "CKS20"). The
// result is computed exactly in integers and rounded once to float64, a
// post-processing. The sampler is exact: its output distribution is the
// stated one, with no truncation of the tails and no approximation of exp.
// It is rejection sampling from a proposal with integer weights in an alias
// table, with each acceptance test V·H < S·exp(-γ) decided in float64
// when a certified error bound (2^-40 against a margin of 2^-30) allows, and
// otherwise (about one test in 2^29) in big-integer interval arithmetic that
// draws more bits of V until the answer is certain. Parameters are used
// exactly as the float64 given: σ and b need not be integers or rationals
// of any special form.
//
// # What is charged for the lattice
//
// Rounding x to the grid moves each coordinate by at most g/2, so two
// neighbouring inputs, after rounding, differ by at most Δ₂ + g·√d in L2
// norm (Δ₁ + g·d in L1) for d coordinates. [GaussianMechanism] and
// [LaplaceMechanism] pay for this in full: a call on d elements uses
// σ·(Δ₂+g√d')/Δ₂ ([GaussianMechanism.SigmaFor]) or (Δ₁+g·d')/ε, d' being
// d rounded up to a power of two. With g ≤ σ·2^-36 this is a relative
// increase of at most (σ/Δ₂)·√d'·2^-36, 1.5e-7 for a million coordinates
// at σ = 10Δ₂. [Sampler.AddGaussian] and
// [Sampler.AddLaplace] take sigma or the scale as given: callers that
// calibrate themselves (DP-SGD) must use Δ₂ + g·√d as the sensitivity, with
// g from [GaussianGranularity] or [LaplaceGranularity]. The selection
// mechanisms round utilities to at most 2^-20·Δ and charge one grid step.
//
// # Privacy guarantees and what is approximate
//
// The discrete Laplace with scale b on integer data of L1 sensitivity Δ is
// exactly (Δ/b)-DP. The discrete Gaussian is exactly Δ²/(2σ²)-zCDP, in one
// dimension and in d dimensions, as for the continuous Gaussian (CKS20).
// On the integers ([GaussianMechanism.AddNoiseInt64]) an (ε, δ) target is
// calibrated exactly on the discrete Gaussian's own privacy profile (CKS20,
// Theorem 7; [DiscreteGaussianDelta], [DiscreteGaussianSigma]): with Δ
// small against σ the continuous calibration would understate δ there by
// up to 56% (ε = 6, δ = 1e-3, Δ = 1). On the float64 grid, this package
// calibrates σ with the continuous analytic Gaussian (Balle and Wang 2018,
// Theorem 8). The discrete Gaussian's exact
// (ε, δ) curve (CKS20) has the same form, δ = P[Z > a] - e^ε·P[Z > a+Δ]
// with a = εσ²/Δ - Δ/2, but with tail sums over the grid in place of tail
// integrals. A tail sum and its integral differ by at most the density at
// the boundary, so in grid units (σ_g ≥ 2^36, Δ_g = Δ·σ_g/σ) the two δ
// differ by a relative amount of order 2(a/σ)²/Δ_g, which grows with σ/Δ:
// by that bound (computed, not measured) about 3e-8 at σ = 10Δ and ε = 1,
// and 2e-5 at ε = 10⁻⁴ and δ ≈ 10⁻⁵ (σ ≈ 4·10⁴Δ). That slack in δ is not charged; callers who need the
// discrete Gaussian's guarantee without it should use the zCDP form
// ([NewGaussianMechanismZCDP]), which is exact.
// Calibration is computed to a relative accuracy of 2^-45 (the discrete
// calibration to 1e-10, returning a σ at which δ was evaluated and met) and
// always rounded in the direction of more noise; [GaussianDelta] agrees with
// Google's reference values to 1e-12.
//
// Costs rounded from decimal input are admitted by [Filter] within a
// relative 1e-12 of the budget (ten requests of 0.1 fit in 1.0); that is
// the only approximation in the accounting.
//
// # Timing
//
// In each trial the sampler does the same work whatever the candidate: it
// reads one uniformly random alias-table column (the choice between the
// column's two steps is branch-free, so neither the cache nor the branch
// predictor sees which step was drawn), uses one 64-bit random word and
// a 32-bit half word (two words for σ ≥ 2^38 or b > 2^37 in integer units,
// never on the float64 grid), a cubic bracket of exp(-y) for
// y = γ(x) - γ(k·w) < 1/2 within the step (the step's factor exp(-γ(k·w))
// being precomputed) and a comparison. For the discrete Laplace, 92-97% of
// trials are accepted before the half word, from six bits of the first
// word compared with a threshold that holds for every value of the step
// (the Laplace is memoryless, so one threshold serves every step within
// nine scales of zero, and the chance of the quicker path does not depend
// on the value drawn there; beyond, with probability e^-9, it may be
// lower). The number of trials is geometric and independent of the
// value finally accepted, as in any rejection sampler; about 1% of trials
// are rejected before the exp. Data-dependent timing remains only in events
// of small probability: the tail beyond 16 table blocks (probability about
// 1e-14 for the Gaussian and 2e-7 for the Laplace) and the exact path
// (about 2^-29 per trial) take longer, and a trial whose bracket is too
// wide to decide (probability at most y³/6: independent of the value for
// the Laplace, and for the Gaussian below 5e-6 at |x| ≤ σ, 1.4e-4 at 3σ)
// also evaluates a table-free degree-12 polynomial. A test bins single calls by |noise| and
// checks that median times do not rise; with a branching alias lookup it
// measured +10 ns for draws beyond 3σ, and none since. Selection
// mechanisms' trial counts depend on the utilities (not on the output).
// Google's library excludes timing from its threat model; its Laplace
// sampler's running time grows with the noise.
//
// # Randomness
//
// By default noise comes from ChaCha8 (math/rand/v2) keyed with 32 bytes
// from crypto/rand, one stream per processor through a sync.Pool, so
// concurrent callers neither share a lock nor a stream; ChaCha8 erases its
// key as it goes (fast key erasure), so a later memory compromise does not
// reveal earlier noise. [WithSeedForTesting] replaces this with a seeded
// stream for reproducible tests; it destroys privacy and its name says so.
// NormFloat64 and the math/rand global source are never used.
//
// # Threat model
//
// The adversary sees released values, knows everything but one record, and
// may measure the running time of the mechanism. The caller must
// guarantee the stated sensitivity: clip with [ClipL2], [ClipBatchL2] or
// [ClipBatchL2Layers] (whose factors are shrunk by a relative
// (d+6)·2^-53 so that even float64 rounding cannot exceed the bound), or
// bound contributions otherwise. The caller must not release the same
// noisy computation twice with fresh noise without paying for it (a
// [Filter] helps) and must keep WithSeedForTesting out of production. Go
// gives no way to wipe memory reliably: sampler state lives in ordinary
// heap objects.
//
// # Aggregations
//
// [VectorSum] and [VectorMean] are L2-bounded vector aggregations, which
// Google's dpagg lacks. For scalar counts, bounded sums and means,
// variances and quantiles use Google's dpagg package directly
// (github.com/google/differential-privacy/go/v3/dpagg): its contribution
// bounding (L0 and L∞) and quantile trees are mature and per-call cost does
// not matter for a single scalar release, so this package does not wrap
// them.
//
// # References
//
//   - C. Canonne, G. Kamath, T. Steinke. The Discrete Gaussian for
//     Differential Privacy. NeurIPS 2020 (arXiv:2004.00010).
//   - I. Mironov. On Significance of the Least Significant Bits for
//     Differential Privacy. CCS 2012.
//   - B. Balle, Y.-X. Wang. Improving the Gaussian Mechanism for
//     Differential Privacy: Analytical Calibration and Optimal Denoising.
//     ICML 2018.
//   - R. McKenna, D. Sheldon. Permute-and-Flip: A New Mechanism for
//     Differentially Private Selection. NeurIPS 2020.
//   - C. Ilvento. Implementing the Exponential Mechanism with Base-2
//     Differential Privacy. CCS 2020.
//   - C. Dwork, A. Roth. The Algorithmic Foundations of Differential
//     Privacy, 2014 (AboveThreshold, Algorithm 1).
//   - D. Durfee, R. Rogers. Practical Differentially Private Top-k
//     Selection with Pay-what-you-get Composition. NeurIPS 2019.
//   - M. Bun, T. Steinke. Concentrated Differential Privacy. TCC 2016.
//   - R. Rogers, A. Roth, J. Ullman, S. Vadhan. Privacy Odometers and
//     Filters: Pay-as-you-Go Composition. NeurIPS 2016.
//   - J. Whitehouse, A. Ramdas, R. Rogers, Z. S. Wu. Fully-Adaptive
//     Composition in Differential Privacy. ICML 2023.
//   - L. Devroye. Non-Uniform Random Variate Generation, 1986.
package dp
