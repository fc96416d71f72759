package he

//go:generate go run ./internal/gensign -o signpoly_table.go

import (
	"fmt"
	"math/big"
	"math/bits"
	"slices"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/minimax"
	"github.com/tuneinsight/lattigo/v6/circuits/ckks/polynomial"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/utils/bignum"
)

// DefaultReLUAlpha is the sign precision of [ActReLU] when [Dense.Alpha]
// is zero.
const DefaultReLUAlpha = 7

// signComposite is a composite minimax approximation of the sign function
// (see signpoly_table.go).
type signComposite struct {
	logErr int        // inputs may exceed [-1, 1] by 2^-logErr
	maxErr float64    // largest |p(x) − sign(x)| for 2^-alpha ≤ |x| ≤ 1
	coeffs [][]string // Chebyshev coefficients of each stage, innermost first
}

// ReLUAlphas returns the supported values of [Dense.Alpha] for [ActReLU],
// in increasing order, with the multiplicative depth the activation costs
// for each (sign depth plus one for the product with x).
func ReLUAlphas() (alphas, depths []int) {
	for a := range signComposites {
		alphas = append(alphas, a)
	}
	slices.Sort(alphas)
	for _, a := range alphas {
		depths = append(depths, reluDepth(a))
	}
	return alphas, depths
}

// ReLUSignError returns the largest error of the sign approximation used
// for alpha outside its dead zone (|x| ≥ 2^-alpha·Interval), and false for
// an unsupported alpha. The ReLU error is then at most
// Interval·max(2^-alpha, err/2) for inputs within [-Interval, Interval].
func ReLUSignError(alpha int) (float64, bool) {
	c, ok := signComposites[alpha]
	return c.maxErr, ok
}

// reluDepth returns the multiplicative depth of the ReLU for alpha: a
// degree-d stage costs ⌈log2(d+1)⌉ levels, and the product with x one.
func reluDepth(alpha int) int {
	d := 1
	for _, c := range signComposites[alpha].coeffs {
		d += bits.Len(uint(len(c) - 1))
	}
	return d
}

// reluPolys returns the stages of the sign composite for alpha, with the
// last stage mapped to (interval/2)·(1 + p(·)), so that
// relu(interval·u) = u · stages(u) for u = x/interval.
func reluPolys(alpha int, interval float64) ([]polynomial.Polynomial, error) {
	c, ok := signComposites[alpha]
	if !ok {
		return nil, fmt.Errorf("he: ReLU alpha %d not in %v: %w", alpha, mapKeys(signComposites), ErrModel)
	}
	mp := minimax.NewPolynomial(c.coeffs)
	out := make([]polynomial.Polynomial, len(mp))
	for i, p := range mp {
		if i == len(mp)-1 {
			half := new(big.Float).SetPrec(256).SetFloat64(interval / 2)
			coeffs := make([]*big.Float, len(p.Coeffs))
			for j, v := range p.Coeffs {
				coeffs[j] = new(big.Float).SetPrec(256).Mul(v[0], half)
			}
			coeffs[0].Add(coeffs[0], half)
			p = bignum.NewPolynomial(bignum.Chebyshev, coeffs, &bignum.Interval{
				A: *bignum.NewFloat(-1, 256), B: *bignum.NewFloat(1, 256),
			})
		}
		out[i] = polynomial.NewPolynomial(p)
	}
	return out, nil
}

func mapKeys(m map[int]signComposite) []int {
	var k []int
	for a := range m {
		k = append(k, a)
	}
	slices.Sort(k)
	return k
}

// evalReLU evaluates relu on a ciphertext holding u = x/interval: the sign
// stages, then the product with u, relinearized and rescaled, at exactly
// the default scale.
func (w *worker) evalReLU(u *rlwe.Ciphertext, stages []polynomial.Polynomial, params Parameters) (*rlwe.Ciphertext, error) {
	p := params.p
	def := p.DefaultScale()
	s := u
	for i, st := range stages {
		target := def
		if i == len(stages)-1 {
			// The last stage lands at level ℓ = level(u) − (sign depth);
			// choose its scale so that u·s rescaled by q_ℓ has the
			// default scale.
			lvl := s.Level() - st.Depth()
			if lvl < 1 {
				return nil, fmt.Errorf("ReLU at level %d: not enough levels: %w", u.Level(), ErrDepth)
			}
			target = def.Mul(rlwe.NewScale(p.Q()[lvl])).Div(u.Scale)
		}
		res, err := w.poly.Evaluate(s, st, target)
		if err != nil {
			return nil, err
		}
		s = res
	}
	out, err := w.eval.MulRelinNew(u, s)
	if err != nil {
		return nil, err
	}
	if err := w.eval.Rescale(out, out); err != nil {
		return nil, err
	}
	// The scale equals the default up to big-float rounding; make it exact
	// so that later layers and bootstrapping see a power of two.
	if r := out.Scale.Div(def).Float64(); r < 1-1e-9 || r > 1+1e-9 {
		return nil, fmt.Errorf("ReLU output scale off by a factor %v: %w", r, ErrMismatch)
	}
	out.Scale = def
	return out, nil
}
