package dp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fastDecision is the float64 half of the body acceptance test in sample
// (the cubic bracket, then the degree-12 exp): it returns (accept, true)
// when the float64 comparison is certain.
func fastDecision(t *table, it int, x int64, acc uint64) (bool, bool) {
	u := x & int64(t.wMask)
	y := float64(u) * (float64(2*x-u)*t.c2 + t.c1)
	a := float64(int64(acc>>t.accShift)) * t.cell
	if ok, sure := t.bracket(t.pInv[it], y, a); sure {
		return ok, true
	}
	return t.decideFloat(t.pInv[it], acc, x)
}

// TestFastPathAgreesWithExact checks the certified float64 margin: whenever
// the float64 test decides, the exact big-integer comparison of the same
// uniform must decide the same way. Half of the cases put the uniform just
// outside the margin (within 2^-28 of the acceptance probability), where an
// error in the margin would show.
func TestFastPathAgreesWithExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	r := rand.NewChaCha8([32]byte{1})
	decided := 0
	for _, c := range []struct {
		kind  noiseKind
		param float64
	}{{kindGauss, 0.8}, {kindGauss, 13.7}, {kindGauss, 0x1p36 * 1.41}, {kindGauss, 0x1p47 * 1.9},
		{kindLaplace, 0.3}, {kindLaplace, 5.5}, {kindLaplace, 0x1p36 * 1.2}, {kindLaplace, 0x1p49 * 1.7}} {
		tb := newTable(c.kind, c.param)
		for i := range 1500 {
			it := rng.IntN(tb.nBody)
			x := int64(it)<<tb.wBits | int64(rng.Uint64()&tb.wMask)
			var acc uint64
			if tb.accBits == 64 {
				acc = rng.Uint64()
			} else {
				acc = rng.Uint64() >> (64 - tb.accBits)
			}
			if i%2 == 1 {
				// Put V just outside the margin around p.
				xf := float64(x)
				p := tb.scaleOf(it) / float64(tb.h[it]) * math.Exp(-(xf*tb.c2+tb.c1)*xf)
				off := 1 + (fastMargin*1.0001)*float64(1-2*(i/2%2))
				v := math.Min(p*off, 1-0x1p-53)
				acc = uint64(v * math.Ldexp(1, int(tb.accBits)))
			}
			fast, ok := fastDecision(tb, it, x, acc)
			if !ok {
				continue
			}
			decided++
			num, den := tb.gammaExact(x)
			if exact := exactLess(r, acc, tb.accBits, tb.h[it], tb.scaleOf(it), num, den); exact != fast {
				t.Fatalf("kind %d param %g x %d acc %d: float64 says %v, exact says %v", c.kind, c.param, x, acc, fast, exact)
			}
		}
	}
	if decided < 6000 {
		t.Errorf("only %d cases decided by the float64 path", decided)
	}
}

// TestCubicBracket checks the bracket the sampler decides most trials
// with: for y in [0, 1/2], 1-y+y²/2-y³/6 ≤ exp(-y) ≤ 1-y+y²/2, and a
// uniform placed just inside the margin on either side is never decided
// against the truth.
func TestCubicBracket(t *testing.T) {
	tb := newTable(kindLaplace, 0x1p36*1.3)
	rng := rand.New(rand.NewPCG(3, 4))
	decided := 0
	for i := range 200_000 {
		y := rng.Float64() / 2
		if i%4 == 0 {
			y = rng.Float64() * 0x1p-8
		}
		e := math.Exp(-y)
		y3 := y * y * y / 6
		lo := (1 - y) + (y*y*0.5 - y3)
		if lo > e*(1+0x1p-50) || lo+y3 < e*(1-0x1p-50) {
			t.Fatalf("y = %g: bracket [%g, %g] misses exp(-y) = %g", y, lo, lo+y3, e)
		}
		pi := 1 - rng.Float64()*0x1p-20
		p := pi * e
		// a just below and just above p, by twice the certified margin.
		for _, a := range []float64{p * (1 - 2*fastMargin), p * (1 + 2*fastMargin)} {
			a = math.Floor(a/tb.cell) * tb.cell
			ok, sure := tb.bracket(pi, y, a)
			if !sure {
				continue
			}
			decided++
			// Accept needs every V in [a, a+cell) below p; reject needs
			// every V above it.
			if ok && a+tb.cell > p || !ok && a < p {
				t.Fatalf("y = %g pi = %g a = %g: bracket says %v, p = %g", y, pi, a, ok, p)
			}
		}
	}
	if decided < 50_000 {
		t.Errorf("bracket decided only %d of 400000 near-boundary cases", decided)
	}
}

// TestQuickThresholds checks the integer fast path of the discrete Laplace:
// Q_k/2^6 never exceeds the acceptance probability of the last (least
// likely) value of step k, and at the float64 grid's parameters it decides
// the bulk of trials (Q_k/2^6 ≥ 0.92 wherever H_k is not tiny). Gaussian
// and wide tables have no quick thresholds.
func TestQuickThresholds(t *testing.T) {
	for _, param := range []float64{0.2, 1, 5.5, 300.7, 0x1p36, 0x1p36 * 1.3, 0x1p37 * 0.999} {
		tb := newTable(kindLaplace, param)
		q := tb.quickThresholds()
		for k := range tb.nBody {
			last := int64(k+1)<<tb.wBits - 1
			p := tb.scaleOf(k) / float64(tb.h[k]) * math.Exp(-tb.gamma(last))
			if v := float64(q[k]) / (1 << quickBits); v > p*(1-0x1p-40) {
				t.Fatalf("b = %g step %d: quick threshold %g above the acceptance probability %g", param, k, v, p)
			}
			if param >= 0x1p36 && tb.h[k] >= 1<<20 && float64(q[k]) < 0.92*(1<<quickBits) {
				t.Errorf("b = %g step %d: quick threshold %d/64 decides too few trials", param, k, q[k])
			}
			// The chance of the quick path must not depend on the value
			// within nine scales of zero (|x| > 9b has probability e^-9).
			if float64(int64(k+1)<<tb.wBits) <= 9*param && q[k] != q[0] {
				t.Errorf("b = %g step %d: quick threshold %d differs from step 0's %d", param, k, q[k], q[0])
			}
		}
		for i := range tb.cols {
			c := tb.cols[i]
			if got, want := c.meta>>qShift&(1<<quickBits-1), q[c.self()]; got != want {
				t.Fatalf("b = %g column %d: packed quick threshold %d, want %d", param, i, got, want)
			}
		}
	}
	for _, tb := range []*table{newTable(kindGauss, 0x1p36*1.3), newTable(kindLaplace, 0x1p45)} {
		for _, v := range tb.quickThresholds() {
			if v != 0 {
				t.Fatalf("kind %d param %g: quick threshold %d, want none", tb.kind, tb.param, v)
			}
		}
	}
}
