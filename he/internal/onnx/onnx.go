// Package onnx reads an ONNX model (the protobuf ModelProto of
// https://onnx.ai, types in package onnxpb) and lowers its graph to a list
// of affine layers with activations, in a form free of package he so that
// he can import it.
//
// The graph must be a chain from one input to one output. Gemm, MatMul
// with a constant right operand, Add, Sub and Mul of constants, Div by a
// constant, Conv (group 1), AveragePool, GlobalAveragePool and
// BatchNormalization are affine and compose into the current layer; Relu, Sigmoid, Tanh and the square
// (Mul x x, Pow x 2) close it. Flatten, Reshape and Identity only change
// the shape: a sample is held flattened row-major without its batch
// dimension (index c·H·W + y·W + x for C×H×W), which is the layout of
// NCHW tensors, so they move no value. A convolution at the model input
// stays a layer of its own and keeps its shape, so that the planner may
// pack it as a convolution. Identity and Transpose of a constant are
// folded. Everything else is refused with the node's name and operator.
package onnx

//go:generate go run ./gen -out ../../testdata/onnx

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/he/internal/onnx/onnxpb"
)

// Error kinds; every error of this package wraps one.
var (
	ErrMalformed   = errors.New("malformed ONNX")
	ErrUnsupported = errors.New("unsupported ONNX")
	ErrModel       = errors.New("invalid ONNX model")
	ErrTooLarge    = errors.New("ONNX model too large")
)

func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("onnx: "+format+": %w", append(args, kind)...)
}

// Opset range read by this package: 11 is the first with today's Gemm,
// Pad-free Conv and BatchNormalization semantics; 28 is the newest defined
// by the ONNX release the schema was generated from.
const (
	MinOpset = 11
	MaxOpset = 28
	maxRank  = 8
)

// Limits bound what [Read] accepts. Every field must be positive.
type Limits struct {
	MaxBytes   int64 // size of the encoded model
	MaxDim     int   // values per sample at any point of the graph
	MaxWeights int   // elements of one tensor, and of one layer's matrix
	MaxLayers  int   // layers after lowering
	MaxNodes   int   // nodes in the graph
}

// ConvShape is a 2-D convolution with a square kernel, one stride and
// equal padding on all sides; the fields mean what those of he.ConvShape
// mean.
type ConvShape struct {
	InChannels, Height, Width, OutChannels, Kernel, Stride, Padding int
}

// Layer is y = act(W x + b).
type Layer struct {
	// Node names the ONNX node that opened the layer.
	Node string
	// Weights is out × in, row-major.
	Weights [][]float64
	// Bias has one entry per output, or is nil.
	Bias []float64
	// Activation is "", "relu", "sigmoid", "tanh" or "square".
	Activation string
	// Conv is the shape of the convolution whose im2col matrix is
	// Weights, or nil.
	Conv *ConvShape
}

// Model is the lowered graph.
type Model struct {
	Opset      int
	InputName  string
	InputShape []int // without the batch dimension
	InputDim   int
	OutputName string
	Layers     []Layer
}

// Read decodes an ONNX model from r and lowers it.
func Read(r io.Reader, lim Limits) (*Model, error) {
	lr := &io.LimitedReader{R: r, N: lim.MaxBytes + 1}
	b, err := io.ReadAll(lr)
	if err != nil {
		return nil, fmt.Errorf("onnx: reading the model: %w", err)
	}
	if int64(len(b)) > lim.MaxBytes {
		return nil, errorf(ErrTooLarge, "model larger than %d bytes", lim.MaxBytes)
	}
	return Decode(b, lim)
}

// Decode lowers the ONNX model encoded in b.
func Decode(b []byte, lim Limits) (*Model, error) {
	if lim.MaxBytes <= 0 || lim.MaxDim <= 0 || lim.MaxWeights <= 0 || lim.MaxLayers <= 0 || lim.MaxNodes <= 0 {
		return nil, fmt.Errorf("onnx: limits %+v must be positive", lim)
	}
	if int64(len(b)) > lim.MaxBytes {
		return nil, errorf(ErrTooLarge, "model larger than %d bytes", lim.MaxBytes)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		return nil, errorf(ErrMalformed, "cannot decode the ModelProto: %v", err)
	}
	opset, err := defaultOpset(&mp)
	if err != nil {
		return nil, err
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, errorf(ErrMalformed, "model has no graph")
	}
	if len(g.GetNode()) > lim.MaxNodes {
		return nil, errorf(ErrTooLarge, "graph has %d nodes, more than %d", len(g.GetNode()), lim.MaxNodes)
	}
	w := &walker{lim: lim, opset: opset, consts: map[string]*tensor{}, consumed: map[string]bool{}}
	if err := w.inputs(g); err != nil {
		return nil, err
	}
	for i, n := range g.GetNode() {
		if err := w.node(i, n); err != nil {
			return nil, err
		}
	}
	return w.finish(g)
}

// defaultOpset returns the version of the default operator set.
func defaultOpset(mp *onnxpb.ModelProto) (int, error) {
	v := int64(-1)
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			if v >= 0 {
				return 0, errorf(ErrMalformed, "default operator set imported twice")
			}
			v = o.GetVersion()
		}
	}
	if v < 0 {
		return 0, errorf(ErrModel, "model imports no version of the default operator set")
	}
	if v < MinOpset || v > MaxOpset {
		return 0, errorf(ErrUnsupported, "opset %d is not supported (want %d to %d)", v, MinOpset, MaxOpset)
	}
	return int(v), nil
}

// nodeRef names a node in messages.
func nodeRef(i int, n *onnxpb.NodeProto) string {
	op := n.GetOpType()
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		op = d + "." + op
	}
	if n.GetName() == "" {
		return fmt.Sprintf("node #%d (%s)", i, op)
	}
	return fmt.Sprintf("node %q (%s)", n.GetName(), op)
}
