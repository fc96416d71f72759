package he

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/privml/privml/he/internal/onnx"
)

// Limits on ONNX models read by [ReadONNX].
const (
	// MaxONNXBytes bounds the encoded model.
	MaxONNXBytes = 256 << 20
	maxONNXNodes = 4096
)

// ReadONNX reads an ONNX model (a serialized ModelProto, opset 11 to 28,
// weights stored inside the file) and maps it to a [Model], reading at most
// [MaxONNXBytes].
//
// The graph must be a chain from one input of shape [batch, features] or
// [batch, C, H, W] to one output. Gemm (any alpha, beta and transB;
// transA 0), MatMul by a constant matrix, Add, Sub and Mul of constants,
// Div by a constant, Conv (group 1, any kernel, stride, padding and
// dilation), AveragePool, GlobalAveragePool and BatchNormalization are
// affine: consecutive ones are multiplied into one dense layer, so a batch
// normalization or an input standardisation is folded into a neighbouring
// linear layer and costs nothing. Relu, Sigmoid, Tanh and the square
// (Mul x x, Pow x 2) become the layer's [Activation]. Flatten (axis 1),
// Reshape (keeping the batch dimension first) and Identity move no value:
// a sample is given to [Model.Predict] and [Client.Encrypt] flattened
// row-major without its batch dimension (index c·H·W + y·W + x for
// [batch, C, H, W]), the layout of [ConvShape]. A convolution at the model
// input (possibly after an elementwise scaling such as a standardisation)
// with a square kernel, one stride and equal padding stays a layer of its
// own with its shape in [Dense.Conv], so that [Compile] may pack it as a
// convolution; a convolution elsewhere becomes its im2col matrix. Constant
// nodes, and Identity and Transpose of constants, are folded. Sigmoid,
// tanh and ReLU intervals are left at zero, so calibration data given to
// [Compile] sets them.
//
// Any other operator, including those of other domains such as
// ai.onnx.ml's LinearClassifier that skl2onnx emits for scikit-learn's
// LogisticRegression, is refused with the node's name and operator;
// errors wrap [ErrModel], [ErrMalformed] (bytes that do not decode) or
// [ErrTooLarge].
func ReadONNX(r io.Reader) (*Model, error) {
	om, err := onnx.Read(r, onnx.Limits{MaxBytes: MaxONNXBytes, MaxDim: MaxModelDim, MaxWeights: MaxModelWeights,
		MaxLayers: MaxModelLayers, MaxNodes: maxONNXNodes})
	if err != nil {
		return nil, onnxError(err)
	}
	m := &Model{Format: ModelFormat, InputDim: om.InputDim}
	for _, l := range om.Layers {
		d := Dense{Weights: l.Weights, Bias: l.Bias, Activation: Activation(l.Activation)}
		if l.Conv != nil {
			c := ConvShape(*l.Conv)
			d.Conv = &c
		}
		m.Layers = append(m.Layers, d)
	}
	if err := m.Validate(); err != nil {
		// Weights that overflow once composed, for example.
		if !errors.Is(err, ErrModel) {
			return nil, err
		}
		msg := strings.TrimSuffix(strings.TrimPrefix(err.Error(), "he: "), ": "+ErrModel.Error())
		for li, l := range om.Layers {
			msg = strings.Replace(msg, fmt.Sprintf("layer %d:", li), fmt.Sprintf("layer %d (from %s):", li, l.Node), 1)
		}
		return nil, fmt.Errorf("he: ONNX: %s: %w", msg, ErrModel)
	}
	return m, nil
}

// onnxError wraps an error of the ONNX reader in the package's sentinels.
func onnxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "onnx: ")
	// Drop the reader's own kind, which the sentinel replaces.
	for _, k := range []error{onnx.ErrMalformed, onnx.ErrUnsupported, onnx.ErrModel, onnx.ErrTooLarge} {
		msg = strings.TrimSuffix(msg, ": "+k.Error())
	}
	switch {
	case errors.Is(err, onnx.ErrMalformed):
		return fmt.Errorf("he: ONNX: %s: %w", msg, ErrMalformed)
	case errors.Is(err, onnx.ErrTooLarge):
		return fmt.Errorf("he: ONNX: %s: %w", msg, ErrTooLarge)
	case errors.Is(err, onnx.ErrUnsupported), errors.Is(err, onnx.ErrModel):
		return fmt.Errorf("he: ONNX: %s: %w", msg, ErrModel)
	}
	return fmt.Errorf("he: ONNX: %w", err)
}
