package audit

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClopperPearsonUpperKnownAnswers(t *testing.T) {
	// k = 0: the limit solves (1-p)^n = 1-c, p = 1 - (1-c)^(1/n).
	u, err := ClopperPearsonUpper(0, 10, 0.95)
	require.NoError(t, err)
	assert.InDelta(t, 1-math.Pow(0.05, 0.1), u, 1e-9) // 0.258866
	assert.InDelta(t, 0.258866, u, 1e-6)
	// k = n-1: the limit solves p^n = 1-c ... for the upper limit of n-1
	// successes, P[Bin(n,p) <= n-1] = 1 - p^n = 1-c, p = c^(1/n).
	u, err = ClopperPearsonUpper(4, 5, 0.9)
	require.NoError(t, err)
	assert.InDelta(t, math.Pow(0.9, 0.2), u, 1e-9)
	u, err = ClopperPearsonUpper(7, 7, 0.9)
	require.NoError(t, err)
	assert.Equal(t, 1.0, u)
}

func TestClopperPearsonEpsilonKnownAnswer(t *testing.T) {
	// A perfect test over 100 + 100 independent trials, delta 0, 95 %:
	// each rate's limit at 97.5 % is 1 - 0.025^(1/100), and the bound is
	// log((1 - u)/u).
	u := 1 - math.Pow(0.025, 0.01)
	want := math.Log((1 - u) / u) // 3.2813
	got, err := ClopperPearsonEpsilon(Outcome{FP: 0, Negatives: 100, FN: 0, Positives: 100}, 0, 0.95)
	require.NoError(t, err)
	assert.InDelta(t, want, got, 1e-9)
	assert.InDelta(t, 3.2813, got, 1e-4)

	// A useless test (half wrong on each side) shows nothing.
	got, err = ClopperPearsonEpsilon(Outcome{FP: 50, Negatives: 100, FN: 50, Positives: 100}, 1e-5, 0.95)
	require.NoError(t, err)
	assert.Equal(t, 0.0, got)

	// Asymmetric: FP 1/1000, FN 500/1000 (TPR 1/2 at FPR 1e-3): the
	// bound is log((1 - fnrU)/fprU) with both limits at 97.5 %.
	fpr, _ := ClopperPearsonUpper(1, 1000, 0.975)
	fnr, _ := ClopperPearsonUpper(500, 1000, 0.975)
	got, err = ClopperPearsonEpsilon(Outcome{FP: 1, Negatives: 1000, FN: 500, Positives: 1000}, 0, 0.95)
	require.NoError(t, err)
	assert.InDelta(t, math.Log((1-fnr)/fpr), got, 1e-9)
}

func TestOneRunPValueKnownAnswers(t *testing.T) {
	// delta 0, all 4 guesses right, eps = log 3: q = 3/4, p = q^4.
	p, err := OneRunPValue(10, 4, 4, math.Log(3), 0)
	require.NoError(t, err)
	assert.InDelta(t, 0.31640625, p, 1e-12)

	// delta > 0, eps 0 (q = 1/2), r = v = 2, m = 10, delta = 0.01:
	// P[B >= 2] = 1/4; alpha = max(P[B=1]/1, P[B<=1]/2) = max(1/2, 3/8)
	// = 1/2; p = 1/4 + 1/2 * 0.01 * 2 * 10 = 0.35.
	p, err = OneRunPValue(10, 2, 2, 0, 0.01)
	require.NoError(t, err)
	assert.InDelta(t, 0.35, p, 1e-12)

	// r = 3, v = 2, eps = 0: P[B >= 2] = 4/8; alpha = max(P[B=1] = 3/8,
	// (3/8 + 1/8)/2 = 1/4) = 3/8; m = 5, delta = 0.1: p = 1/2 + 3/8 = 0.875.
	p, err = OneRunPValue(5, 3, 2, 0, 0.1)
	require.NoError(t, err)
	assert.InDelta(t, 0.875, p, 1e-12)

	// Capped at 1; v = 0 has p-value 1.
	p, err = OneRunPValue(100, 3, 2, 0, 0.5)
	require.NoError(t, err)
	assert.Equal(t, 1.0, p)
	p, err = OneRunPValue(100, 3, 0, 2, 0)
	require.NoError(t, err)
	assert.Equal(t, 1.0, p)
}

func TestOneRunEpsilonKnownAnswer(t *testing.T) {
	// delta 0, 10 of 10 right, 95 %: p(eps) = q^10 < 0.05 iff
	// q < 0.05^(1/10), so the bound is logit(0.05^(1/10)) = 1.05187.
	q := math.Pow(0.05, 0.1)
	want := math.Log(q / (1 - q))
	got, err := OneRunEpsilon(10, 10, 10, 0, 0.95)
	require.NoError(t, err)
	assert.InDelta(t, want, got, 2e-6)
	assert.InDelta(t, 1.05187, got, 1e-4)

	// 4 of 4 right cannot reject even eps = 0 at 95 % (p = 1/16 > 0.05).
	got, err = OneRunEpsilon(10, 4, 4, 0, 0.95)
	require.NoError(t, err)
	assert.Equal(t, 0.0, got)

	// The bound with delta > 0 is below the bound with delta = 0, and the
	// p-value at the bound is just below 1 - confidence.
	e0, err := OneRunEpsilon(1000, 500, 450, 0, 0.95)
	require.NoError(t, err)
	e1, err := OneRunEpsilon(1000, 500, 450, 1e-5, 0.95)
	require.NoError(t, err)
	assert.Less(t, e1, e0)
	p, _ := OneRunPValue(1000, 500, 450, e1, 1e-5)
	assert.Less(t, p, 0.05)
	p, _ = OneRunPValue(1000, 500, 450, e1+1e-5, 1e-5)
	assert.GreaterOrEqual(t, p, 0.05)
}

// TestOneRunEpsilonValidUnderRandomizedResponse simulates the worst case of
// Theorem 5.2: every guess right independently with probability
// e^eps/(1+e^eps) (randomized response at eps = 1). The 95 % bound may
// exceed 1 in at most 5 % of runs; over 400 seeded runs we allow 35
// (expected at most 20; P[Binomial(400, 0.05) > 35] < 1e-3 is the
// false-failure rate for a correct implementation). The same runs at
// eps = 4 must give bounds well above 1 (power).
func TestOneRunEpsilonValidUnderRandomizedResponse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const m, runs = 1000, 400
	exceed := 0
	for range runs {
		q := 1 / (1 + math.Exp(-1))
		v := 0
		for range m {
			if rng.Float64() < q {
				v++
			}
		}
		e, err := OneRunEpsilon(m, m, v, 0, 0.95)
		require.NoError(t, err)
		if e > 1 {
			exceed++
		}
	}
	assert.LessOrEqual(t, exceed, 35, "bound above the true epsilon in %d of %d runs", exceed, runs)

	q := 1 / (1 + math.Exp(-4))
	v := 0
	for range m {
		if rng.Float64() < q {
			v++
		}
	}
	e, err := OneRunEpsilon(m, m, v, 1e-5, 0.95)
	require.NoError(t, err)
	assert.Greater(t, e, 3.0)
	assert.Less(t, e, 4.5)
}

func TestAUCAndTPR(t *testing.T) {
	auc, err := AUC([]float64{3, 4}, []float64{1, 3})
	require.NoError(t, err)
	assert.InDelta(t, 0.875, auc, 1e-12) // (1 + 1/2 + 1 + 1) / 4

	auc, err = AUC([]float64{1, 2}, []float64{5, 6})
	require.NoError(t, err)
	assert.Equal(t, 0.0, auc)

	var neg, pos []float64
	for i := 1; i <= 100; i++ {
		neg = append(neg, float64(i))
		pos = append(pos, float64(i+49))
	}
	// FPR 1 %: one non-member (100) may lie above: threshold 99, members
	// 100..149 pass.
	tpr, err := TPRAtFPR(pos, neg, 0.01)
	require.NoError(t, err)
	assert.InDelta(t, 0.50, tpr, 1e-12)
	// FPR 0.1 % of 100 allows none: threshold 100.
	tpr, err = TPRAtFPR(pos, neg, 0.001)
	require.NoError(t, err)
	assert.InDelta(t, 0.49, tpr, 1e-12)
	tpr, err = TPRAtFPR(pos, neg, 1)
	require.NoError(t, err)
	assert.Equal(t, 1.0, tpr)
}

func TestGuesses(t *testing.T) {
	scores := []float64{0.9, 0.1, 0.8, 0.2, 0.5, 0.5}
	in := []bool{true, false, false, false, true, false}
	r, v, err := Guesses(scores, in, 2, 2)
	require.NoError(t, err)
	// top 2: 0.9 (in, right), 0.8 (out, wrong); bottom 2: 0.1 (out,
	// right), 0.2 (out, right).
	assert.Equal(t, 4, r)
	assert.Equal(t, 3, v)
}

func TestBadArguments(t *testing.T) {
	_, err := ClopperPearsonUpper(3, 2, 0.95)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = ClopperPearsonUpper(1, 2, 1)
	assert.ErrorContains(t, err, "confidence = 1")
	_, err = ClopperPearsonEpsilon(Outcome{FP: 1, Negatives: 0, FN: 0, Positives: 3}, 0, 0.9)
	assert.ErrorContains(t, err, "false positives")
	_, err = ClopperPearsonEpsilon(Outcome{Negatives: 1, Positives: 1}, math.NaN(), 0.9)
	assert.ErrorContains(t, err, "delta = NaN")
	_, err = OneRunPValue(3, 4, 1, 1, 0)
	assert.ErrorContains(t, err, "r = 4 guesses")
	_, err = OneRunPValue(5, 4, 1, math.Inf(1), 0)
	assert.ErrorContains(t, err, "epsilon = +Inf")
	_, err = OneRunEpsilon(5, 4, 1, 0, math.NaN())
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = AUC(nil, []float64{1})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = AUC([]float64{math.NaN()}, []float64{1})
	assert.ErrorContains(t, err, "member score 0 is NaN")
	_, err = TPRAtFPR([]float64{1}, []float64{1}, 2)
	assert.ErrorContains(t, err, "fpr = 2")
	_, _, err = Guesses([]float64{1}, []bool{true, false}, 1, 0)
	assert.ErrorContains(t, err, "1 scores for 2 canaries")
	_, _, err = Guesses([]float64{1, 2}, []bool{true, false}, 2, 1)
	assert.ErrorIs(t, err, ErrInvalid)
}
