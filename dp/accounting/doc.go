// Package accounting provides privacy accountants for differential privacy:
// Rényi DP (RDP), privacy loss distributions (PLD) and zero-concentrated DP
// (zCDP), with composition, subsampling, conversions to (ε, δ) and inverse
// calibration (the noise for a target ε).
//
// # Events
//
// An [Event] describes what was done to the data: [Gaussian], [Laplace],
// [DiscreteGaussian], [DiscreteLaplace], [RandomizedResponse],
// [ExponentialMechanism], [ZCDP], [PureDP], [ApproxDP]; subsampled by
// [PoissonSampled] or [SampledWithoutReplacement]; combined by
// [SelfComposed] (k times) and [Composed] (heterogeneous). Noise parameters
// are per record (the noise standard deviation over the bound C on one
// record's contribution); the accountant's [Neighbouring] relation turns C
// into the sensitivity: C under [AddRemoveOne], 2C under [ReplaceOne].
// Poisson sampling is accounted under add/remove, sampling without
// replacement under replace-one; the other combination is rejected with
// [ErrUnsupportedEvent] rather than guessed.
//
// # RDP accountant
//
// [RDPAccountant] adds RDP curves on a grid of orders ([DefaultOrders]:
// 1.1 to 10.9 by 0.1, 11 to 63, 128, 256, 512, 1024; or any grid in
// [RDPConfig]) and reports ε with the optimal order.
//
// Exact, up to float64 rounding: the RDP of the Gaussian, the Laplace
// (Mironov 2017, Prop. 6) and k-ary randomized response (where those of an
// ε-DP mechanism fall below 1e-6, their closed forms cancel, and the bound
// αε²/2 of ε²/2-zCDP, Bun and Steinke 2016, is used instead). The
// Poisson-subsampled Gaussian is an upper bound by construction, tight to
// float64 rounding where its value is not tiny: at integer orders the
// binomial expansion (a sum of positive terms, padded by a relative
// 2^-40); at fractional orders the least of three upper bounds: the
// two-sided series of Mironov, Talwar and Zhang 2019, Sec. 3.3, summed with
// the signs of the generalised binomial coefficients (implementations that
// sum absolute values get a looser bound) plus a margin of 2^-48 times the
// sum of its terms' absolute values, the band around the split point, where
// the series converge slowly, integrated by Gauss-Legendre quadrature;
// where A_α - 1 is too small for that margin, the integral of the
// non-negative (1+x)^α - 1 - αx by the trapezoidal rule with an error
// term; and the interpolation of log A_α between the two neighbouring
// integer orders, valid as log A_α is convex in α. (Fractional orders above
// 2000 are bounded by the next integer order, and orders above 1e6 are left
// out, as +Inf, for the subsampled Gaussian.)
//
// Upper bounds: sampling without replacement (Wang, Balle and
// Kasiviswanathan 2019, Thm. 27, interpolated between integer orders by
// their Cor. 10); the discrete Gaussian through its zCDP bound (Canonne,
// Kamath and Steinke 2020, Prop. 5); discrete Laplace, pure and approximate
// DP through the worst ε-DP curve (binary randomized response), with the δ
// of approximate DP composed separately; the exponential mechanism through
// min(ε²/8-zCDP (Cesar and Rogers 2021), that curve).
//
// The conversion to (ε, δ) is always an upper bound: by default
// [ConversionCKS20] (Canonne, Kamath and Steinke 2020, Prop. 12; Balle et
// al. 2020, "Hypothesis testing interpretations and Rényi differential
// privacy", Thm. 21), optionally [ConversionClassic] (Mironov 2017,
// Prop. 3). The two differ visibly: TF Privacy's MNIST setting (q = 0.0025,
// σ = 1.3, 6000 steps, δ = 1e-5) gives ε = 0.7242 and 0.9419.
//
// # PLD accountant
//
// [PLDAccountant] discretises each event's privacy loss distribution on a
// grid with the pessimistic "connect the dots" construction (Doroshenko et
// al. 2022), composes by FFT (gonum's dsp/fourier; a k-fold
// self-composition is one transform raised to the k-th power on a window
// sized by a Chernoff bound) and reads off δ(ε) or ε(δ). The answer is an
// upper bound whose slack is the discretisation error, which shrinks with
// [PLDConfig.Interval]; tails below [PLDConfig.TailMass] are moved to
// infinite loss or up, never dropped. ε(δ) is read off with the sums
// Σ m·e^{-loss} carried scaled to the current loss, so ε far above 709
// (where e^{-ε} underflows) is computed as accurately as small ε. It supports the Gaussian, the Laplace,
// pure DP, and the Poisson-subsampled Gaussian and Laplace (Koskela, Jälkö
// and Honkela 2020; the design of Google's dp_accounting).
//
// # zCDP and the Gaussian
//
// [ZCDPAccountant] adds ρ (Bun and Steinke 2016) and converts with the
// CKS20 bound ([ZCDPDelta], [ZCDPEpsilon], as OpenDP does); when every event
// is a Gaussian it uses the exact Gaussian curve instead. [GaussianDelta]
// and [GaussianEpsilon] are the exact (ε, δ) curve of one Gaussian (Balle
// and Wang 2018, Thm. 8) and [AnalyticGaussianSigma] its calibration.
//
// # Inverse calibration
//
// [CalibrateNoiseMultiplier] finds the smallest noise multiplier whose ε is
// at most a target by a bracketed bisection that only ever returns a σ at
// which ε was evaluated and found within the target; [CalibratePoissonGaussian]
// and [CalibratePoissonGaussianPLD] apply it to DP-SGD.
//
// # Errors
//
// Bad parameters (NaN, a sampling rate outside (0, 1], a noise multiplier
// <= 0, δ outside (0, 1), fewer than one step, ...) return an error wrapping
// [ErrInvalidParameter] that names the parameter and its value; nothing
// panics on bad input.
//
// # Papers
//
//   - I. Mironov. Rényi differential privacy. CSF 2017.
//   - I. Mironov, K. Talwar, L. Zhang. Rényi differential privacy of the
//     sampled Gaussian mechanism. arXiv:1908.10530, 2019.
//   - Y.-X. Wang, B. Balle, S. Kasiviswanathan. Subsampled Rényi differential
//     privacy and analytical moments accountant. AISTATS 2019.
//   - C. Canonne, G. Kamath, T. Steinke. The discrete Gaussian for
//     differential privacy. NeurIPS 2020 (arXiv:2004.00010).
//   - B. Balle, G. Barthe, M. Gaboardi, J. Hsu, T. Sato. Hypothesis testing
//     interpretations and Rényi differential privacy. AISTATS 2020.
//   - B. Balle, Y.-X. Wang. Improving the Gaussian mechanism for
//     differential privacy: analytical calibration and optimal denoising.
//     ICML 2018.
//   - A. Koskela, J. Jälkö, A. Honkela. Computing tight differential privacy
//     guarantees using FFT. AISTATS 2020.
//   - V. Doroshenko, B. Ghazi, P. Kamath, R. Kumar, P. Manurangsi. Connect
//     the dots: tighter discrete approximations of privacy loss
//     distributions. PETS 2022.
//   - M. Bun, T. Steinke. Concentrated differential privacy:
//     simplifications, extensions, and lower bounds. TCC 2016.
//   - M. Abadi et al. Deep learning with differential privacy. CCS 2016.
package accounting
