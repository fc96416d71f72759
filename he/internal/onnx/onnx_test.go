package onnx

import (
	"bytes"
	"encoding/json"
	"math"
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

const testdata = "../../testdata/onnx"

var testLimits = Limits{MaxBytes: 1 << 20, MaxDim: 1 << 16, MaxWeights: 1 << 24, MaxLayers: 64, MaxNodes: 256}

type expected struct {
	Model   string      `json:"model"`
	Inputs  [][]float64 `json:"inputs"`
	Outputs [][]float64 `json:"outputs"`
}

func loadExpected(t *testing.T) []expected {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testdata, "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 9)
	var out []expected
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var e expected
		require.NoError(t, json.Unmarshal(b, &e), f)
		require.NotEmpty(t, e.Inputs)
		require.Len(t, e.Outputs, len(e.Inputs))
		out = append(out, e)
	}
	return out
}

func loadProto(t testing.TB, name string) *onnxpb.ModelProto {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	require.NoError(t, err)
	var m onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &m))
	return &m
}

func decodeProto(t testing.TB, m *onnxpb.ModelProto) (*Model, error) {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return Decode(b, testLimits)
}

// forward evaluates the lowered layers with the exact activations.
func forward(m *Model, x []float64) []float64 {
	cur := x
	for _, l := range m.Layers {
		next := make([]float64, len(l.Weights))
		for o, row := range l.Weights {
			s := 0.0
			if l.Bias != nil {
				s = l.Bias[o]
			}
			for i, w := range row {
				s += w * cur[i]
			}
			switch l.Activation {
			case "relu":
				s = math.Max(s, 0)
			case "sigmoid":
				s = 1 / (1 + math.Exp(-s))
			case "tanh":
				s = math.Tanh(s)
			case "square":
				s *= s
			}
			next[o] = s
		}
		cur = next
	}
	return cur
}

// TestTestdataIsReference checks that the committed outputs are what the
// reference evaluator computes from the committed models.
func TestTestdataIsReference(t *testing.T) {
	for _, e := range loadExpected(t) {
		m := loadProto(t, e.Model)
		for k, x := range e.Inputs {
			y, err := onnxref.Run(m, x)
			require.NoError(t, err, e.Model)
			assert.InDeltaSlice(t, e.Outputs[k], y, 1e-12, "%s sample %d", e.Model, k)
		}
	}
}

// TestLoweringMatchesReference: the lowered layers reproduce the graph.
func TestLoweringMatchesReference(t *testing.T) {
	for _, e := range loadExpected(t) {
		m, err := decodeProto(t, loadProto(t, e.Model))
		require.NoError(t, err, e.Model)
		for k, x := range e.Inputs {
			require.Len(t, x, m.InputDim)
			assert.InDeltaSlice(t, e.Outputs[k], forward(m, x), 1e-9, "%s sample %d", e.Model, k)
		}
	}
}

func TestLoweringStructure(t *testing.T) {
	type layer struct {
		act  string
		out  int
		conv *ConvShape
	}
	for _, tc := range []struct {
		model  string
		in     []int
		layers []layer
	}{
		{"torch_mlp_relu_op13.onnx", []int{8}, []layer{{"relu", 16, nil}, {"", 3, nil}}},
		{"torch_mlp_square_op17.onnx", []int{10}, []layer{{"square", 8, nil}, {"", 4, nil}}},
		// BatchNorm1d folded into fc1, before the square.
		{"torch_mlp_bn_pow_sigmoid_op21.onnx", []int{6}, []layer{{"square", 5, nil}, {"sigmoid", 1, nil}}},
		// BatchNorm1d after tanh folded into fc2.
		{"torch_mlp_matmul_tanh_bn_op15.onnx", []int{7}, []layer{{"tanh", 6, nil}, {"", 2, nil}}},
		// BatchNorm2d folded into the convolution, which keeps its shape;
		// average pooling multiplied into fc.
		{"torch_cnn_bn_relu_avgpool_op13.onnx", []int{1, 6, 6}, []layer{
			{"relu", 72, &ConvShape{InChannels: 1, Height: 6, Width: 6, OutChannels: 2, Kernel: 3, Stride: 1, Padding: 1}}, {"", 3, nil}}},
		{"torch_cnn_square_reshape_op18.onnx", []int{1, 8, 8}, []layer{
			{"square", 32, &ConvShape{InChannels: 1, Height: 8, Width: 8, OutChannels: 2, Kernel: 3, Stride: 2, Padding: 1}}, {"", 4, nil}}},
		// A 3×2 kernel has no ConvShape; global pooling multiplied into fc.
		{"torch_cnn_rect_sigmoid_gap_op20.onnx", []int{2, 5, 6}, []layer{{"sigmoid", 3 * 5 * 3, nil}, {"", 2, nil}}},
		{"gemm_alpha_beta_op14.onnx", []int{5}, []layer{{"", 3, nil}}},
		// Standardisation folded into the layer.
		{"static_batch_norm_transpose_op18.onnx", []int{4}, []layer{{"relu", 3, nil}}},
	} {
		m, err := decodeProto(t, loadProto(t, tc.model))
		require.NoError(t, err, tc.model)
		assert.Equal(t, tc.in, m.InputShape, tc.model)
		require.Len(t, m.Layers, len(tc.layers), tc.model)
		for k, l := range tc.layers {
			got := m.Layers[k]
			assert.Equal(t, l.act, got.Activation, "%s layer %d", tc.model, k)
			assert.Len(t, got.Weights, l.out, "%s layer %d", tc.model, k)
			assert.Equal(t, l.conv, got.Conv, "%s layer %d", tc.model, k)
			assert.NotEmpty(t, got.Node)
		}
	}
}

func TestSklearnRefused(t *testing.T) {
	_, err := decodeProto(t, loadProto(t, "skl2onnx_logreg_op13.onnx"))
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), `node "LinearClassifier" (ai.onnx.ml.LinearClassifier)`)
	assert.Contains(t, err.Error(), "he.NewLogisticRegression")
}

// mutate returns a copy of the named model changed by f.
func mutate(t *testing.T, name string, f func(m *onnxpb.ModelProto)) *onnxpb.ModelProto {
	m := loadProto(t, name)
	f(m)
	return m
}

func nodeNamed(m *onnxpb.ModelProto, name string) *onnxpb.NodeProto {
	for _, n := range m.GetGraph().GetNode() {
		if n.GetName() == name {
			return n
		}
	}
	panic("no node " + name)
}

func initNamed(m *onnxpb.ModelProto, name string) *onnxpb.TensorProto {
	for _, t := range m.GetGraph().GetInitializer() {
		if t.GetName() == name {
			return t
		}
	}
	panic("no initializer " + name)
}

func setAttr(n *onnxpb.NodeProto, a *onnxpb.AttributeProto) {
	for k, old := range n.Attribute {
		if old.GetName() == a.GetName() {
			n.Attribute[k] = a
			return
		}
	}
	n.Attribute = append(n.Attribute, a)
}

func TestErrors(t *testing.T) {
	const mlp, cnn = "torch_mlp_relu_op13.onnx", "torch_cnn_bn_relu_avgpool_op13.onnx"
	for _, tc := range []struct {
		name  string
		m     func(t *testing.T) *onnxpb.ModelProto
		kind  error
		words []string
	}{
		{"unsupported op", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				n := nodeNamed(m, "/pool/AveragePool")
				n.OpType = "MaxPool"
				n.Name = "/pool/MaxPool"
			})
		}, ErrUnsupported, []string{`node "/pool/MaxPool" (MaxPool)`, "not supported"}},
		{"unnamed unsupported op", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				n := nodeNamed(m, "/relu/Relu")
				n.OpType, n.Name = "LeakyRelu", ""
			})
		}, ErrUnsupported, []string{"node #1 (LeakyRelu)"}},
		{"missing initializer", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				g := m.GetGraph()
				g.Initializer = g.Initializer[:len(g.Initializer)-2] // fc2.weight, fc2.bias
			})
		}, ErrModel, []string{`node "/fc2/Gemm" (Gemm)`, `"fc2.weight"`}},
		{"NaN weight", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				raw := initNamed(m, "fc1.weight").RawData
				copy(raw[12:], []byte{0, 0, 0xc0, 0x7f})
			})
		}, ErrModel, []string{`"fc1.weight"`, "element 3 is NaN"}},
		{"Inf weight", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				copy(initNamed(m, "bn1.running_var").RawData, []byte{0, 0, 0x80, 0x7f})
			})
		}, ErrModel, []string{`"bn1.running_var"`, "+Inf"}},
		{"negative variance", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				copy(initNamed(m, "bn1.running_var").RawData, []byte{0, 0, 0x80, 0xbf}) // -1
			})
		}, ErrModel, []string{"/bn1/BatchNormalization", "variance + epsilon"}},
		{"short raw data", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				w := initNamed(m, "fc1.bias")
				w.RawData = w.RawData[:len(w.RawData)-1]
			})
		}, ErrMalformed, []string{`"fc1.bias"`}},
		{"absurd dims", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				initNamed(m, "fc1.weight").Dims = []int64{1 << 20, 1 << 20}
			})
		}, ErrTooLarge, []string{`"fc1.weight"`}},
		{"negative dim", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				initNamed(m, "fc1.weight").Dims = []int64{-16, -8}
			})
		}, ErrModel, []string{`"fc1.weight"`}},
		{"huge input", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				m.Graph.Input[0].Type.GetTensorType().Shape.Dim[1].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1 << 40}
			})
		}, ErrUnsupported, []string{`input "input"`, "dimension 1"}},
		{"symbolic feature dim", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				m.Graph.Input[0].Type.GetTensorType().Shape.Dim[1].Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "f"}
			})
		}, ErrUnsupported, []string{`input "input"`}},
		{"shape mismatch", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				w := initNamed(m, "fc2.weight")
				w.Dims = []int64{4, 12} // 48 values, as before; 12 inputs where fc1 gives 16
			})
		}, ErrModel, []string{`"/fc2/Gemm"`, "16 features"}},
		{"bias length", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				w := initNamed(m, "fc2.bias")
				w.Dims, w.RawData = []int64{2}, w.RawData[:8]
			})
		}, ErrModel, []string{`"/fc2/Gemm"`, "C has shape [2]"}},
		{"branch", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				g := m.GetGraph()
				// A residual connection: output = fc2(relu(h)) + h.
				g.Node[2].Output[0] = "/fc2/out"
				g.Node = append(g.Node, &onnxpb.NodeProto{OpType: "Add", Name: "/res/Add",
					Input: []string{"/fc2/out", "/fc1/Gemm_output_0"}, Output: []string{"output"}})
			})
		}, ErrUnsupported, []string{`"/res/Add"`, "already used", "chains"}},
		{"output off the chain", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) { m.Graph.Output[0].Name = "/relu/Relu_output_0" })
		}, ErrUnsupported, []string{`"/relu/Relu_output_0"`}},
		{"opset too old", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) { m.OpsetImport[0].Version = 9 })
		}, ErrUnsupported, []string{"opset 9"}},
		{"opset too new", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) { m.OpsetImport[0].Version = 99 })
		}, ErrUnsupported, []string{"opset 99"}},
		{"external data", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				w := initNamed(m, "fc1.weight")
				w.RawData, w.DataLocation = nil, onnxpb.TensorProto_EXTERNAL
				w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: "location", Value: "weights.bin"}}
			})
		}, ErrUnsupported, []string{`"fc1.weight"`, "external data"}},
		{"group conv", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				setAttr(nodeNamed(m, "/conv1/Conv"), &onnxpb.AttributeProto{Name: "group", Type: onnxpb.AttributeProto_INT, I: 2})
			})
		}, ErrUnsupported, []string{`"/conv1/Conv"`, "group=2"}},
		{"kernel_shape mismatch", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				setAttr(nodeNamed(m, "/conv1/Conv"), &onnxpb.AttributeProto{Name: "kernel_shape", Type: onnxpb.AttributeProto_INTS, Ints: []int64{5, 5}})
			})
		}, ErrModel, []string{`"/conv1/Conv"`, "kernel_shape"}},
		{"kernel larger than image", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				setAttr(nodeNamed(m, "/conv1/Conv"), &onnxpb.AttributeProto{Name: "pads", Type: onnxpb.AttributeProto_INTS, Ints: []int64{0, 0, 0, 0}})
				m.Graph.Input[0].Type.GetTensorType().Shape.Dim[2].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 2}
			})
		}, ErrModel, []string{`"/conv1/Conv"`, "larger than"}},
		{"pow 3", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, "torch_mlp_bn_pow_sigmoid_op21.onnx", func(m *onnxpb.ModelProto) {
				copy(nodeNamed(m, "/Constant").Attribute[0].T.RawData, []byte{0, 0, 0x40, 0x40}) // 3
			})
		}, ErrUnsupported, []string{`"/Pow"`, "exponent 2"}},
		{"flatten axis 0", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				setAttr(nodeNamed(m, "/Flatten"), &onnxpb.AttributeProto{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 0})
			})
		}, ErrUnsupported, []string{`"/Flatten"`, "axis 0"}},
		{"reshape drops batch", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, "torch_cnn_square_reshape_op18.onnx", func(m *onnxpb.ModelProto) {
				nodeNamed(m, "/Constant").Attribute[0].T.RawData = []byte{32, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			})
		}, ErrUnsupported, []string{`"/Reshape"`, "batch"}},
		{"reshape wrong size", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, "torch_cnn_square_reshape_op18.onnx", func(m *onnxpb.ModelProto) {
				nodeNamed(m, "/Constant").Attribute[0].T.RawData[8] = 30
			})
		}, ErrModel, []string{`"/Reshape"`, "[-1 30]"}},
		{"gemm before flatten", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				nodeNamed(m, "/fc/Gemm").Input[0] = "/pool/AveragePool_output_0"
				g := m.GetGraph()
				for k, n := range g.Node {
					if n.GetName() == "/Flatten" {
						g.Node = append(g.Node[:k], g.Node[k+1:]...)
						break
					}
				}
			})
		}, ErrModel, []string{`"/fc/Gemm"`, "flatten"}},
		{"training-mode batch norm", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				setAttr(nodeNamed(m, "/bn1/BatchNormalization"), &onnxpb.AttributeProto{Name: "training_mode", Type: onnxpb.AttributeProto_INT, I: 1})
			})
		}, ErrUnsupported, []string{"training_mode=1"}},
		{"unknown attribute", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, cnn, func(m *onnxpb.ModelProto) {
				setAttr(nodeNamed(m, "/relu/Relu"), &onnxpb.AttributeProto{Name: "alpha", Type: onnxpb.AttributeProto_FLOAT, F: 0.1})
			})
		}, ErrUnsupported, []string{`"/relu/Relu"`, `"alpha"`}},
		{"attribute type", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				setAttr(nodeNamed(m, "/fc1/Gemm"), &onnxpb.AttributeProto{Name: "transB", Type: onnxpb.AttributeProto_FLOAT, F: 1})
			})
		}, ErrModel, []string{`"/fc1/Gemm"`, `"transB"`}},
		{"duplicate output", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) { m.Graph.Node[1].Output[0] = "input" })
		}, ErrMalformed, []string{`"/relu/Relu"`, "defined twice"}},
		{"constants only", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) {
				g := m.GetGraph()
				g.Node = append([]*onnxpb.NodeProto{{OpType: "Relu", Name: "/w/Relu", Input: []string{"fc1.bias"}, Output: []string{"b2"}}}, g.Node...)
			})
		}, ErrUnsupported, []string{`"/w/Relu"`, "constants only"}},
		{"no graph", func(t *testing.T) *onnxpb.ModelProto {
			return mutate(t, mlp, func(m *onnxpb.ModelProto) { m.Graph = nil })
		}, ErrMalformed, []string{"no graph"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeProto(t, tc.m(t))
			require.ErrorIs(t, err, tc.kind)
			t.Log(err)
			for _, w := range tc.words {
				assert.Contains(t, err.Error(), w)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "onnx: "), err.Error())
		})
	}
}

func TestMalformedBytes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testdata, "torch_mlp_relu_op13.onnx"))
	require.NoError(t, err)
	for _, bad := range [][]byte{{0xff}, []byte("not onnx at all"), b[:len(b)/2]} {
		_, err := Decode(bad, testLimits)
		require.ErrorIs(t, err, ErrMalformed)
	}
	_, err = Read(bytes.NewReader(b), Limits{MaxBytes: 100, MaxDim: 1, MaxWeights: 1, MaxLayers: 1, MaxNodes: 1})
	require.ErrorIs(t, err, ErrTooLarge)
	lim := testLimits
	lim.MaxLayers = 1
	_, err = Decode(b, lim)
	require.ErrorIs(t, err, ErrTooLarge)
	lim = testLimits
	lim.MaxWeights = 100 // fc1 is 16×8
	_, err = Decode(b, lim)
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = Decode(b, Limits{})
	require.Error(t, err)
}

// FuzzDecode: no input panics, and what decodes is a consistent chain.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdata, "*.onnx"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	lim := Limits{MaxBytes: 1 << 16, MaxDim: 1 << 10, MaxWeights: 1 << 16, MaxLayers: 16, MaxNodes: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, lim)
		if err != nil {
			return
		}
		in := m.InputDim
		require.NotEmpty(t, m.Layers)
		for _, l := range m.Layers {
			require.NotEmpty(t, l.Weights)
			for _, row := range l.Weights {
				require.Len(t, row, in)
			}
			require.True(t, l.Bias == nil || len(l.Bias) == len(l.Weights))
			in = len(l.Weights)
		}
	})
}

// retype rewrites every FLOAT and INT64 tensor of m (initializers and
// Constant values) from raw_data into the typed fields: float_data,
// double_data (as DOUBLE) or int64_data.
func retype(m *onnxpb.ModelProto, double bool) {
	conv := func(t *onnxpb.TensorProto) {
		if t.RawData == nil {
			return
		}
		rt := onnxref.FromProto(t)
		switch onnxpb.TensorProto_DataType(t.DataType) {
		case onnxpb.TensorProto_FLOAT:
			if double {
				t.DataType = int32(onnxpb.TensorProto_DOUBLE)
				t.DoubleData = rt.Data
			} else {
				for _, v := range rt.Data {
					t.FloatData = append(t.FloatData, float32(v))
				}
			}
		case onnxpb.TensorProto_INT64:
			for _, v := range rt.Data {
				t.Int64Data = append(t.Int64Data, int64(v))
			}
		}
		t.RawData = nil
	}
	for _, t := range m.GetGraph().GetInitializer() {
		conv(t)
	}
	for _, n := range m.GetGraph().GetNode() {
		for _, a := range n.GetAttribute() {
			if a.GetT() != nil {
				conv(a.GetT())
			}
		}
	}
}

// TestTypedFields: weights in float_data, double_data and int64_data
// lower as they do from raw_data.
func TestTypedFields(t *testing.T) {
	for _, double := range []bool{false, true} {
		for _, e := range loadExpected(t) {
			m := loadProto(t, e.Model)
			retype(m, double)
			for _, in := range m.GetGraph().GetInitializer() {
				require.Nil(t, in.RawData)
			}
			lm, err := decodeProto(t, m)
			require.NoError(t, err, e.Model)
			for k, x := range e.Inputs {
				assert.InDeltaSlice(t, e.Outputs[k], forward(lm, x), 1e-9, "%s sample %d double=%v", e.Model, k, double)
			}
		}
	}
}

func TestFoldTranspose(t *testing.T) {
	src := &tensor{name: "w", dims: []int{2, 3, 4}, f: make([]float64, 24)}
	for k := range src.f {
		src.f[k] = float64(k)
	}
	a := &attrs{where: "here", m: map[string]*onnxpb.AttributeProto{
		"perm": {Name: "perm", Type: onnxpb.AttributeProto_INTS, Ints: []int64{2, 0, 1}}}}
	got, err := foldConstant("Transpose", a, []*tensor{src}, "here")
	require.NoError(t, err)
	require.Equal(t, []int{4, 2, 3}, got.dims)
	// out[i][j][k] = in[j][k][i].
	for i := range 4 {
		for j := range 2 {
			for k := range 3 {
				assert.Equal(t, src.f[(j*3+k)*4+i], got.f[(i*2+j)*3+k])
			}
		}
	}
	a.m["perm"].Ints = []int64{0, 0, 1}
	_, err = foldConstant("Transpose", a, []*tensor{src}, "here")
	require.ErrorIs(t, err, ErrModel)
}

// TestOperandOrder: Sub, Add and Mul with the constant first or second,
// Div, and Transpose folding agree with the reference evaluator.
func TestOperandOrder(t *testing.T) {
	const name = "static_batch_norm_transpose_op18.onnx"
	x := []float64{0.3, -0.7, 1.1, -0.2}
	for _, f := range []func(m *onnxpb.ModelProto){
		func(m *onnxpb.ModelProto) {},
		func(m *onnxpb.ModelProto) { nodeNamed(m, "node_sub").Input = []string{"mean", "input"} },
		func(m *onnxpb.ModelProto) { nodeNamed(m, "node_add").Input = []string{"fc.bias", "mm"} },
		func(m *onnxpb.ModelProto) { nodeNamed(m, "node_div").OpType = "Mul" },
		func(m *onnxpb.ModelProto) {
			n := nodeNamed(m, "node_div")
			n.OpType, n.Input = "Mul", []string{"std", "sub"}
		},
	} {
		m := mutate(t, name, f)
		want, err := onnxref.Run(m, x)
		require.NoError(t, err)
		lm, err := decodeProto(t, m)
		require.NoError(t, err)
		assert.InDeltaSlice(t, want, forward(lm, x), 1e-9)
	}
	for _, tc := range []struct {
		f    func(m *onnxpb.ModelProto)
		kind error
		msg  string
	}{
		{func(m *onnxpb.ModelProto) { nodeNamed(m, "node_div").Input = []string{"std", "sub"} }, ErrUnsupported, `"node_div"`},
		{func(m *onnxpb.ModelProto) { copy(initNamed(m, "std").RawData, []byte{0, 0, 0, 0}) }, ErrModel, `divisor "std" has a zero`},
		{func(m *onnxpb.ModelProto) { nodeNamed(m, "node_shape").Attribute[0].T.RawData[0] = 2 }, ErrUnsupported, "batch"},
	} {
		_, err := decodeProto(t, mutate(t, name, tc.f))
		require.ErrorIs(t, err, tc.kind)
		assert.Contains(t, err.Error(), tc.msg)
	}
}

// poolModel is input [N, 2, 5, 5] → AveragePool (3×3, stride 2, pads 1)
// → Flatten, as torch.nn.AvgPool2d(3, 2, padding=1) exports at opset 11+.
func poolModel(countPad int64, op string) *onnxpb.ModelProto {
	dim := func(v int64) *onnxpb.TensorShapeProto_Dimension {
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	in := &onnxpb.ValueInfoProto{Name: "x", Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: int32(onnxpb.TensorProto_FLOAT), Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}, dim(2), dim(5), dim(5)}}}}}}
	pool := &onnxpb.NodeProto{OpType: op, Name: "/pool/" + op, Input: []string{"x"}, Output: []string{"p"}}
	if op == "AveragePool" {
		pool.Attribute = []*onnxpb.AttributeProto{
			{Name: "kernel_shape", Type: onnxpb.AttributeProto_INTS, Ints: []int64{3, 3}},
			{Name: "strides", Type: onnxpb.AttributeProto_INTS, Ints: []int64{2, 2}},
			{Name: "pads", Type: onnxpb.AttributeProto_INTS, Ints: []int64{1, 1, 1, 1}},
			{Name: "ceil_mode", Type: onnxpb.AttributeProto_INT, I: 0},
			{Name: "count_include_pad", Type: onnxpb.AttributeProto_INT, I: countPad}}
	}
	return &onnxpb.ModelProto{IrVersion: 7, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}}, Graph: &onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{in},
		Output: []*onnxpb.ValueInfoProto{{Name: "y"}},
		Node: []*onnxpb.NodeProto{pool,
			{OpType: "Flatten", Name: "/Flatten", Input: []string{"p"}, Output: []string{"y"}}},
	}}
}

func TestPoolPadding(t *testing.T) {
	x := make([]float64, 50)
	for k := range x {
		x[k] = math.Sin(float64(k))
	}
	for _, tc := range []struct {
		op  string
		pad int64
		out int
	}{{"AveragePool", 0, 18}, {"AveragePool", 1, 18}, {"GlobalAveragePool", 0, 2}} {
		m := poolModel(tc.pad, tc.op)
		want, err := onnxref.Run(m, x)
		require.NoError(t, err)
		require.Len(t, want, tc.out)
		lm, err := decodeProto(t, m)
		require.NoError(t, err)
		require.Len(t, lm.Layers, 1)
		assert.InDeltaSlice(t, want, forward(lm, x), 1e-12, "%s count_include_pad=%d", tc.op, tc.pad)
	}
	// The corner window covers 4 pixels of 9: the two divisors differ.
	a, err := onnxref.Run(poolModel(0, "AveragePool"), x)
	require.NoError(t, err)
	b, err := onnxref.Run(poolModel(1, "AveragePool"), x)
	require.NoError(t, err)
	assert.InDelta(t, a[0]*4/9, b[0], 1e-12)
}

// TestOpsetRange: the operators read mean the same from opset 11 to 28;
// the ends of the range lower like the committed models.
func TestOpsetRange(t *testing.T) {
	want, err := decodeProto(t, loadProto(t, "torch_cnn_bn_relu_avgpool_op13.onnx"))
	require.NoError(t, err)
	for _, v := range []int64{MinOpset, 12, 22, MaxOpset} {
		m, err := decodeProto(t, mutate(t, "torch_cnn_bn_relu_avgpool_op13.onnx", func(m *onnxpb.ModelProto) { m.OpsetImport[0].Version = v }))
		require.NoError(t, err, "opset %d", v)
		assert.Equal(t, int(v), m.Opset)
		assert.Equal(t, want.Layers, m.Layers, "opset %d", v)
	}
	// The default domain may be named "ai.onnx"; importing it twice is an error.
	_, err = decodeProto(t, mutate(t, "torch_mlp_relu_op13.onnx", func(m *onnxpb.ModelProto) { m.OpsetImport[0].Domain = "ai.onnx" }))
	require.NoError(t, err)
	_, err = decodeProto(t, mutate(t, "torch_mlp_relu_op13.onnx", func(m *onnxpb.ModelProto) {
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: "ai.onnx", Version: 13})
	}))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = decodeProto(t, mutate(t, "torch_mlp_relu_op13.onnx", func(m *onnxpb.ModelProto) { m.OpsetImport = nil }))
	require.ErrorIs(t, err, ErrModel)
}
