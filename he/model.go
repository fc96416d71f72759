package he

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// ModelFormat is the value of the "format" field of a model in JSON.
const ModelFormat = "privml-he-model/v1"

// Activation names an activation function applied after a dense layer.
type Activation string

// Activations. Sigmoid and tanh are evaluated under encryption as
// Chebyshev interpolants of [Dense.Degree] over [-Interval, Interval];
// square is exact; ReLU is x·(1+sign(x))/2 with the sign a composite
// minimax polynomial of precision [Dense.Alpha] over [-Interval, Interval]
// (see the package documentation).
const (
	ActNone    Activation = ""
	ActSquare  Activation = "square"
	ActSigmoid Activation = "sigmoid"
	ActTanh    Activation = "tanh"
	ActReLU    Activation = "relu"
)

// Defaults for polynomial activations.
const (
	// DefaultDegree is the Chebyshev degree of sigmoid and tanh when
	// [Dense.Degree] is zero (depth 3).
	DefaultDegree = 7
	// DefaultInterval is the half-width of the approximation interval
	// when [Dense.Interval] is zero and no calibration data is given.
	DefaultInterval = 8.0
	// MaxDegree is the largest accepted polynomial degree.
	MaxDegree = 255
	// MaxInterpolationNodes bounds the sum of degree+1 over a model's
	// sigmoid and tanh layers: each interpolant is computed in 128-bit
	// arithmetic when a plan is compiled or decoded, and with bootstrapping
	// the depth no longer bounds their number.
	MaxInterpolationNodes = 2048
)

// Dense is a fully connected layer y = act(W x + b).
type Dense struct {
	// Weights is the out × in matrix, row-major (Weights[o][i]). Required.
	Weights [][]float64 `json:"weights"`
	// Bias has one entry per output, or is empty for no bias.
	Bias []float64 `json:"bias,omitempty"`
	// Activation applied to the output; empty for none.
	Activation Activation `json:"activation,omitempty"`
	// Degree of the Chebyshev interpolant for sigmoid and tanh; zero means
	// [DefaultDegree].
	Degree int `json:"degree,omitempty"`
	// Interval is the half-width of the approximation interval for
	// sigmoid, tanh and ReLU: inputs to the activation must lie in
	// [-Interval, Interval]. Zero means: from calibration data when given
	// to [Compile], otherwise [DefaultInterval].
	Interval float64 `json:"interval,omitempty"`
	// Alpha is the sign precision of ReLU: the sign of inputs with
	// |x| ≥ 2^-Alpha·Interval is approximated to within [ReLUSignError],
	// and inputs closer to zero may come out anywhere between 0 and |x|.
	// Zero means [DefaultReLUAlpha]; other values must be listed by
	// [ReLUAlphas].
	Alpha int `json:"alpha,omitempty"`
	// Conv, when non-nil, declares the layer a 2-D convolution of this
	// shape whose im2col matrix is Weights (as [Conv2D.Dense] builds it):
	// In() must be InChannels·Height·Width, Out() OutChannels·OH·OW, and
	// every non-zero weight must lie in its output's receptive field. The
	// planner may then evaluate the layer as a packed direct convolution
	// (see [ConvPacking]); plaintext inference and batch mode use Weights
	// as for any dense layer.
	Conv *ConvShape `json:"conv,omitempty"`
}

// In returns the input dimension.
func (d *Dense) In() int {
	if len(d.Weights) == 0 {
		return 0
	}
	return len(d.Weights[0])
}

// Out returns the output dimension.
func (d *Dense) Out() int { return len(d.Weights) }

// Model is a feed-forward network of dense layers. Its JSON form is
//
//	{"format": "privml-he-model/v1", "input_dim": 64,
//	 "layers": [{"weights": [[...], ...], "bias": [...], "activation": "square"},
//	            {"weights": [[...], ...], "bias": [...]}]}
//
// with activation one of "", "square", "sigmoid" or "tanh" (both with
// optional "degree" and "interval") or "relu" (with optional "alpha" and
// "interval"). A layer that is a convolution may carry its
// shape, which lets the planner pack it as one (see [Dense.Conv]):
//
//	"conv": {"in_channels": 1, "height": 28, "width": 28,
//	         "out_channels": 4, "kernel": 7, "stride": 3, "padding": 0}
//
// The field is optional: models written without it read as before, and
// readers that predate it ignore it.
type Model struct {
	Format   string  `json:"format"`
	InputDim int     `json:"input_dim"`
	Layers   []Dense `json:"layers"`
}

// Limits on models accepted from JSON or binary encodings.
const (
	MaxModelDim     = 1 << 16
	MaxModelWeights = 1 << 24
	MaxModelLayers  = 64
	maxModelJSON    = 512 << 20
)

// NewLogisticRegression returns the model sigmoid(w·x + b) with a sigmoid
// of the given Chebyshev degree over [-interval, interval] (zero for the
// defaults).
func NewLogisticRegression(w []float64, b float64, degree int, interval float64) (*Model, error) {
	m := &Model{
		Format:   ModelFormat,
		InputDim: len(w),
		Layers: []Dense{{
			Weights:    [][]float64{append([]float64(nil), w...)},
			Bias:       []float64{b},
			Activation: ActSigmoid,
			Degree:     degree,
			Interval:   interval,
		}},
	}
	return m, m.Validate()
}

// NewMLP returns a model from its layers (copied) and validates it.
func NewMLP(layers ...Dense) (*Model, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("he: model has no layers: %w", ErrModel)
	}
	m := &Model{Format: ModelFormat, InputDim: layers[0].In()}
	for _, l := range layers {
		m.Layers = append(m.Layers, l.clone())
	}
	return m, m.Validate()
}

func (d *Dense) clone() Dense {
	c := *d
	c.Weights = make([][]float64, len(d.Weights))
	for i, r := range d.Weights {
		c.Weights[i] = append([]float64(nil), r...)
	}
	c.Bias = append([]float64(nil), d.Bias...)
	if d.Conv != nil {
		cs := *d.Conv
		c.Conv = &cs
	}
	return c
}

func (m *Model) clone() *Model {
	c := &Model{Format: m.Format, InputDim: m.InputDim}
	for i := range m.Layers {
		c.Layers = append(c.Layers, m.Layers[i].clone())
	}
	return c
}

// OutputDim returns the dimension of the model output.
func (m *Model) OutputDim() int {
	if len(m.Layers) == 0 {
		return 0
	}
	return m.Layers[len(m.Layers)-1].Out()
}

// Validate checks shapes, finiteness, activations and limits.
func (m *Model) Validate() error {
	if m == nil {
		return fmt.Errorf("he: nil model: %w", ErrModel)
	}
	if m.Format != ModelFormat {
		return fmt.Errorf("he: model format %q, want %q: %w", m.Format, ModelFormat, ErrModel)
	}
	if len(m.Layers) == 0 || len(m.Layers) > MaxModelLayers {
		return fmt.Errorf("he: model has %d layers, want 1..%d: %w", len(m.Layers), MaxModelLayers, ErrModel)
	}
	in := m.InputDim
	total := 0
	for li := range m.Layers {
		l := &m.Layers[li]
		if in < 1 || in > MaxModelDim {
			return fmt.Errorf("he: layer %d: input dimension %d out of [1, %d]: %w", li, in, MaxModelDim, ErrModel)
		}
		if l.Out() < 1 || l.Out() > MaxModelDim {
			return fmt.Errorf("he: layer %d: output dimension %d out of [1, %d]: %w", li, l.Out(), MaxModelDim, ErrModel)
		}
		total += l.Out() * in
		if total > MaxModelWeights {
			return fmt.Errorf("he: model has more than %d weights: %w", MaxModelWeights, ErrModel)
		}
		for o, row := range l.Weights {
			if len(row) != in {
				return fmt.Errorf("he: layer %d: row %d has %d weights, want %d: %w", li, o, len(row), in, ErrModel)
			}
			for i, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("he: layer %d: weight [%d][%d] is %v: %w", li, o, i, v, ErrModel)
				}
			}
		}
		if len(l.Bias) != 0 && len(l.Bias) != l.Out() {
			return fmt.Errorf("he: layer %d: bias has %d entries, want %d: %w", li, len(l.Bias), l.Out(), ErrModel)
		}
		for o, v := range l.Bias {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("he: layer %d: bias [%d] is %v: %w", li, o, v, ErrModel)
			}
		}
		if l.Alpha != 0 && l.Activation != ActReLU {
			return fmt.Errorf("he: layer %d: alpha applies to relu only: %w", li, ErrModel)
		}
		if l.Conv != nil {
			if err := l.Conv.check(l.Weights); err != nil {
				return fmt.Errorf("he: layer %d: %w", li, err)
			}
		}
		switch l.Activation {
		case ActNone, ActSquare:
			if l.Degree != 0 || l.Interval != 0 {
				return fmt.Errorf("he: layer %d: degree and interval apply to sigmoid, tanh and relu only: %w", li, ErrModel)
			}
		case ActSigmoid, ActTanh, ActReLU:
			if l.Activation == ActReLU {
				if l.Degree != 0 {
					return fmt.Errorf("he: layer %d: relu takes alpha, not degree: %w", li, ErrModel)
				}
				if _, ok := signComposites[l.Alpha]; l.Alpha != 0 && !ok {
					return fmt.Errorf("he: layer %d: relu alpha %d not in %v: %w", li, l.Alpha, mapKeys(signComposites), ErrModel)
				}
			} else if l.Degree < 0 || l.Degree == 1 || l.Degree > MaxDegree {
				return fmt.Errorf("he: layer %d: degree %d out of [2, %d]: %w", li, l.Degree, MaxDegree, ErrModel)
			}
			if l.Interval < 0 || math.IsNaN(l.Interval) || math.IsInf(l.Interval, 0) || l.Interval > 1e6 {
				return fmt.Errorf("he: layer %d: interval %v must be a positive half-width: %w", li, l.Interval, ErrModel)
			}
		default:
			return fmt.Errorf("he: layer %d: unknown activation %q: %w", li, l.Activation, ErrModel)
		}
		in = l.Out()
	}
	return nil
}

// ReadModelJSON decodes and validates a model in the JSON format of
// [Model], reading at most 512 MiB.
func ReadModelJSON(r io.Reader) (*Model, error) {
	lr := &io.LimitedReader{R: r, N: maxModelJSON + 1}
	var m Model
	dec := json.NewDecoder(lr)
	if err := dec.Decode(&m); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("he: model JSON larger than %d bytes: %w", maxModelJSON, ErrTooLarge)
		}
		return nil, fmt.Errorf("he: cannot decode model JSON: %v: %w", err, ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// WriteJSON writes the model in its JSON format.
func (m *Model) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	return enc.Encode(m)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func (a Activation) apply(x float64) float64 {
	switch a {
	case ActSquare:
		return x * x
	case ActSigmoid:
		return sigmoid(x)
	case ActTanh:
		return math.Tanh(x)
	case ActReLU:
		return max(x, 0)
	}
	return x
}

// Predict runs plaintext inference with the exact activations; it is the
// reference that encrypted inference is compared with.
func (m *Model) Predict(x []float64) ([]float64, error) {
	out, _, err := m.forward(x)
	return out, err
}

// forward returns the output and, per layer, the largest absolute
// pre-activation value.
func (m *Model) forward(x []float64) ([]float64, []float64, error) {
	if len(x) != m.InputDim {
		return nil, nil, fmt.Errorf("he: sample has %d features, model wants %d: %w", len(x), m.InputDim, ErrInput)
	}
	peaks := make([]float64, len(m.Layers))
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
			peaks[li] = math.Max(peaks[li], math.Abs(s))
			next[o] = l.Activation.apply(s)
		}
		cur = next
	}
	return cur, peaks, nil
}

// Class returns the predicted class of a model output: the argmax for
// several outputs; for one output, 1 if it exceeds the decision threshold
// (0.5 after a sigmoid, 0 otherwise) and 0 if not.
func (m *Model) Class(out []float64) int {
	if len(out) == 1 {
		th := 0.0
		if m.Layers[len(m.Layers)-1].Activation == ActSigmoid {
			th = 0.5
		}
		if out[0] > th {
			return 1
		}
		return 0
	}
	best := 0
	for i, v := range out {
		if v > out[best] {
			best = i
		}
	}
	return best
}
