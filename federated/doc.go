// Package federated runs federated-learning rounds in process: a [Server]
// samples clients from a population, each sampled [Client] trains on its
// own data and returns a model update, the updates are aggregated (in the
// clear or with secure aggregation, package federated/secagg) and a
// [ServerOptimizer] turns the aggregate into the next global model, with
// client-level differential privacy accounted round by round. Nothing here
// does I/O; a simulated deadline and dropout model stands in for the
// network.
//
// # Rounds
//
// Models are plain []float64 vectors with a [Shape] (named tensors), so any
// Go model fits. Each round samples every client independently with
// probability q = min(1, K·(1+OverSelect)/N) (Poisson sampling; K is
// Config.ClientsPerRound or Config.Fraction·N), and the accountant uses
// that q. [Availability] (see [Simulated]) decides, per sampled client,
// whether and when it drops out and its latency; a client later than
// Config.Deadline is a dropout, and with over-selection only the first K
// reports are used. A round with fewer than Config.MinReports updates
// leaves the model unchanged ([RoundReport].Skipped). Updates are checked
// (length, NaN, infinities, weight) and rejected with [ErrClient]; with
// DP, where a round's failure would reveal something about one client's
// data that no noise covers, a non-finite update counts as a zero update
// and the weight is ignored.
//
// Without secure aggregation the server sees every update and combines
// them with an [Aggregator] (default: the weighted mean). Robust
// aggregators need the individual updates, so they do not compose with
// secure aggregation, which reveals only the sum; a bound on each update's
// norm does compose (clients clip before encoding).
//
// # Secure aggregation
//
// With Config.Secure every round, whatever the dropouts, runs the real
// client and server state machines of a fresh secagg session (SecAgg+;
// SemiHonest by default, Malicious on request) over the sampled clients,
// with the session's Sequence set to the round number. Updates are clipped
// to Config.Clip and encoded by a [Codec]: scaled so that a coordinate is
// at most MaxAbs = floor((2^(B-1)-1)/n) (the headroom check of
// secagg.NewParams: the sum of the n inputs cannot wrap in Z_{2^B}) and
// stochastically rounded; the server decodes the unmasked sum. Without DP
// the weight is capped at SecureConfig.MaxWeight, the update is sent as
// (w/MaxWeight)·clip(Δ) and the weight as a side coordinate, and the
// server divides by the weight sum. The fraction of clipped updates is
// reported every round; with DP it is a count no noise covers, so it is
// reported only as adaptive clipping's noised estimate ([RoundReport]). A semi-honest server does not unmask a sum of
// fewer than MinReports inputs; in the malicious model each client also
// refuses to unmask when the survivor set it is shown is smaller.
//
// # Client-level differential privacy
//
// With DP each client counts once: its update is clipped to the bound C
// and the released average is the noised sum divided by the fixed
// denominator K (McMahan, Ramage, Talwar and Zhang 2018, "Learning
// Differentially Private Recurrent Language Models"), whose sensitivity is
// C/K whatever the number of reports. The accountant is the RDP
// accountant of dp/accounting for the Poisson-subsampled Gaussian with
// sampling rate q and noise multiplier z = DPConfig.NoiseMultiplier,
// converted to (ε, δ) with CKS20 ([Epsilon], the function behind
// `privml dp epsilon`); every round, skipped or not, counts as a step.
//
// Neighbouring runs differ in one client's data, the client staying in
// the population: in one of them its contribution to every sum is zero
// (zero-out neighbours, Kairouz et al. 2021): a zero update and, with
// adaptive clipping, zero in place of its indicator term b - 1/2, whose
// sensitivity is then 1/2 as Andrew et al. assume. Sampling, dropouts,
// lateness, the cut to the first K reports and the skipping of rounds
// below MinReports depend on nothing but the run's randomness, so they
// are the same in both runs and the sums differ by the client's own
// clipped (and rounded) contribution alone (a test checks this end to
// end). Add/remove neighbours, where the client leaves the
// population, are not covered: its presence can push another client out
// of the first K reports (a change of up to 2C), can lift a round over
// MinReports, and with distributed DP adds its own noise to the sum.
//
// [RoundReport].Epsilon, amplified by sampling, holds against anyone who
// sees the models but not which clients took part in which round. The
// server, which runs the rounds, knows that. With central DP it sees the
// updates anyway and must be trusted; with distributed DP the guarantee
// against it is the Gaussian mechanism of multiplier z composed over the
// sums a client's input was in, reported for the most exposed client as
// [RoundReport].ServerEpsilon.
//
//   - [DPCentral]: the server adds Gaussian noise of standard deviation
//     z·Δ after aggregation (Δ = C, plus the rounding term sqrt(d)/Scale
//     with secure aggregation), drawn with dp's exact discrete sampler on
//     a grid of spacing g ≤ σ·2^-36 (rounding to it adds g·sqrt(d) to Δ,
//     see package dp; σ is raised by the factor 1/(1 - z·2^-36·sqrt(d))
//     to cover it, the indicator's noise likewise). It sees the noiseless
//     sum: it must be trusted.
//     [AdaptiveClipping] (Andrew et al. 2021) moves C toward a quantile of
//     the update norms using each client's clip indicator, summed as a
//     side coordinate (securely, with secure aggregation) and noised; the
//     update's noise multiplier becomes z_Δ = (z^-2 - (2σ_b)^-2)^-1/2 so
//     that the pair costs z.
//   - [DPDistributed]: the distributed discrete Gaussian mechanism
//     (Kairouz, Liu and Steinke 2021): each client rotates its clipped,
//     scaled update with a randomized Hadamard transform, rounds it with
//     conditional randomized rounding, adds discrete Gaussian noise (dp's
//     exact sampler) and reduces it into the per-client range (modular
//     clipping), all before masking; the server never sees a noiseless
//     sum. The noise is calibrated for the minimum number of survivors the
//     round accepts: each client adds variance σ²/m with σ = z·Δ (Δ the
//     sensitivity after rounding) and m = Config.MinReports, and the sum
//     is unmasked only if at least m clients contributed, so it carries at
//     least σ² (more survivors, more noise, never less). A client whose
//     masked input reached the server counts, and its input and noise are
//     in the sum, even if it drops out before unmasking. The noise counted
//     is that of honest clients: each client the server controls or
//     colludes with knows its own share, so with c of them among the m the
//     noise the server does not know falls to (m-c)·σ²/m (c corrupted
//     clients lower the effective multiplier to z·sqrt((m-c)/m)); in the
//     semi-honest model the server is trusted to enforce m. A coordinate
//     leaves the per-client range with probability at most [TailBound] per
//     round, which adds T·(1+e^ε)·TailBound to δ over T rounds (twice
//     that with adaptive clipping), reported as [RoundReport].TailDelta:
//     the run's guarantee is (Epsilon, Delta + TailDelta).
//     SecureConfig.Bits defaults to 20; too few bits for the noise is a
//     configuration error. Adaptive clipping works here too: the clients
//     noise their indicators the same way, as a side coordinate.
//
// # Aggregation strategies
//
// A round's client updates are combined by an [Aggregator] and applied to
// the global model by a [ServerOptimizer]. [WeightedMean] with [FedAvg] is
// Federated Averaging (McMahan et al. 2017); [FedAvgM] adds server
// momentum (Hsu et al. 2019); [NewFedAdam], [NewFedYogi] and
// [NewFedAdagrad] are the adaptive server optimizers of Reddi et al.
// (ICLR 2021); [NewServerOptimizer] picks one by name. FedProx (Li et al.
// 2020) changes only local training: clients call [ProxGradient].
// [QFedAvg] is q-FFL (Li et al., ICLR 2020).
//
// # Robust aggregation and secure aggregation
//
// [Median], [TrimmedMean], [Krum] (and Multi-Krum), [Bulyan] and
// [NormBound] bound the influence of up to f Byzantine clients, each
// checking its condition on n and f ([ErrByzantineBound]). Only
// [NormBound] composes with secure aggregation. Secure aggregation shows
// the server nothing but the sum of the clients' inputs, so a rule can run
// under it only if it is a sum of per-client terms. Norm bounding is: each
// client clips its own update to the bound before encoding and masking,
// and the server divides the secure sum of the weighted, clipped updates
// by the secure sum of the weights, which gives the same result as
// [NormBound] in plaintext. Under secure aggregation the server cannot
// check that a client clipped: an honest client's update is bounded, but
// a malicious one is limited only by the codec's modular range. The
// median, trimmed mean, Krum and Bulyan are not sums: they rank or compare
// individual updates, which is exactly what secure aggregation hides, so
// they run only in plaintext mode ([NewServer] refuses them with secure
// aggregation or DP). The server optimizers act on the aggregate alone and
// therefore compose with secure aggregation.
//
// # Reproducibility
//
// Config.InsecureSeed derives every random choice (sampling, fates, the
// clients' Task.Rand, rounding, noise, secure-aggregation keys) from one
// seed, per round and per client, so that a run is repeatable bit for bit
// even with concurrent clients. Without it all randomness comes from
// crypto/rand. [SplitIID] and [SplitDirichlet] (non-IID, Dirichlet over
// labels) split a data set among simulated clients.
//
// # References
//
//   - H. B. McMahan, E. Moore, D. Ramage, S. Hampson, B. Agüera y Arcas.
//     Communication-Efficient Learning of Deep Networks from Decentralized
//     Data. AISTATS 2017 (FedAvg).
//   - H. B. McMahan, D. Ramage, K. Talwar, L. Zhang. Learning
//     Differentially Private Recurrent Language Models. ICLR 2018.
//   - G. Andrew, O. Thakkar, H. B. McMahan, S. Ramaswamy. Differentially
//     Private Learning with Adaptive Clipping. NeurIPS 2021.
//   - P. Kairouz, Z. Liu, T. Steinke. The Distributed Discrete Gaussian
//     Mechanism for Federated Learning with Secure Aggregation. ICML 2021.
//   - P. Kairouz, B. McMahan, S. Song, O. Thakkar, A. Thakurta, Z. Xu.
//     Practical and Private (Deep) Learning without Sampling or
//     Shuffling. ICML 2021 (zero-out neighbours).
//   - T.-M. H. Hsu, H. Qi, M. Brown. Measuring the Effects of
//     Non-Identical Data Distribution for Federated Visual
//     Classification. 2019 (Dirichlet splits).
package federated
