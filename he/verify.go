package he

import (
	"fmt"
	"math"
	"math/big"
	"time"
)

// Report compares encrypted with plaintext inference.
type Report struct {
	Samples     int     // samples compared
	Agreement   float64 // fraction of samples whose encrypted and plaintext classes agree
	Agreed      int     // number of such samples
	MaxAbsError float64 // largest |encrypted − plaintext| over all outputs
	// MaxApproxError is the part of MaxAbsError due to the polynomial
	// activations alone (plaintext inference with the interpolants).
	MaxApproxError float64
	// EvalTime is the server's evaluation time for all samples.
	EvalTime time.Duration
	// Outputs holds the decrypted outputs, one row per sample.
	Outputs [][]float64
}

// Verify runs the whole protocol on samples (compile with opts, generate
// keys, encrypt, evaluate, decrypt) and reports argmax agreement and the
// maximum absolute error against plaintext inference with the exact
// activations. It is a test and tuning aid: it holds both roles.
func Verify(m *Model, samples [][]float64, opts CompileOptions) (*Report, error) {
	plan, err := Compile(m, opts)
	if err != nil {
		return nil, err
	}
	client, err := NewClient(plan.Parameters())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	keys, err := client.GenEvaluationKeys(plan)
	if err != nil {
		return nil, err
	}
	server, err := NewServer(plan, keys)
	if err != nil {
		return nil, err
	}
	cts, err := client.Encrypt(plan, samples)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	for _, ct := range cts {
		t0 := time.Now()
		res, err := server.Evaluate(ct)
		rep.EvalTime += time.Since(t0)
		if err != nil {
			return nil, err
		}
		out, err := client.Decrypt(res)
		if err != nil {
			return nil, err
		}
		rep.Outputs = append(rep.Outputs, out...)
	}
	if err := Compare(plan, samples, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// Compare fills the accuracy fields of rep from rep.Outputs (decrypted
// outputs of samples under plan).
func Compare(plan *Plan, samples [][]float64, rep *Report) error {
	if len(rep.Outputs) != len(samples) {
		return fmt.Errorf("he: %d outputs for %d samples: %w", len(rep.Outputs), len(samples), ErrInput)
	}
	m := plan.model
	rep.Samples, rep.Agreed, rep.MaxAbsError, rep.MaxApproxError = len(samples), 0, 0, 0
	for i, x := range samples {
		want, err := m.Predict(x)
		if err != nil {
			return err
		}
		approx, err := plan.predictApprox(x)
		if err != nil {
			return err
		}
		got := rep.Outputs[i]
		if len(got) != len(want) {
			return fmt.Errorf("he: output %d has %d values, model has %d: %w", i, len(got), len(want), ErrInput)
		}
		for j := range want {
			rep.MaxAbsError = math.Max(rep.MaxAbsError, math.Abs(got[j]-want[j]))
			rep.MaxApproxError = math.Max(rep.MaxApproxError, math.Abs(approx[j]-want[j]))
		}
		if m.Class(got) == m.Class(want) {
			rep.Agreed++
		}
	}
	if rep.Samples > 0 {
		rep.Agreement = float64(rep.Agreed) / float64(rep.Samples)
	}
	return nil
}

// predictApprox runs plaintext inference with the polynomial interpolants
// the encrypted evaluation uses.
func (p *Plan) predictApprox(x []float64) ([]float64, error) {
	m := p.model
	if len(x) != m.InputDim {
		return nil, fmt.Errorf("he: sample has %d features, model wants %d: %w", len(x), m.InputDim, ErrInput)
	}
	cur := x
	for li := range m.Layers {
		l := &m.Layers[li]
		next := make([]float64, l.Out())
		for o, row := range l.Weights {
			s := 0.0
			if len(l.Bias) != 0 {
				s = l.Bias[o]
			}
			for i, w := range row {
				s += w * cur[i]
			}
			switch l.Activation {
			case ActSigmoid, ActTanh:
				v := p.layers[li].poly.Evaluate(s / l.Interval)
				next[o], _ = v[0].Float64()
			case ActReLU:
				u := s / l.Interval
				y := new(big.Float).SetFloat64(u)
				for _, st := range p.layers[li].relu {
					y = st.Evaluate(y)[0]
				}
				f, _ := y.Float64()
				next[o] = u * f
			default:
				next[o] = l.Activation.apply(s)
			}
		}
		cur = next
	}
	return cur, nil
}
