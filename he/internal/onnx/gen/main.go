// Command gen writes the ONNX test models of he/testdata/onnx and the
// outputs they must reproduce.
//
// PyTorch and skl2onnx cannot be installed where this project is built, so
// the models are assembled from the protobuf types in the node layout
// those exporters emit: torch.onnx.export (TorchScript exporter, eval
// mode) writes nn.Linear as Gemm with transB=1 and initializers
// "fc1.weight"/"fc1.bias", or as MatMul by a pre-transposed initializer
// followed by Add(bias, ·) for inputs of other ranks; x*x as Mul with the
// same input twice and x**2 as Pow with a Constant exponent; nn.Conv2d as
// Conv with dilations, group, kernel_shape, pads and strides; nn.BatchNorm
// (exported with training=PRESERVE, so not fused into the convolution) as
// BatchNormalization with epsilon and momentum; x.view(-1, n) as a
// Constant shape and Reshape; torch.flatten(x, 1) as Flatten axis 1.
// skl2onnx writes LogisticRegression as ai.onnx.ml LinearClassifier,
// Normalizer and ZipMap. Weights are float32 in raw_data, as both write
// them. The expected outputs come from onnxref, which evaluates the graph
// operator by operator.
//
// Run from the module root:
//
//	go run ./he/internal/onnx/gen -out he/testdata/onnx
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/he/internal/onnx/onnxpb"
	"github.com/privml/privml/he/internal/onnx/onnxref"
)

// Expected is the JSON file beside each model.
type Expected struct {
	Model   string      `json:"model"`
	Inputs  [][]float64 `json:"inputs"`
	Outputs [][]float64 `json:"outputs"`
}

type builder struct {
	r *rand.Rand
	g onnxpb.GraphProto
}

func newBuilder(seed uint64, name string) *builder {
	return &builder{r: rand.New(rand.NewPCG(seed, 1)), g: onnxpb.GraphProto{Name: name}}
}

// f32 returns an initializer of float32 values in raw_data.
func f32(name string, dims []int64, v []float64) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for k, x := range v {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(float32(x)))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
}

func i64(name string, v ...int64) *onnxpb.TensorProto {
	raw := make([]byte, 8*len(v))
	for k, x := range v {
		binary.LittleEndian.PutUint64(raw[8*k:], uint64(x))
	}
	return &onnxpb.TensorProto{Name: name, Dims: []int64{int64(len(v))}, DataType: int32(onnxpb.TensorProto_INT64), RawData: raw}
}

// uniform adds an initializer uniform in ±bound, like torch's default
// initialisation with bound 1/sqrt(fan_in).
func (b *builder) uniform(name string, bound float64, dims ...int64) {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float64, n)
	for k := range v {
		v[k] = bound * (2*b.r.Float64() - 1)
	}
	b.g.Initializer = append(b.g.Initializer, f32(name, dims, v))
}

// positive adds an initializer uniform in [lo, hi].
func (b *builder) positive(name string, lo, hi float64, n int64) {
	v := make([]float64, n)
	for k := range v {
		v[k] = lo + (hi-lo)*b.r.Float64()
	}
	b.g.Initializer = append(b.g.Initializer, f32(name, []int64{n}, v))
}

func ai(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func af(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

func ais(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func at(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_TENSOR, T: t}
}

func (b *builder) node(op, name string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: op, Name: name, Input: in, Output: []string{out}, Attribute: attrs})
}

func valueInfo(name, batch string, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: batch}}}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(onnxpb.TensorProto_FLOAT), Shape: shape}}}}
}

func (b *builder) io(in []int64, out []int64) {
	b.g.Input = []*onnxpb.ValueInfoProto{valueInfo("input", "batch_size", in...)}
	b.g.Output = []*onnxpb.ValueInfoProto{valueInfo("output", "batch_size", out...)}
}

func torchModel(b *builder, opset int64) *onnxpb.ModelProto {
	ir := int64(7)
	if opset >= 15 {
		ir = 8
	}
	return &onnxpb.ModelProto{IrVersion: ir, ProducerName: "pytorch", ProducerVersion: "2.5.1",
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: "", Version: opset}}, Graph: &b.g}
}

// linear appends nn.Linear(in, out) as torch exports it at opset ≥ 9.
func (b *builder) linear(mod string, in, out int64, x, y string) {
	bound := 1 / math.Sqrt(float64(in))
	b.uniform(mod+".weight", bound, out, in)
	b.uniform(mod+".bias", bound, out)
	b.node("Gemm", "/"+mod+"/Gemm", []string{x, mod + ".weight", mod + ".bias"}, y,
		af("alpha", 1), af("beta", 1), ai("transB", 1))
}

// batchNorm appends nn.BatchNorm with trained statistics.
func (b *builder) batchNorm(mod string, c int64, x, y string) {
	b.positive(mod+".weight", 0.5, 1.5, c)
	b.uniform(mod+".bias", 0.3, c)
	b.uniform(mod+".running_mean", 0.3, c)
	b.positive(mod+".running_var", 0.2, 2, c)
	b.node("BatchNormalization", "/"+mod+"/BatchNormalization",
		[]string{x, mod + ".weight", mod + ".bias", mod + ".running_mean", mod + ".running_var"}, y,
		af("epsilon", 1e-5), af("momentum", 0.9))
}

// conv appends nn.Conv2d(cin, cout, k, stride, padding).
func (b *builder) conv(mod string, cin, cout, k, stride, pad int64, x, y string) {
	bound := 1 / math.Sqrt(float64(cin*k*k))
	b.uniform(mod+".weight", bound, cout, cin, k, k)
	b.uniform(mod+".bias", bound, cout)
	b.node("Conv", "/"+mod+"/Conv", []string{x, mod + ".weight", mod + ".bias"}, y,
		ais("dilations", 1, 1), ai("group", 1), ais("kernel_shape", k, k), ais("pads", pad, pad, pad, pad), ais("strides", stride, stride))
}

// mlpReLU: Linear(8,16) → ReLU → Linear(16,3), opset 13.
func mlpReLU() *onnxpb.ModelProto {
	b := newBuilder(1, "main_graph")
	b.io([]int64{8}, []int64{3})
	b.linear("fc1", 8, 16, "input", "/fc1/Gemm_output_0")
	b.node("Relu", "/relu/Relu", []string{"/fc1/Gemm_output_0"}, "/relu/Relu_output_0")
	b.linear("fc2", 16, 3, "/relu/Relu_output_0", "output")
	return torchModel(b, 13)
}

// mlpSquare: Linear(10,8) → x*x → Linear(8,4), opset 17.
func mlpSquare() *onnxpb.ModelProto {
	b := newBuilder(2, "main_graph")
	b.io([]int64{10}, []int64{4})
	b.linear("fc1", 10, 8, "input", "/fc1/Gemm_output_0")
	b.node("Mul", "/Mul", []string{"/fc1/Gemm_output_0", "/fc1/Gemm_output_0"}, "/Mul_output_0")
	b.linear("fc2", 8, 4, "/Mul_output_0", "output")
	return torchModel(b, 17)
}

// mlpPowBNSigmoid: Linear(6,5) → BatchNorm1d(5) → x**2 → Linear(5,1) →
// sigmoid, opset 21.
func mlpPowBNSigmoid() *onnxpb.ModelProto {
	b := newBuilder(3, "main_graph")
	b.io([]int64{6}, []int64{1})
	b.linear("fc1", 6, 5, "input", "/fc1/Gemm_output_0")
	b.batchNorm("bn1", 5, "/fc1/Gemm_output_0", "/bn1/BatchNormalization_output_0")
	b.node("Constant", "/Constant", nil, "/Constant_output_0", at("value", f32("", nil, []float64{2})))
	b.node("Pow", "/Pow", []string{"/bn1/BatchNormalization_output_0", "/Constant_output_0"}, "/Pow_output_0")
	b.linear("fc2", 5, 1, "/Pow_output_0", "/fc2/Gemm_output_0")
	b.node("Sigmoid", "/Sigmoid", []string{"/fc2/Gemm_output_0"}, "output")
	return torchModel(b, 21)
}

// mlpMatMulTanh: the MatMul + Add(bias, ·) layout of nn.Linear, with a
// BatchNorm1d folded forward: MatMul/Add(7→6) → tanh → BatchNorm1d(6) →
// MatMul/Add(6→2), opset 15.
func mlpMatMulTanh() *onnxpb.ModelProto {
	b := newBuilder(4, "main_graph")
	b.io([]int64{7}, []int64{2})
	b.uniform("onnx::MatMul_21", 1/math.Sqrt(7), 7, 6)
	b.uniform("fc1.bias", 1/math.Sqrt(7), 6)
	b.node("MatMul", "/fc1/MatMul", []string{"input", "onnx::MatMul_21"}, "/fc1/MatMul_output_0")
	b.node("Add", "/fc1/Add", []string{"fc1.bias", "/fc1/MatMul_output_0"}, "/fc1/Add_output_0")
	b.node("Tanh", "/Tanh", []string{"/fc1/Add_output_0"}, "/Tanh_output_0")
	b.batchNorm("bn1", 6, "/Tanh_output_0", "/bn1/BatchNormalization_output_0")
	b.uniform("onnx::MatMul_22", 1/math.Sqrt(6), 6, 2)
	b.uniform("fc2.bias", 1/math.Sqrt(6), 2)
	b.node("MatMul", "/fc2/MatMul", []string{"/bn1/BatchNormalization_output_0", "onnx::MatMul_22"}, "/fc2/MatMul_output_0")
	b.node("Add", "/fc2/Add", []string{"fc2.bias", "/fc2/MatMul_output_0"}, "output")
	return torchModel(b, 15)
}

// cnnBNReLUPool: Conv2d(1,2,3,padding=1) → BatchNorm2d(2) → ReLU →
// AvgPool2d(2) → flatten → Linear(18,3) on 1×6×6, opset 13.
func cnnBNReLUPool() *onnxpb.ModelProto {
	b := newBuilder(5, "main_graph")
	b.io([]int64{1, 6, 6}, []int64{3})
	b.conv("conv1", 1, 2, 3, 1, 1, "input", "/conv1/Conv_output_0")
	b.batchNorm("bn1", 2, "/conv1/Conv_output_0", "/bn1/BatchNormalization_output_0")
	b.node("Relu", "/relu/Relu", []string{"/bn1/BatchNormalization_output_0"}, "/relu/Relu_output_0")
	b.node("AveragePool", "/pool/AveragePool", []string{"/relu/Relu_output_0"}, "/pool/AveragePool_output_0",
		ai("ceil_mode", 0), ai("count_include_pad", 1), ais("kernel_shape", 2, 2), ais("pads", 0, 0, 0, 0), ais("strides", 2, 2))
	b.node("Flatten", "/Flatten", []string{"/pool/AveragePool_output_0"}, "/Flatten_output_0", ai("axis", 1))
	b.linear("fc", 18, 3, "/Flatten_output_0", "output")
	return torchModel(b, 13)
}

// cnnSquare: Conv2d(1,2,3,stride=2,padding=1) → x*x → x.view(-1, 32) →
// Linear(32,4) on 1×8×8, opset 18.
func cnnSquare() *onnxpb.ModelProto {
	b := newBuilder(6, "main_graph")
	b.io([]int64{1, 8, 8}, []int64{4})
	b.conv("conv1", 1, 2, 3, 2, 1, "input", "/conv1/Conv_output_0")
	b.node("Mul", "/Mul", []string{"/conv1/Conv_output_0", "/conv1/Conv_output_0"}, "/Mul_output_0")
	b.node("Constant", "/Constant", nil, "/Constant_output_0", at("value", i64("", -1, 32)))
	b.node("Reshape", "/Reshape", []string{"/Mul_output_0", "/Constant_output_0"}, "/Reshape_output_0", ai("allowzero", 0))
	b.linear("fc", 32, 4, "/Reshape_output_0", "output")
	return torchModel(b, 18)
}

// cnnGAP: a 3×2 kernel with strides (1, 2) and padding (1, 0), 2 → 3
// channels on 2×5×6 → sigmoid → AdaptiveAvgPool2d(1) → flatten →
// Linear(3,2), opset 20.
func cnnGAP() *onnxpb.ModelProto {
	b := newBuilder(7, "main_graph")
	b.io([]int64{2, 5, 6}, []int64{2})
	b.uniform("conv1.weight", 0.4, 3, 2, 3, 2)
	b.uniform("conv1.bias", 0.4, 3)
	b.node("Conv", "/conv1/Conv", []string{"input", "conv1.weight", "conv1.bias"}, "/conv1/Conv_output_0",
		ais("dilations", 1, 1), ai("group", 1), ais("kernel_shape", 3, 2), ais("pads", 1, 0, 1, 0), ais("strides", 1, 2))
	b.node("Sigmoid", "/Sigmoid", []string{"/conv1/Conv_output_0"}, "/Sigmoid_output_0")
	b.node("GlobalAveragePool", "/gap/GlobalAveragePool", []string{"/Sigmoid_output_0"}, "/gap/GlobalAveragePool_output_0")
	b.node("Flatten", "/Flatten", []string{"/gap/GlobalAveragePool_output_0"}, "/Flatten_output_0", ai("axis", 1))
	b.linear("fc", 3, 2, "/Flatten_output_0", "output")
	return torchModel(b, 20)
}

// gemmAlphaBeta: a Gemm with transB=0, alpha 0.5, beta 2 and a [1, n]
// bias, as converters other than PyTorch write it, opset 14.
func gemmAlphaBeta() *onnxpb.ModelProto {
	b := newBuilder(8, "gemm")
	b.io([]int64{5}, []int64{3})
	b.uniform("W", 1, 5, 3)
	b.uniform("C", 1, 1, 3)
	b.node("Gemm", "gemm", []string{"input", "W", "C"}, "output", af("alpha", 0.5), af("beta", 2), ai("transA", 0), ai("transB", 0))
	return torchModel(b, 14)
}

// staticNormTranspose: a static batch of 1, input standardisation
// (x − mean)/std as Sub and Div, a weight stored [out, in] and transposed
// by a Transpose node before MatMul, ReLU, and a Reshape to the literal
// shape [1, 3], opset 18.
func staticNormTranspose() *onnxpb.ModelProto {
	b := newBuilder(10, "main_graph")
	b.io([]int64{4}, []int64{3})
	b.g.Input[0].Type.GetTensorType().Shape.Dim[0].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}
	b.g.Output[0].Type.GetTensorType().Shape.Dim[0].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}
	b.uniform("mean", 0.5, 4)
	b.positive("std", 0.5, 2, 4)
	b.node("Sub", "node_sub", []string{"input", "mean"}, "sub")
	b.node("Div", "node_div", []string{"sub", "std"}, "div")
	b.uniform("fc.weight", 0.5, 3, 4)
	b.uniform("fc.bias", 0.5, 3)
	b.node("Transpose", "node_t", []string{"fc.weight"}, "t", ais("perm", 1, 0))
	b.node("MatMul", "node_matmul", []string{"div", "t"}, "mm")
	b.node("Add", "node_add", []string{"mm", "fc.bias"}, "linear")
	b.node("Relu", "node_relu", []string{"linear"}, "relu")
	b.node("Constant", "node_shape", nil, "shape", at("value", i64("", 1, 3)))
	b.node("Reshape", "node_view", []string{"relu", "shape"}, "output")
	return torchModel(b, 18)
}

// sklLogReg: skl2onnx's LogisticRegression (binary, 4 features).
func sklLogReg() *onnxpb.ModelProto {
	b := newBuilder(9, "ONNX(LogisticRegression)")
	b.g.Input = []*onnxpb.ValueInfoProto{valueInfo("float_input", "N", 4)}
	b.g.Output = []*onnxpb.ValueInfoProto{valueInfo("output_label", "N"), valueInfo("output_probability", "N")}
	b.g.Node = []*onnxpb.NodeProto{
		{OpType: "LinearClassifier", Domain: "ai.onnx.ml", Name: "LinearClassifier", Input: []string{"float_input"},
			Output: []string{"label", "probability_tensor"}, Attribute: []*onnxpb.AttributeProto{
				{Name: "classlabels_ints", Type: onnxpb.AttributeProto_INTS, Ints: []int64{0, 1}},
				{Name: "coefficients", Type: onnxpb.AttributeProto_FLOATS, Floats: []float32{-0.5, 0.25, -1, 2, 0.5, -0.25, 1, -2}},
				{Name: "intercepts", Type: onnxpb.AttributeProto_FLOATS, Floats: []float32{0.1, -0.1}},
				{Name: "multi_class", Type: onnxpb.AttributeProto_INT, I: 0},
				{Name: "post_transform", Type: onnxpb.AttributeProto_STRING, S: []byte("LOGISTIC")}}},
		{OpType: "Normalizer", Domain: "ai.onnx.ml", Name: "Normalizer", Input: []string{"probability_tensor"},
			Output: []string{"probabilities"}, Attribute: []*onnxpb.AttributeProto{{Name: "norm", Type: onnxpb.AttributeProto_STRING, S: []byte("L1")}}},
		{OpType: "Cast", Name: "Cast", Input: []string{"label"}, Output: []string{"output_label"},
			Attribute: []*onnxpb.AttributeProto{ai("to", 7)}},
		{OpType: "ZipMap", Domain: "ai.onnx.ml", Name: "ZipMap", Input: []string{"probabilities"}, Output: []string{"output_probability"},
			Attribute: []*onnxpb.AttributeProto{{Name: "classlabels_int64s", Type: onnxpb.AttributeProto_INTS, Ints: []int64{0, 1}}}},
	}
	return &onnxpb.ModelProto{IrVersion: 8, ProducerName: "skl2onnx", ProducerVersion: "1.17.0", Domain: "ai.onnx",
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: "", Version: 13}, {Domain: "ai.onnx.ml", Version: 1}}, Graph: &b.g}
}

func main() {
	out := flag.String("out", "he/testdata/onnx", "output directory")
	flag.Parse()
	models := []struct {
		name string
		m    *onnxpb.ModelProto
		dim  int
	}{
		{"torch_mlp_relu_op13", mlpReLU(), 8},
		{"torch_mlp_square_op17", mlpSquare(), 10},
		{"torch_mlp_bn_pow_sigmoid_op21", mlpPowBNSigmoid(), 6},
		{"torch_mlp_matmul_tanh_bn_op15", mlpMatMulTanh(), 7},
		{"torch_cnn_bn_relu_avgpool_op13", cnnBNReLUPool(), 36},
		{"torch_cnn_square_reshape_op18", cnnSquare(), 64},
		{"torch_cnn_rect_sigmoid_gap_op20", cnnGAP(), 60},
		{"gemm_alpha_beta_op14", gemmAlphaBeta(), 5},
		{"static_batch_norm_transpose_op18", staticNormTranspose(), 4},
		{"skl2onnx_logreg_op13", sklLogReg(), 0},
	}
	for i, m := range models {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.m)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, m.name+".onnx"), b, 0o644); err != nil {
			log.Fatal(err)
		}
		if m.dim == 0 {
			continue
		}
		r := rand.New(rand.NewPCG(uint64(100+i), 2))
		exp := Expected{Model: m.name + ".onnx"}
		for range 5 {
			x := make([]float64, m.dim)
			for k := range x {
				x[k] = math.Round((2*r.Float64()-1)*1e4) / 1e4
			}
			y, err := onnxref.Run(m.m, x)
			if err != nil {
				log.Fatalf("%s: %v", m.name, err)
			}
			exp.Inputs = append(exp.Inputs, x)
			exp.Outputs = append(exp.Outputs, y)
		}
		if err := os.WriteFile(filepath.Join(*out, m.name+".json"), marshal(exp), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// marshal writes exp with one sample per line.
func marshal(exp Expected) []byte {
	var buf bytes.Buffer
	name, _ := json.Marshal(exp.Model)
	fmt.Fprintf(&buf, "{\"model\": %s,\n", name)
	for _, f := range []struct {
		key  string
		rows [][]float64
	}{{"inputs", exp.Inputs}, {"outputs", exp.Outputs}} {
		fmt.Fprintf(&buf, " \"%s\": [\n", f.key)
		for k, row := range f.rows {
			j, err := json.Marshal(row)
			if err != nil {
				log.Fatal(err)
			}
			sep := ","
			if k == len(f.rows)-1 {
				sep = ""
			}
			fmt.Fprintf(&buf, "  %s%s\n", j, sep)
		}
		if f.key == "inputs" {
			buf.WriteString(" ],\n")
		} else {
			buf.WriteString(" ]\n}\n")
		}
	}
	return buf.Bytes()
}
