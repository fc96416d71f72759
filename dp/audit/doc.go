// Package audit turns the outcomes of a membership-inference attack into
// an empirical lower bound on the ε of a training algorithm, to be read
// beside the ε its accountant claims: a lower bound above the claim shows
// that the implementation leaks more than the accountant says (a missing
// noise draw, a clipping bug); a lower bound below it is consistent with
// the claim and, for weak attacks, says little more.
//
// # Bounds
//
// [ClopperPearsonEpsilon] is the bound of Jagielski, Ullman and Oprea
// (2020) and Nasr et al. (2021): an (ε, δ)-DP mechanism gives every test
// between "trained with x" and "trained without x" false-positive and
// false-negative rates with FPR + e^ε·FNR ≥ 1 − δ and FNR + e^ε·FPR ≥
// 1 − δ; the rates observed over independent trials (one canary per
// training run) are replaced by their Clopper-Pearson upper confidence
// limits, so the bound holds with the stated confidence.
//
// [OneRunEpsilon] is the bound of Steinke, Nasr and Jagielski (2023),
// "Privacy auditing with one (1) training run" (NeurIPS 2023), Theorem
// 5.2 and the computation of their Appendix D: m canaries are each
// included in the training set independently with probability 1/2, the
// auditor guesses "in" or "out" for r of them and abstains on the rest,
// and v guesses are right. Under (ε, δ)-DP the chance of v or more right
// guesses is at most P[Binomial(r, e^ε/(1+e^ε)) ≥ v] + 2mδ·α with α =
// max over i in 1..v of P[v−i ≤ Binomial(r, e^ε/(1+e^ε)) < v] / i
// ([OneRunPValue]); the bound is the largest ε whose p-value is below
// 1 − confidence. One training run suffices, and the m canaries need not
// be independent trials.
//
// # Attack summaries
//
// [AUC] and [TPRAtFPR] summarise the scores of an attack on members and
// non-members (higher score: more likely a member); [Guesses] turns scores
// into the top-k "in" / bottom-k "out" guesses of the one-run audit.
//
// The functions are pure: no randomness, no I/O. A bad argument (a count
// out of range, a confidence outside (0, 1), NaN) returns an error wrapping
// [ErrInvalid] that names it.
package audit
