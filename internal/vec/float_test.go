package vec

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

var floatLens = []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 1001}

func randFloats(r *rand.Rand, n int, mag float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64() * mag
	}
	return x
}

func TestDot(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range floatLens {
		x, y := randFloats(r, n, 1), randFloats(r, n, 1)
		got, want := Dot(x, y), dotGeneric(x, y)
		// Both are sums of the same n rounded products in different
		// orders; each is within n·eps·sum|x·y| of the exact value
		// (Higham, Accuracy and Stability of Numerical Algorithms, 3.1).
		var abs float64
		for i := range x {
			abs += math.Abs(x[i] * y[i])
		}
		if tol := 2 * float64(n+1) * 0x1p-52 * abs; math.Abs(got-want) > tol {
			t.Errorf("n=%d: Dot = %v, plain loop %v, differ by more than %v", n, got, want, tol)
		}
	}
	if got := Dot(nil, nil); got != 0 {
		t.Errorf("Dot(nil, nil) = %v", got)
	}
	if got := Dot([]float64{1, 2, 3}, []float64{4, -5, 6}); got != 12 {
		t.Errorf("Dot([1 2 3], [4 -5 6]) = %v, want 12", got)
	}
	mustPanic(t, "Dot length", badLength, func() { Dot(make([]float64, 2), make([]float64, 3)) })
}

// ulpClose reports whether a and b differ by at most k ulps of the larger.
func ulpClose(a, b float64, k float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= k*0x1p-52*max(math.Abs(a), math.Abs(b))
}

func TestAxpyScale(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range floatLens {
		x, y := randFloats(r, n, 1), randFloats(r, n, 10)
		const alpha = -0.7314
		got, want := append([]float64(nil), y...), append([]float64(nil), y...)
		Axpy(got, alpha, x)
		axpyGeneric(want, alpha, x)
		for i := range got {
			// One multiply and one add: identical unless a compiler fuses
			// the plain loop into an FMA, which differs by at most an ulp.
			if !ulpClose(got[i], want[i], 1) {
				t.Fatalf("n=%d: Axpy[%d] = %v, plain loop %v", n, i, got[i], want[i])
			}
		}
		gs, ws := append([]float64(nil), y...), append([]float64(nil), y...)
		Scale(gs, alpha)
		scaleGeneric(ws, alpha)
		gt, wt := make([]float64, n), make([]float64, n)
		scaleTo(gt, alpha, y)
		scaleToGeneric(wt, alpha, y)
		for i := range gs {
			if gs[i] != ws[i] || gs[i] != y[i]*alpha {
				t.Fatalf("n=%d: Scale[%d] = %v, plain loop %v", n, i, gs[i], ws[i])
			}
			if gt[i] != wt[i] || gt[i] != gs[i] {
				t.Fatalf("n=%d: scaleTo[%d] = %v, plain loop %v", n, i, gt[i], wt[i])
			}
		}
	}
	Scale(nil, 2)
	Axpy(nil, 2, nil)
	mustPanic(t, "Axpy length", badLength, func() { Axpy(make([]float64, 2), 1, make([]float64, 3)) })
}

// exactNorm computes the norm of x with 300-bit big.Float arithmetic, in
// which no square of a float64 overflows or underflows.
func exactNorm(x []float64) float64 {
	s := new(big.Float).SetPrec(300)
	for _, v := range x {
		b := new(big.Float).SetPrec(300).SetFloat64(v)
		s.Add(s, b.Mul(b, b))
	}
	f, _ := s.Sqrt(s).Float64()
	return f
}

func TestNorm2(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	// Magnitudes from deep underflow (subnormals) to overflow of the
	// squares: 1e-320 is subnormal; (1e200)^2 overflows.
	mags := []float64{1, 1e-320, 1e-310, 1e-200, 1e-160, 1e150, 1e200, 1e305}
	for _, mag := range mags {
		for _, n := range floatLens {
			t.Run(fmt.Sprintf("mag=%g/n=%d", mag, n), func(t *testing.T) {
				x := randFloats(r, n, mag)
				got, want := Norm2(x), exactNorm(x)
				// The scaled path sums numbers below 1 (n·eps relative);
				// subnormal elements carry fewer bits, so allow
				// absolute error of a few units of the smallest subnormal.
				tol := 2*float64(n+2)*0x1p-52*want + float64(n)*0x1p-1070
				if math.Abs(got-want) > tol || math.IsInf(got, 0) || got != got {
					t.Errorf("Norm2 = %v, exact %v (tolerance %v)", got, want, tol)
				}
			})
		}
	}
	cases := []struct {
		x    []float64
		want float64
	}{
		{nil, 0},
		{[]float64{0, 0}, 0},
		{[]float64{3, 4}, 5},
		{[]float64{-3, 4}, 5},
		{[]float64{3e300, 4e300}, 5e300},
		{[]float64{math.Ldexp(3, -1070), math.Ldexp(-4, -1070)}, math.Ldexp(5, -1070)}, // subnormal
		{[]float64{math.MaxFloat64, 0}, math.MaxFloat64},
		{[]float64{math.Inf(-1), 1}, math.Inf(1)},
		{[]float64{1, math.Inf(1), math.Inf(-1)}, math.Inf(1)},
	}
	for _, c := range cases {
		if got := Norm2(c.x); got != c.want {
			t.Errorf("Norm2(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	// The sum of squares overflows although no single square does.
	big := make([]float64, 10000)
	for i := range big {
		big[i] = 1e154
	}
	if got, want := Norm2(big), 1e156; !ulpClose(got, want, float64(len(big))) {
		t.Errorf("Norm2(1e154 x 10000) = %v, want %v", got, want)
	}
	for _, x := range [][]float64{{math.NaN()}, {1, math.NaN(), 2}, {math.Inf(1), math.NaN()}, {1e300, math.NaN()}} {
		if got := Norm2(x); !math.IsNaN(got) {
			t.Errorf("Norm2(%v) = %v, want NaN", x, got)
		}
	}
}

func TestClipL2(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, n := range []int{1, 2, 17, 1000} {
		x := randFloats(r, n, 3)
		norm := Norm2(x)
		// Within the bound: unchanged, factor 1.
		y := append([]float64(nil), x...)
		if f := ClipL2(y, norm*1.01); f != 1 || fmt.Sprint(y) != fmt.Sprint(x) {
			t.Errorf("n=%d: ClipL2 within bound: factor %v, changed %v", n, f, fmt.Sprint(y) != fmt.Sprint(x))
		}
		// Above the bound: scaled to the bound, direction kept.
		bound := norm / 3
		f := ClipL2(y, bound)
		if !ulpClose(f, bound/norm, 1) {
			t.Errorf("n=%d: factor %v, want %v", n, f, bound/norm)
		}
		if got := Norm2(y); !ulpClose(got, bound, 4*float64(n)) || got > bound*(1+1e-13) {
			t.Errorf("n=%d: clipped norm %v, want %v", n, got, bound)
		}
		for i := range y {
			if y[i] != x[i]*f {
				t.Fatalf("n=%d: element %d = %v, want %v", n, i, y[i], x[i]*f)
			}
		}
		// ClipL2Into agrees with ClipL2 on a copy and leaves src alone.
		for _, b := range []float64{norm * 2, norm / 5, 0} {
			src := append([]float64(nil), x...)
			want := append([]float64(nil), x...)
			wf := ClipL2(want, b)
			dst := make([]float64, n)
			gf := ClipL2Into(dst, src, b)
			if gf != wf || fmt.Sprint(dst) != fmt.Sprint(want) || fmt.Sprint(src) != fmt.Sprint(x) {
				t.Errorf("n=%d bound=%v: ClipL2Into factor %v, ClipL2 %v; results equal %v; src kept %v",
					n, b, gf, wf, fmt.Sprint(dst) == fmt.Sprint(want), fmt.Sprint(src) == fmt.Sprint(x))
			}
			ClipL2Into(src, src, b) // in place
			if fmt.Sprint(src) != fmt.Sprint(want) {
				t.Errorf("n=%d bound=%v: ClipL2Into in place differs from ClipL2", n, b)
			}
		}
	}
	// Zero bound zeroes the vector; an empty vector is within any bound.
	z := []float64{1, -2}
	if f := ClipL2(z, 0); f != 0 || z[0] != 0 || z[1] != 0 {
		t.Errorf("ClipL2(bound 0) = %v, %v", f, z)
	}
	if f := ClipL2(nil, 1); f != 1 {
		t.Errorf("ClipL2(nil) = %v, want 1", f)
	}
	// Non-finite vectors are zeroed, even with an infinite bound.
	for _, x := range [][]float64{{1, math.NaN()}, {math.Inf(1), 2}, {math.Inf(-1), math.NaN()}} {
		for _, b := range []float64{1, math.Inf(1)} {
			y := append([]float64(nil), x...)
			if f := ClipL2(y, b); f != 0 || y[0] != 0 || y[1] != 0 {
				t.Errorf("ClipL2(%v, %v) = %v, %v; want 0, zeros", x, b, f, y)
			}
			d := []float64{7, 7}
			if f := ClipL2Into(d, x, b); f != 0 || d[0] != 0 || d[1] != 0 {
				t.Errorf("ClipL2Into(%v, %v) = %v, %v; want 0, zeros", x, b, f, d)
			}
		}
	}
	// A huge finite vector (squares overflow) is clipped correctly.
	h := []float64{3e300, 4e300}
	if f := ClipL2(h, 10); !ulpClose(f, 2e-300, 1) || !ulpClose(h[0], 6, 2) || !ulpClose(h[1], 8, 2) {
		t.Errorf("ClipL2([3e300 4e300], 10) = %v, %v", f, h)
	}
	mustPanic(t, "ClipL2 negative", badBound, func() { ClipL2([]float64{1}, -1) })
	mustPanic(t, "ClipL2 NaN", badBound, func() { ClipL2([]float64{1}, math.NaN()) })
	mustPanic(t, "ClipL2Into length", badLength, func() { ClipL2Into(make([]float64, 1), make([]float64, 2), 1) })
}
