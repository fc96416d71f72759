package shamir

import "fmt"

// FindErrors returns the indices of the shares that do not lie on the
// sharing polynomials, found by unique decoding of the Reed-Solomon code
// that Shamir shares form: with m shares of a t-of-n split, up to
// floor((m-t)/2) wrong shares are corrected (Gao, "A new algorithm for
// decoding Reed-Solomon codes", 2003: interpolation, then a partial
// extended Euclidean algorithm, O(m^2) field operations per chunk). Each
// chunk is decoded on its own and the indices are the union, in
// increasing order.
//
// It fails with ErrInconsistent when some chunk has more errors than the
// bound can correct, or when the union of the indices exceeds the bound:
// past it, a wrong polynomial can agree with more shares than the right
// one, and the indices would not be trustworthy. Shares must have
// distinct non-zero X and Y of equal length with canonical elements.
//
// Decoding works on public values and is not constant time.
func FindErrors(shares []Share, t int) ([]int, error) {
	m := len(shares)
	if t < 1 || t > MaxParties {
		return nil, fmt.Errorf("%w: threshold t=%d, want 1 to %d", ErrThreshold, t, MaxParties)
	}
	if m < t {
		return nil, fmt.Errorf("%w: have %d, threshold is %d", ErrTooFewShares, m, t)
	}
	xs := make([]uint32, m)
	for i, s := range shares {
		xs[i] = s.X
		if len(s.Y) != len(shares[0].Y) {
			return nil, fmt.Errorf("%w: share at X = %d has %d elements, want %d", ErrInvalidShare, s.X, len(s.Y), len(shares[0].Y))
		}
		for c, v := range s.Y {
			if v >= P {
				return nil, fmt.Errorf("%w: share at X = %d: element %d is outside the field", ErrInvalidShare, s.X, c)
			}
		}
	}
	w, g0, err := interpolationBasis(xs)
	if err != nil {
		return nil, err
	}
	bound := (m - t) / 2
	bad := make([]bool, m)
	ys := make([]uint64, m)
	for c := range shares[0].Y {
		for i, s := range shares {
			ys[i] = s.Y[c]
		}
		f, ok := gaoDecode(xs, ys, w, g0, t)
		if !ok {
			return nil, fmt.Errorf("%w: chunk %d of %d shares has more than %d errors (threshold %d)", ErrInconsistent, c, m, bound, t)
		}
		for i, x := range xs {
			if horner(f, uint64(x)) != ys[i] {
				bad[i] = true
			}
		}
	}
	var out []int
	for i, b := range bad {
		if b {
			out = append(out, i)
		}
	}
	if len(out) > bound {
		return nil, fmt.Errorf("%w: %d of %d shares are off the decoded polynomials, more than the %d that unique decoding corrects (threshold %d)",
			ErrInconsistent, len(out), m, bound, t)
	}
	return out, nil
}

// interpolationBasis returns the barycentric weights w_i = 1/prod_{j!=i}
// (x_i - x_j) and g0 = prod_i (x - x_i).
func interpolationBasis(xs []uint32) (w, g0 []uint64, err error) {
	m := len(xs)
	seen := make(map[uint32]bool, m)
	for _, x := range xs {
		if x == 0 || seen[x] {
			return nil, nil, fmt.Errorf("%w: zero or repeated X = %d", ErrInvalidShare, x)
		}
		seen[x] = true
	}
	w = make([]uint64, m)
	for i := range m {
		d := uint64(1)
		for j := range m {
			if j != i {
				d = mul(d, sub(uint64(xs[i]), uint64(xs[j])))
			}
		}
		w[i] = inv(d)
	}
	g0 = []uint64{1}
	for _, x := range xs {
		g0 = polyMulLinear(g0, uint64(x))
	}
	return w, g0, nil
}

// gaoDecode returns the polynomial f of degree below t that agrees with
// (xs, ys) in all but at most (m-t)/2 places, if there is one.
func gaoDecode(xs []uint32, ys, w, g0 []uint64, t int) ([]uint64, bool) {
	m := len(xs)
	// g1 interpolates the received values: sum_i y_i w_i g0/(x - x_i).
	g1 := make([]uint64, m)
	q := make([]uint64, m)
	for i, x := range xs {
		if ys[i] == 0 {
			continue
		}
		polyDivLinear(q, g0, uint64(x))
		s := mul(ys[i], w[i])
		for j := range q {
			g1[j] = add(g1[j], mul(s, q[j]))
		}
	}
	// Partial extended Euclid on (g0, g1) until deg r < (m+t)/2, keeping
	// the cofactor v of g1.
	r0, r1 := trim(append([]uint64(nil), g0...)), trim(g1)
	v0, v1 := []uint64(nil), []uint64{1}
	for 2*(len(r1)-1) >= m+t && len(r1) > 0 {
		quo, rem := polyDivMod(r0, r1)
		r0, r1 = r1, rem
		v0, v1 = v1, polySub(v0, polyMul(quo, v1))
	}
	f, rem := polyDivMod(r1, v1)
	if len(rem) != 0 || len(f) > t {
		return nil, false
	}
	return f, true
}

// trim drops leading zero coefficients; the zero polynomial is empty.
func trim(a []uint64) []uint64 {
	for len(a) > 0 && a[len(a)-1] == 0 {
		a = a[:len(a)-1]
	}
	return a
}

// polyMulLinear returns a*(x - r).
func polyMulLinear(a []uint64, r uint64) []uint64 {
	out := make([]uint64, len(a)+1)
	for i, c := range a {
		out[i+1] = add(out[i+1], c)
		out[i] = sub(out[i], mul(c, r))
	}
	return out
}

// polyDivLinear sets q (len(a)-1 coefficients) to a/(x - r) for a root r
// of a, by synthetic division.
func polyDivLinear(q, a []uint64, r uint64) {
	n := len(a) - 1
	var carry uint64
	for i := n; i >= 1; i-- {
		carry = add(a[i], mul(carry, r))
		q[i-1] = carry
	}
}

func polyMul(a, b []uint64) []uint64 {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	out := make([]uint64, len(a)+len(b)-1)
	for i, x := range a {
		for j, y := range b {
			out[i+j] = add(out[i+j], mul(x, y))
		}
	}
	return trim(out)
}

func polySub(a, b []uint64) []uint64 {
	out := make([]uint64, max(len(a), len(b)))
	copy(out, a)
	for i, y := range b {
		out[i] = sub(out[i], y)
	}
	return trim(out)
}

// polyDivMod returns the quotient and remainder of a by b (b non-zero).
func polyDivMod(a, b []uint64) (quo, rem []uint64) {
	a, b = trim(a), trim(b)
	if len(a) < len(b) {
		return nil, append([]uint64(nil), a...)
	}
	rem = append([]uint64(nil), a...)
	quo = make([]uint64, len(a)-len(b)+1)
	lead := inv(b[len(b)-1])
	for i := len(quo) - 1; i >= 0; i-- {
		c := mul(rem[i+len(b)-1], lead)
		quo[i] = c
		if c == 0 {
			continue
		}
		for j, y := range b {
			rem[i+j] = sub(rem[i+j], mul(c, y))
		}
	}
	return trim(quo), trim(rem[:len(b)-1])
}
