package he

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/he/internal/onnx/onnxpb"
	"github.com/privml/privml/he/internal/onnx/onnxref"
)

// onnxCase is a model of testdata/onnx with its reference inputs and
// outputs (see testdata/onnx/README.md).
type onnxCase struct {
	Model   string      `json:"model"`
	Inputs  [][]float64 `json:"inputs"`
	Outputs [][]float64 `json:"outputs"`
}

func loadONNXCase(t *testing.T, name string) (*Model, onnxCase) {
	t.Helper()
	var c onnxCase
	b, err := os.ReadFile(filepath.Join("testdata", "onnx", name+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &c))
	f, err := os.Open(filepath.Join("testdata", "onnx", c.Model))
	require.NoError(t, err)
	defer f.Close()
	m, err := ReadONNX(f)
	require.NoError(t, err, name)
	return m, c
}

var onnxModels = []string{
	"torch_mlp_relu_op13", "torch_mlp_square_op17", "torch_mlp_bn_pow_sigmoid_op21", "torch_mlp_matmul_tanh_bn_op15",
	"torch_cnn_bn_relu_avgpool_op13", "torch_cnn_square_reshape_op18", "torch_cnn_rect_sigmoid_gap_op20", "gemm_alpha_beta_op14",
	"static_batch_norm_transpose_op18",
}

// TestReadONNXPredict: ReadONNX then Predict reproduces the reference
// evaluation of the ONNX graph on every test input.
func TestReadONNXPredict(t *testing.T) {
	for _, name := range onnxModels {
		m, c := loadONNXCase(t, name)
		require.NoError(t, m.Validate())
		for k, x := range c.Inputs {
			y, err := m.Predict(x)
			require.NoError(t, err)
			assert.InDeltaSlice(t, c.Outputs[k], y, 1e-9, "%s sample %d", name, k)
		}
	}
}

// TestReadONNXConvIsConv2D: the im2col matrix built from the ONNX kernel is
// the one Conv2D.Dense builds.
func TestReadONNXConvIsConv2D(t *testing.T) {
	m, _ := loadONNXCase(t, "torch_cnn_square_reshape_op18")
	b, err := os.ReadFile("testdata/onnx/torch_cnn_square_reshape_op18.onnx")
	require.NoError(t, err)
	var mp onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &mp))
	var w, bias onnxref.Tensor
	for _, in := range mp.GetGraph().GetInitializer() {
		switch in.GetName() {
		case "conv1.weight":
			w = onnxref.FromProto(in)
		case "conv1.bias":
			bias = onnxref.FromProto(in)
		}
	}
	require.Equal(t, []int{2, 1, 3, 3}, w.Dims)
	c := Conv2D{InChannels: 1, Height: 8, Width: 8, OutChannels: 2, Kernel: 3, Stride: 2, Padding: 1,
		Bias: bias.Data, Activation: ActSquare}
	c.Weights = make([][][][]float64, 2)
	for oc := range 2 {
		c.Weights[oc] = [][][]float64{make([][]float64, 3)}
		for ky := range 3 {
			c.Weights[oc][0][ky] = w.Data[oc*9+ky*3 : oc*9+ky*3+3]
		}
	}
	d, err := c.Dense()
	require.NoError(t, err)
	assert.Equal(t, d.Weights, m.Layers[0].Weights)
	assert.Equal(t, d.Bias, m.Layers[0].Bias)
	assert.Equal(t, d.Conv, m.Layers[0].Conv)
	assert.Equal(t, ActSquare, m.Layers[0].Activation)
}

// TestReadONNXEncrypted: the MLP and the conv net read from ONNX, compiled
// and evaluated under encryption, agree with the reference outputs on
// every test input (three per model and mode to bound the CPU time).
func TestReadONNXEncrypted(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode Mode
		conv ConvPacking
	}{
		{"torch_mlp_square_op17", Latency, ConvAuto},
		{"torch_cnn_square_reshape_op18", Latency, ConvDirect},
		{"torch_cnn_square_reshape_op18", Latency, ConvIm2col},
		{"torch_cnn_square_reshape_op18", Batch, ConvAuto},
		{"torch_mlp_bn_pow_sigmoid_op21", Latency, ConvAuto},
		{"torch_cnn_rect_sigmoid_gap_op20", Latency, ConvAuto},
		{"torch_mlp_relu_op13", Latency, ConvAuto},
		{"torch_cnn_bn_relu_avgpool_op13", Latency, ConvAuto},
	} {
		t.Run(tc.name+"/"+tc.mode.String()+"/"+tc.conv.String(), func(t *testing.T) {
			m, c := loadONNXCase(t, tc.name)
			// Activation intervals come from the calibration inputs; a
			// degree-7 sigmoid costs 3 levels, a ReLU of the default
			// alpha reluDepth(DefaultReLUAlpha)+1.
			depth := len(m.Layers)
			for _, l := range m.Layers {
				switch l.Activation {
				case ActSquare:
					depth++
				case ActSigmoid:
					depth += 3
				case ActReLU:
					depth += reluDepth(DefaultReLUAlpha) + 1
				}
			}
			plan, err := Compile(m, CompileOptions{Mode: tc.mode, Conv: tc.conv, Calibration: c.Inputs,
				Parameters: testParams(t, 11, depth)})
			require.NoError(t, err)
			xs := c.Inputs[:3]
			got := runPlan(t, plan, xs)
			require.Len(t, got, len(xs))
			// ReLU's sign polynomial is exact only for |x| ≥ 2^-alpha of
			// its interval: allow reluBound against the exact reference,
			// and CKKS noise against the same polynomials.
			tol := 1e-3
			for li, l := range plan.Model().Layers {
				if l.Activation == ActReLU {
					tol = reluBound(t, plan, li, 1e-3)
				}
			}
			for k, x := range xs {
				require.Len(t, got[k], len(c.Outputs[k]))
				assert.InDeltaSlice(t, c.Outputs[k], got[k], tol, "sample %d", k)
				assert.Equal(t, argmax(c.Outputs[k]), argmax(got[k]), "sample %d", k)
				approx, err := plan.predictApprox(x)
				require.NoError(t, err)
				assert.InDeltaSlice(t, approx, got[k], 1e-3, "sample %d against the polynomial model", k)
			}
		})
	}
}

func argmax(v []float64) int {
	best := 0
	for k, x := range v {
		if x > v[best] {
			best = k
		}
	}
	return best
}

func TestReadONNXErrors(t *testing.T) {
	f, err := os.Open("testdata/onnx/skl2onnx_logreg_op13.onnx")
	require.NoError(t, err)
	defer f.Close()
	_, err = ReadONNX(f)
	require.ErrorIs(t, err, ErrModel)
	assert.Contains(t, err.Error(), `node "LinearClassifier" (ai.onnx.ml.LinearClassifier)`)
	assert.True(t, strings.HasPrefix(err.Error(), "he: ONNX: node "), err.Error())
	assert.Equal(t, 1, strings.Count(err.Error(), "invalid"), err.Error())

	_, err = ReadONNX(bytes.NewReader([]byte("\x08\x07garbage")))
	require.ErrorIs(t, err, ErrMalformed)
	assert.NotContains(t, err.Error(), "malformed ONNX")

	// A weight beyond float64's range after composition is caught by
	// Validate: fc1 scaled by 1e300 twice through Mul constants.
	b, err := os.ReadFile("testdata/onnx/gemm_alpha_beta_op14.onnx")
	require.NoError(t, err)
	var mp onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &mp))
	g := mp.GetGraph()
	g.Node[0].Output[0] = "y"
	big := &onnxpb.TensorProto{Name: "big", DataType: int32(onnxpb.TensorProto_DOUBLE), DoubleData: []float64{1e300}}
	g.Initializer = append(g.Initializer, big)
	g.Node = append(g.Node,
		&onnxpb.NodeProto{OpType: "Mul", Name: "m1", Input: []string{"y", "big"}, Output: []string{"y2"}},
		&onnxpb.NodeProto{OpType: "Mul", Name: "m2", Input: []string{"y2", "big"}, Output: []string{"output"}})
	b, err = proto.Marshal(&mp)
	require.NoError(t, err)
	_, err = ReadONNX(bytes.NewReader(b))
	require.ErrorIs(t, err, ErrModel)
	assert.Contains(t, err.Error(), "Inf")
	t.Log(err)
}

// FuzzReadONNX: no input panics, and a model that reads is valid and
// predicts.
func FuzzReadONNX(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "onnx", "*.onnx"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadONNX(bytes.NewReader(b))
		if err != nil {
			return
		}
		require.NoError(t, m.Validate())
		y, err := m.Predict(make([]float64, m.InputDim))
		require.NoError(t, err)
		require.Len(t, y, m.OutputDim())
	})
}

// TestReadONNXStandardisedConv: (x − mean)/std per pixel before the
// convolution folds into it and keeps its shape, which Validate checks
// against the weights.
func TestReadONNXStandardisedConv(t *testing.T) {
	b, err := os.ReadFile("testdata/onnx/torch_cnn_square_reshape_op18.onnx")
	require.NoError(t, err)
	var mp onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &mp))
	g := mp.GetGraph()
	mean := &onnxpb.TensorProto{Name: "mean", Dims: []int64{1, 1, 1}, DataType: int32(onnxpb.TensorProto_DOUBLE), DoubleData: []float64{0.25}}
	std := &onnxpb.TensorProto{Name: "std", Dims: []int64{1, 8, 8}, DataType: int32(onnxpb.TensorProto_DOUBLE)}
	for k := range 64 {
		std.DoubleData = append(std.DoubleData, 0.5+float64(k)/64)
	}
	g.Initializer = append(g.Initializer, mean, std)
	g.Node = append([]*onnxpb.NodeProto{
		{OpType: "Sub", Name: "norm/sub", Input: []string{"input", "mean"}, Output: []string{"centred"}},
		{OpType: "Div", Name: "norm/div", Input: []string{"centred", "std"}, Output: []string{"normed"}},
	}, g.Node...)
	g.Node[2].Input[0] = "normed"
	b, err = proto.Marshal(&mp)
	require.NoError(t, err)
	m, err := ReadONNX(bytes.NewReader(b))
	require.NoError(t, err)
	require.Len(t, m.Layers, 2)
	require.NotNil(t, m.Layers[0].Conv)
	assert.Equal(t, ConvShape{InChannels: 1, Height: 8, Width: 8, OutChannels: 2, Kernel: 3, Stride: 2, Padding: 1}, *m.Layers[0].Conv)
	_, c := loadONNXCase(t, "torch_cnn_square_reshape_op18")
	for _, x := range c.Inputs {
		want, err := onnxref.Run(&mp, x)
		require.NoError(t, err)
		got, err := m.Predict(x)
		require.NoError(t, err)
		assert.InDeltaSlice(t, want, got, 1e-9)
	}
}
