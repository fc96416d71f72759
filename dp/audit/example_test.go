package audit_test

import (
	"fmt"

	"github.com/privml/privml/dp/audit"
)

// A one-run audit: 1,000 canaries, each in the training set with
// probability 1/2; the attack guessed on 200 of them and 180 guesses were
// right. With 95 % confidence training is not (ε, 1e-5)-DP for any ε below
// the bound. (Checked against a separate Python computation of the
// p-value of Steinke et al.'s Appendix D with exact binomial sums.)
func ExampleOneRunEpsilon() {
	eps, err := audit.OneRunEpsilon(1000, 200, 180, 1e-5, 0.95)
	if err != nil {
		panic(err)
	}
	fmt.Printf("empirical epsilon >= %.2f\n", eps)
	// Output: empirical epsilon >= 1.80
}

// Independent training runs, one canary each: 100 runs with the canary and
// 100 without; the attack called 2 of the 100 non-members members and
// missed 30 of the 100 members. (Checked against Clopper-Pearson limits
// found by bisection on exact binomial sums in Python: FPR <= 0.0704,
// FNR <= 0.3998 at 97.5 % each, log((1 - 1e-5 - 0.3998)/0.0704) = 2.143.)
func ExampleClopperPearsonEpsilon() {
	eps, err := audit.ClopperPearsonEpsilon(audit.Outcome{FP: 2, Negatives: 100, FN: 30, Positives: 100}, 1e-5, 0.95)
	if err != nil {
		panic(err)
	}
	fmt.Printf("empirical epsilon >= %.2f\n", eps)
	// Output: empirical epsilon >= 2.14
}
