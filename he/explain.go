package he

import (
	"errors"
	"fmt"
	"math"

	"strings"
	"text/tabwriter"
)

// Explanation reports how a model maps onto CKKS: per layer the levels it
// uses, where it sits in the modulus chain, its approximation interval,
// the size of its values and the error it is expected to leave, with
// hints on what to change when the model does not fit or loses too much
// precision. Obtain it from [Explain] or [Plan.Explain]; String formats
// it as a table.
type Explanation struct {
	// Fits is false when the model does not compile; Err then says why
	// and Layers hold the depth of each layer only.
	Fits bool
	Err  error
	// Plan describes the compiled plan (empty when it does not fit).
	Plan string
	// Depth is the model's multiplicative depth; Available the depth of
	// the parameters (of the largest preset when the model does not fit).
	Depth, Available int
	// InputRange reports whether the plan has an input range (from
	// calibration or [CompileOptions.InputRange]); without one the
	// estimates assume |x| ≤ 1 for every feature.
	InputRange bool
	Layers     []LayerEstimate
	// PublicPrecision is the precision against plaintext inference, in
	// bits, that [Client.DecryptPublic] would leave with its default
	// options (s = 30, τ = 1), or NaN when the flooding would overflow the
	// modulus (PublicError says why); PublicDecryptionPrecision is its
	// [Decrypted.DecryptionPrecision].
	PublicPrecision           float64
	PublicDecryptionPrecision float64
	PublicError               error
	// Hints say what to change.
	Hints []string
}

// Explain compiles m with opts and explains the result. A model too deep
// for the parameters is not an error here: the explanation then has
// Fits false and tells which layers cost the depth. Other compile errors
// (a malformed model, bad calibration data) are returned.
func Explain(m *Model, opts CompileOptions) (*Explanation, error) {
	plan, err := Compile(m, opts)
	if err == nil {
		return plan.Explain(), nil
	}
	if !errors.Is(err, ErrDepth) {
		return nil, err
	}
	e := &Explanation{Err: err, PublicPrecision: math.NaN(), PublicDecryptionPrecision: math.NaN()}
	e.Available = 0
	if opts.Parameters != nil {
		e.Available = opts.Parameters.Depth()
	} else if p, perr := NewParameters(PN15); perr == nil {
		e.Available = p.Depth()
	}
	for li := range m.Layers {
		l := m.Layers[li]
		if l.Degree == 0 && (l.Activation == ActSigmoid || l.Activation == ActTanh) {
			l.Degree = DefaultDegree
		}
		if l.Alpha == 0 && l.Activation == ActReLU {
			l.Alpha = DefaultReLUAlpha
		}
		est := LayerEstimate{Layer: li, In: l.In(), Out: l.Out(), Activation: l.Activation, Interval: l.Interval, Depth: 1 + activationDepth(&l)}
		switch l.Activation {
		case ActSigmoid, ActTanh:
			est.Degree = l.Degree
		case ActReLU:
			est.Degree = l.Alpha
		}
		e.Depth += est.Depth
		e.Layers = append(e.Layers, est)
	}
	e.Hints = depthHints(e)
	return e, nil
}

// depthHints suggests cheaper activations for a model that is too deep.
func depthHints(e *Explanation) []string {
	hints := []string{fmt.Sprintf("the model needs depth %d, %d more than the %d available", e.Depth, e.Depth-e.Available, e.Available)}
	alphas, depths := ReLUAlphas()
	for _, l := range e.Layers {
		switch l.Activation {
		case ActReLU:
			for i, a := range alphas {
				if a < l.Degree {
					errA, _ := ReLUSignError(a)
					hints = append(hints, fmt.Sprintf("layer %d: ReLU with alpha %d costs %d levels; alpha %d costs %d (sign error %.1e), ActSquare 1", l.Layer, l.Degree, l.Depth-1, a, depths[i], errA))
					break
				}
			}
		case ActSigmoid, ActTanh:
			if l.Degree > 3 {
				hints = append(hints, fmt.Sprintf("layer %d: %s of degree %d costs %d levels; degree 3 costs 2", l.Layer, l.Activation, l.Degree, l.Depth-1))
			}
		}
	}
	return append(hints, "or set CompileOptions.Bootstrap to bootstrap between layers")
}

// Explain reports the plan layer by layer (see [Explanation]).
func (p *Plan) Explain() *Explanation {
	e := &Explanation{Fits: true, Plan: p.String(), Depth: p.depth, Available: p.params.Depth(), InputRange: p.inLo != nil}
	e.Layers = p.estimate(1)
	e.PublicPrecision, e.PublicDecryptionPrecision = math.NaN(), math.NaN()
	fs, err := p.flooding(e.Layers, 1, DefaultStatisticalSecurity, 1, -1, nil)
	if err == nil {
		e.PublicPrecision, e.PublicDecryptionPrecision = fs.precision, fs.decPrecision
	} else {
		e.PublicError = err
	}
	if !e.InputRange {
		e.Hints = append(e.Hints, "no input range: the estimates assume |x| ≤ 1 and Encrypt checks nothing; compile with Calibration or InputRange")
	}
	for _, l := range e.Layers {
		if l.Interval > 0 && l.InputBound > l.Interval*(1+1e-9) {
			e.Hints = append(e.Hints, fmt.Sprintf("layer %d: inputs in the range can reach %.3g, beyond the interval %.3g, where the approximation diverges: widen the interval or normalise the inputs", l.Layer, l.InputBound, l.Interval))
		}
	}
	last := e.Layers[len(e.Layers)-1]
	if last.ExpectedError > 1e-2 {
		e.Hints = append(e.Hints, fmt.Sprintf("expected output error %.2g: raise the activation degrees or use parameters with a larger scale", last.ExpectedError))
	}
	switch {
	case e.PublicError != nil:
		e.Hints = append(e.Hints, fmt.Sprintf("DecryptPublic would refuse: %v; it needs a larger scale (PN15: 2^45)", e.PublicError))
	case e.PublicDecryptionPrecision < DefaultMinPrecision:
		e.Hints = append(e.Hints, fmt.Sprintf("DecryptPublic would refuse: its flooding leaves %.1f bits, below the default minimum %d; it needs a larger scale (PN15: 2^45)", e.PublicDecryptionPrecision, DefaultMinPrecision))
	}
	return e
}

// String formats the explanation as a table followed by the hints.
func (e *Explanation) String() string {
	var b strings.Builder
	if e.Fits {
		fmt.Fprintf(&b, "plan: %s\n", e.Plan)
	} else {
		fmt.Fprintf(&b, "does not fit: %v\n", e.Err)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tshape\tactivation\tdepth\tlevels\tinterval\t|input|≤\tnoise std\tapprox err\texpected err")
	for _, l := range e.Layers {
		act := string(l.Activation)
		switch l.Activation {
		case ActNone:
			act = "none"
		case ActSigmoid, ActTanh:
			act = fmt.Sprintf("%s deg %d", l.Activation, l.Degree)
		case ActReLU:
			act = fmt.Sprintf("relu alpha %d", l.Degree)
		}
		if l.Bootstrap {
			act += " (bootstrap)"
		}
		interval := "-"
		if l.Interval > 0 {
			interval = fmt.Sprintf("%g", l.Interval)
		}
		if !e.Fits {
			fmt.Fprintf(tw, "%d\t%d→%d\t%s\t%d\t-\t%s\t-\t-\t-\t-\n", l.Layer, l.In, l.Out, act, l.Depth, interval)
			continue
		}
		fmt.Fprintf(tw, "%d\t%d→%d\t%s\t%d\t%d→%d\t%s\t%.2g\t%.2g\t%.2g\t%.2g\n", l.Layer, l.In, l.Out, act, l.Depth,
			l.LevelIn, l.LevelOut, interval, l.InputBound, l.NoiseStd, l.ApproxError, l.ExpectedError)
	}
	tw.Flush()
	fmt.Fprintf(&b, "depth %d of %d\n", e.Depth, e.Available)
	if e.Fits {
		if math.IsNaN(e.PublicPrecision) {
			fmt.Fprintln(&b, "DecryptPublic (s = 30, τ = 1): refused")
		} else {
			fmt.Fprintf(&b, "DecryptPublic (s = 30, τ = 1): %.1f bits left\n", e.PublicPrecision)
		}
	}
	for _, h := range e.Hints {
		fmt.Fprintf(&b, "- %s\n", h)
	}
	return b.String()
}
