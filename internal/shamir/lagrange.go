package shamir

import "fmt"

// Lagrange holds the Lagrange coefficients at 0 for a fixed set of
// evaluation points, so that many secrets shared among the same parties
// are reconstructed for the cost of one set-up: a secure-aggregation
// server recovering the seeds of every dropped client from the same
// survivors calls [NewLagrange] once and [Lagrange.Combine] per seed.
//
// A Lagrange is immutable after construction and safe for concurrent use.
type Lagrange struct {
	xs   []uint32
	coef []uint64 // coef[j] = prod_{m != j} x_m / (x_m - x_j)
}

// NewLagrange computes the Lagrange coefficients at 0 for the points xs,
// which must be non-zero and distinct; 2 <= len(xs) <= MaxParties. The
// cost is O(len(xs)^2) field multiplications and one inversion.
func NewLagrange(xs []uint32) (*Lagrange, error) {
	t := len(xs)
	if t < 2 || t > MaxParties {
		return nil, fmt.Errorf("%w: %d points, want 2 to %d", ErrThreshold, t, MaxParties)
	}
	seen := make(map[uint32]int, t)
	for i, x := range xs {
		if x == 0 {
			return nil, fmt.Errorf("%w: share %d has X = 0", ErrInvalidShare, i)
		}
		if j, dup := seen[x]; dup {
			return nil, fmt.Errorf("%w: shares %d and %d both have X = %d", ErrInvalidShare, j, i, x)
		}
		seen[x] = i
	}
	// num = prod x_m; den_j = x_j * prod_{m != j} (x_m - x_j), so that
	// coef_j = num / den_j. All den_j are inverted together with one
	// field inversion (Montgomery's trick).
	num := uint64(1)
	for _, x := range xs {
		num = mul(num, uint64(x))
	}
	den := make([]uint64, t)
	for j, xj := range xs {
		den[j] = mul(uint64(xj), diffProduct(xs, j))
	}
	coef := make([]uint64, t)
	batchInvert(coef, den)
	for j := range coef {
		coef[j] = mul(coef[j], num)
	}
	return &Lagrange{xs: append([]uint32(nil), xs...), coef: coef}, nil
}

// diffProduct returns prod_{m != j} (xs[m] - xs[j]) mod P, with four
// independent products so that the multiplications overlap.
func diffProduct(xs []uint32, j int) uint64 {
	xj := uint64(xs[j])
	d0, d1, d2, d3 := uint64(1), uint64(1), uint64(1), uint64(1)
	// The factor for m = j is 1. The points are public, so the branch in
	// diffOrOne leaks nothing.
	m := 0
	for ; m+4 <= len(xs); m += 4 {
		d0 = mul(d0, diffOrOne(xs[m], xj, m == j))
		d1 = mul(d1, diffOrOne(xs[m+1], xj, m+1 == j))
		d2 = mul(d2, diffOrOne(xs[m+2], xj, m+2 == j))
		d3 = mul(d3, diffOrOne(xs[m+3], xj, m+3 == j))
	}
	for ; m < len(xs); m++ {
		d0 = mul(d0, diffOrOne(xs[m], xj, m == j))
	}
	return mul(mul(d0, d1), mul(d2, d3))
}

// diffOrOne returns xm - xj mod P, or 1 when self is true.
func diffOrOne(xm uint32, xj uint64, self bool) uint64 {
	if self {
		return 1
	}
	return sub(uint64(xm), xj)
}

// batchInvert sets dst[i] = a[i]^-1 for non-zero a[i], with one inversion
// and 3(len(a)-1) multiplications. a is overwritten.
func batchInvert(dst, a []uint64) {
	// dst[i] = a[0]*...*a[i]
	acc := uint64(1)
	for i, v := range a {
		acc = mul(acc, v)
		dst[i] = acc
	}
	acc = inv(acc) // (a[0]*...*a[n-1])^-1
	for i := len(a) - 1; i > 0; i-- {
		v := a[i]
		dst[i] = mul(acc, dst[i-1])
		acc = mul(acc, v)
	}
	dst[0] = acc
}

// X returns a copy of the evaluation points, in the order given.
func (l *Lagrange) X() []uint32 { return append([]uint32(nil), l.xs...) }

// Threshold returns the number of points, the number of shares each
// reconstruction takes.
func (l *Lagrange) Threshold() int { return len(l.xs) }

// CombineY interpolates at 0 coordinate by coordinate: dst[c] = sum_j
// coef_j * ys[j][c] mod P, where ys[j] is the Y of the share at point
// X()[j]. Each ys[j] must have len(dst) canonical field elements.
func (l *Lagrange) CombineY(dst []uint64, ys [][]uint64) error {
	if len(ys) != len(l.xs) {
		return fmt.Errorf("%w: have %d share values, want %d", ErrTooFewShares, len(ys), len(l.xs))
	}
	for j, y := range ys {
		if len(y) != len(dst) {
			return fmt.Errorf("%w: share at X = %d has %d elements, want %d", ErrInvalidShare, l.xs[j], len(y), len(dst))
		}
		for c, v := range y {
			if v >= P {
				return fmt.Errorf("%w: share at X = %d: element %d is outside the field", ErrInvalidShare, l.xs[j], c)
			}
		}
	}
	for c := range dst {
		var s uint64
		for j, y := range ys {
			s = add(s, mul(l.coef[j], y[c]))
		}
		dst[c] = s
	}
	return nil
}

// Combine reconstructs a secret of secretLen bytes from shares, where
// shares[j] must be the share at point X()[j] (the same order as given to
// [NewLagrange]); there must be exactly Threshold() shares.
func (l *Lagrange) Combine(shares []Share, secretLen int) ([]byte, error) {
	if secretLen < 1 || secretLen > MaxSecretLen {
		return nil, fmt.Errorf("%w: %d bytes, want 1 to %d", ErrSecretLength, secretLen, MaxSecretLen)
	}
	if len(shares) != len(l.xs) {
		return nil, fmt.Errorf("%w: have %d shares, want exactly %d", ErrTooFewShares, len(shares), len(l.xs))
	}
	k := NumChunks(secretLen)
	var ysArr [64][]uint64
	var ys [][]uint64
	if len(shares) <= len(ysArr) {
		ys = ysArr[:len(shares)]
	} else {
		ys = make([][]uint64, len(shares))
	}
	for j, s := range shares {
		if s.X != l.xs[j] {
			return nil, fmt.Errorf("%w: share %d has X = %d, want %d", ErrInvalidShare, j, s.X, l.xs[j])
		}
		ys[j] = s.Y
	}
	var chunks [MaxChunks]uint64
	defer clear(chunks[:])
	if err := l.CombineY(chunks[:k], ys); err != nil {
		return nil, err
	}
	out := make([]byte, secretLen)
	for c := range k {
		n := min(ChunkBytes, secretLen-c*ChunkBytes)
		v := chunks[c]
		if v>>(8*uint(n)) != 0 {
			clear(out)
			return nil, fmt.Errorf("%w: chunk %d does not fit in %d bytes", ErrInconsistent, c, n)
		}
		for i := n - 1; i >= 0; i-- {
			out[c*ChunkBytes+i] = byte(v)
			v >>= 8
		}
	}
	return out, nil
}
