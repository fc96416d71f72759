// Package dpsgd implements one step of differentially private stochastic
// gradient descent (DP-SGD, Abadi et al. 2016) and its privacy accounting.
//
// The caller's model computes per-example gradients; [SGD.Privatize] clips
// each to L2 norm C, sums them, adds Gaussian noise of standard deviation
// σ·C to the sum, divides by the expected batch size q·N (never by the
// actual batch size, which would leak it) and records the step.
// [SGD.SampleBatch] draws the Poisson batch: each of the N records is kept
// independently with probability q, from crypto/rand unless a reader is
// injected.
//
// # Why a package of its own
//
// A DP-SGD step needs both noise (package dp) and an accountant (package
// dp/accounting). Package dp imports nothing of privml but internal, and
// dp/accounting may import dp, so the step cannot live in dp without a
// cycle; it lives here, above both.
//
// # Noise
//
// The default [Noise] is dp's [dp.Sampler], which draws exact discrete
// Gaussian noise (Canonne, Kamath and Steinke 2020) on a fine power-of-two
// grid, keyed from crypto/rand, and is accounted as the continuous Gaussian
// (on that grid, σ ≥ 2^36 grid steps, the two privacy profiles differ by
// the tiny amount described in package dp's documentation, which is not
// charged). Rounding to the grid adds g·√d to the sensitivity, and the
// recorded noise multiplier is reduced accordingly (by a relative
// 2^-36·σ·√d/C or so) for every [*dp.Sampler], the default one or one the
// caller supplies in [Config.Noise]. Any other caller-supplied [Noise] is
// accounted as a continuous Gaussian of the requested σ: it must be one.
//
// # Privacy
//
// The steps are recorded as a [accounting.SelfComposed] Poisson-sampled
// Gaussian in a [Ledger], which any accountant of dp/accounting can
// evaluate. [SGD.Epsilon] uses the RDP accountant (exact, CKS20 conversion)
// or the PLD accountant. The guarantee is example-level under add/remove-one
// and protects every intermediate model, not only the last.
// [SGD.Statement] also gives a user-level guarantee for users contributing
// at most k examples, through group privacy: (ε, δ)-DP for one example
// implies (kε, δ·(e^{kε}-1)/(e^ε-1))-DP for k (Vadhan 2017, Lemma 2.2),
// solved for the example δ that meets the user δ. This is an upper bound and
// can be loose or infinite for large k.
//
// # Papers
//
//   - M. Abadi et al. Deep learning with differential privacy. CCS 2016.
//   - I. Mironov, K. Talwar, L. Zhang. Rényi differential privacy of the
//     sampled Gaussian mechanism. 2019.
//   - C. Canonne, G. Kamath, T. Steinke. The discrete Gaussian for
//     differential privacy. NeurIPS 2020.
//   - S. Vadhan. The complexity of differential privacy. 2017.
package dpsgd
