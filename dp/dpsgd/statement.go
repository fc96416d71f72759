package dpsgd

import (
	"fmt"
	"math"
	"strings"
)

// UserEpsilon returns the user-level ε at userDelta for users contributing
// at most k examples, given the example-level curve exampleEpsilon(δ), by
// group privacy: example-level (ε, δ) gives user-level
// (kε, δ·(e^{kε}-1)/(e^ε-1)) (Vadhan 2017, Lemma 2.2). It searches, by
// bisection on log δ, the largest example δ whose user δ is at most
// userDelta (the topmost one, searching down a decade at a time), and
// returns k·ε there, +Inf if no example δ down to 1e-300 works. For k = 1 it is exampleEpsilon(userDelta).
func UserEpsilon(exampleEpsilon func(delta float64) (float64, error), k int, userDelta float64) (float64, error) {
	if k < 1 {
		return 0, fmt.Errorf("%w: examples per user = %d, want >= 1", ErrInvalidParameter, k)
	}
	if math.IsNaN(userDelta) || userDelta <= 0 || userDelta >= 1 {
		return 0, fmt.Errorf("%w: user delta = %v, want in (0, 1)", ErrInvalidParameter, userDelta)
	}
	if k == 1 {
		return exampleEpsilon(userDelta)
	}
	kf := float64(k)
	// gap(log δ) = log(user δ implied by δ) - log(userDelta)
	gap := func(ld float64) (float64, float64, error) {
		eps, err := exampleEpsilon(math.Exp(ld))
		if err != nil {
			return 0, 0, err
		}
		if math.IsInf(eps, 1) {
			return math.Inf(1), eps, nil
		}
		var ratio float64 // log((e^{kε}-1)/(e^ε-1))
		if eps < 1e-12 {
			ratio = math.Log(kf)
		} else {
			ratio = logExpm1(kf*eps) - logExpm1(eps)
		}
		return ld + ratio - math.Log(userDelta), eps, nil
	}
	// Walk down from userDelta a decade at a time to the first example δ
	// that meets the target, then bisect in that decade: the root found is
	// the largest example δ that works, where ε is smallest.
	hi := math.Log(userDelta)
	lo := hi
	var best float64
	for {
		lo -= math.Ln10
		if lo < math.Log(1e-300) {
			return math.Inf(1), nil
		}
		g, e, err := gap(lo)
		if err != nil {
			return 0, err
		}
		if g <= 0 {
			best = e
			break
		}
		hi = lo
	}
	for hi-lo > 1e-9 {
		mid := (lo + hi) / 2
		g, e, err := gap(mid)
		if err != nil {
			return 0, err
		}
		if g <= 0 {
			lo, best = mid, e
		} else {
			hi = mid
		}
	}
	return kf * best, nil
}

func logExpm1(x float64) float64 {
	if x > 50 {
		return x + math.Log1p(-math.Exp(-x))
	}
	return math.Log(math.Expm1(x))
}

// Statement describes the privacy guarantee of a DP-SGD run, in the manner of
// TF Privacy's compute_dp_sgd_privacy_statement.
type Statement struct {
	Examples        int     // N
	SamplingRate    float64 // q
	NoiseMultiplier float64 // σ
	ClipNorm        float64 // C
	Steps           int     // T
	Delta           float64 // δ of both guarantees
	Accountant      string  // "RDP" or "PLD"
	ExampleEpsilon  float64 // add/remove-one example
	// MaxExamplesPerUser is k; 0 means no bound, and no user-level guarantee.
	MaxExamplesPerUser int
	UserEpsilon        float64 // group privacy; +Inf if no finite bound was found
}

// Statement returns the guarantee of the steps taken so far at delta, with
// a user-level one when maxExamplesPerUser > 0.
func (s *SGD) Statement(delta float64, maxExamplesPerUser int, usePLD bool) (Statement, error) {
	st := Statement{
		Examples: s.cfg.DatasetSize, SamplingRate: s.cfg.SamplingRate,
		NoiseMultiplier: s.cfg.NoiseMultiplier, ClipNorm: s.cfg.ClipNorm,
		Steps: s.Steps(), Delta: delta, Accountant: "RDP", MaxExamplesPerUser: maxExamplesPerUser,
	}
	if usePLD {
		st.Accountant = "PLD"
	}
	if maxExamplesPerUser < 0 {
		return st, fmt.Errorf("%w: examples per user = %d, want >= 0", ErrInvalidParameter, maxExamplesPerUser)
	}
	eps, err := s.Epsilon(delta, usePLD)
	if err != nil {
		return st, err
	}
	st.ExampleEpsilon = eps
	if maxExamplesPerUser > 0 {
		st.UserEpsilon, err = UserEpsilon(func(d float64) (float64, error) { return s.Epsilon(d, usePLD) }, maxExamplesPerUser, delta)
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// String renders the statement as text.
func (st Statement) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "DP-SGD over %d examples with Poisson sampling rate %g (expected batch %.1f), noise multiplier %g, clipping norm %g, %d steps.\n",
		st.Examples, st.SamplingRate, st.SamplingRate*float64(st.Examples), st.NoiseMultiplier, st.ClipNorm, st.Steps)
	b.WriteString("The guarantee covers every intermediate model as well as the final one.\n")
	fmt.Fprintf(&b, "Example-level DP, add-or-remove-one, delta = %g, %s accounting: epsilon = %.3f\n", st.Delta, st.Accountant, st.ExampleEpsilon)
	if st.MaxExamplesPerUser == 0 {
		b.WriteString("No user-level guarantee without a bound on the number of examples per user.\n")
	} else {
		fmt.Fprintf(&b, "User-level DP for at most %d examples per user, delta = %g, %s accounting and group privacy: epsilon = %.3f\n",
			st.MaxExamplesPerUser, st.Delta, st.Accountant, st.UserEpsilon)
	}
	return b.String()
}
