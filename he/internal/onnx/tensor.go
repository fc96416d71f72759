package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/privml/privml/he/internal/onnx/onnxpb"
)

// tensor is a constant: an initializer or the output of a Constant node.
// Floating-point data is held in f, integer data in i.
type tensor struct {
	name string
	dims []int
	f    []float64
	i    []int64
}

func (t *tensor) size() int { return prod(t.dims) }

func prod(d []int) int {
	n := 1
	for _, v := range d {
		n *= v
	}
	return n
}

// decodeTensor converts a TensorProto of FLOAT, DOUBLE, INT32 or INT64
// elements, held in raw_data (little-endian) or in the typed fields,
// checking its dimensions against the limits before allocating.
func decodeTensor(t *onnxpb.TensorProto, lim Limits, where string) (*tensor, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, errorf(ErrUnsupported, "%s: tensor %q: external data is not supported; save the model with its weights inside", where, t.GetName())
	}
	if t.GetSegment() != nil {
		return nil, errorf(ErrUnsupported, "%s: tensor %q: segmented tensors are not supported", where, t.GetName())
	}
	out := &tensor{name: t.GetName()}
	n := 1
	for k, d := range t.GetDims() {
		if d < 0 || d > int64(lim.MaxWeights) {
			return nil, errorf(ErrModel, "%s: tensor %q: dimension %d is %d, want 0..%d", where, t.GetName(), k, d, lim.MaxWeights)
		}
		n *= int(d)
		if n > lim.MaxWeights {
			return nil, errorf(ErrTooLarge, "%s: tensor %q: dimensions %v exceed %d elements", where, t.GetName(), t.GetDims(), lim.MaxWeights)
		}
		out.dims = append(out.dims, int(d))
	}
	if len(out.dims) > maxRank {
		return nil, errorf(ErrModel, "%s: tensor %q has rank %d, more than %d", where, t.GetName(), len(out.dims), maxRank)
	}
	raw := t.GetRawData()
	dt := onnxpb.TensorProto_DataType(t.GetDataType())
	var got int
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		out.f = make([]float64, n)
		if raw != nil {
			got = len(raw) / 4
			if len(raw) != 4*n {
				break
			}
			for k := range out.f {
				out.f[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:])))
			}
		} else if got = len(t.GetFloatData()); got == n {
			for k, v := range t.GetFloatData() {
				out.f[k] = float64(v)
			}
		}
	case onnxpb.TensorProto_DOUBLE:
		out.f = make([]float64, n)
		if raw != nil {
			got = len(raw) / 8
			if len(raw) != 8*n {
				break
			}
			for k := range out.f {
				out.f[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		} else if got = len(t.GetDoubleData()); got == n {
			copy(out.f, t.GetDoubleData())
		}
	case onnxpb.TensorProto_INT64:
		out.i = make([]int64, n)
		if raw != nil {
			got = len(raw) / 8
			if len(raw) != 8*n {
				break
			}
			for k := range out.i {
				out.i[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		} else if got = len(t.GetInt64Data()); got == n {
			copy(out.i, t.GetInt64Data())
		}
	case onnxpb.TensorProto_INT32:
		out.i = make([]int64, n)
		if raw != nil {
			got = len(raw) / 4
			if len(raw) != 4*n {
				break
			}
			for k := range out.i {
				out.i[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
			}
		} else if got = len(t.GetInt32Data()); got == n {
			for k, v := range t.GetInt32Data() {
				out.i[k] = int64(v)
			}
		}
	default:
		return nil, errorf(ErrUnsupported, "%s: tensor %q: element type %v is not supported (want FLOAT, DOUBLE, INT32 or INT64)", where, t.GetName(), dt)
	}
	if raw != nil && len(raw)%elemSize(dt) != 0 || got != n {
		return nil, errorf(ErrMalformed, "%s: tensor %q: dimensions %v want %d elements, data holds %d bytes / %d elements", where, t.GetName(), out.dims, n, len(raw), got)
	}
	return out, nil
}

func elemSize(dt onnxpb.TensorProto_DataType) int {
	if dt == onnxpb.TensorProto_FLOAT || dt == onnxpb.TensorProto_INT32 {
		return 4
	}
	return 8
}

// floats returns the floating-point values of t, refusing integer tensors
// and non-finite values.
func (t *tensor) floats(where string) ([]float64, error) {
	if t.f == nil {
		return nil, errorf(ErrModel, "%s: tensor %q holds integers, want floating-point weights", where, t.name)
	}
	for k, v := range t.f {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errorf(ErrModel, "%s: tensor %q: element %d is %v", where, t.name, k, v)
		}
	}
	return t.f, nil
}

// ints returns the integer values of t.
func (t *tensor) ints(where string) ([]int64, error) {
	if t.i == nil {
		return nil, errorf(ErrModel, "%s: tensor %q holds floating-point values, want integers", where, t.name)
	}
	return t.i, nil
}

// attrs indexes the attributes of a node and records which were read, so
// that unknown attributes can be refused.
type attrs struct {
	where string
	m     map[string]*onnxpb.AttributeProto
}

func newAttrs(n *onnxpb.NodeProto, where string) (*attrs, error) {
	a := &attrs{where: where, m: map[string]*onnxpb.AttributeProto{}}
	for _, at := range n.GetAttribute() {
		if at.GetRefAttrName() != "" {
			return nil, errorf(ErrUnsupported, "%s: attribute %q refers to a function attribute", where, at.GetName())
		}
		if _, dup := a.m[at.GetName()]; dup {
			return nil, errorf(ErrMalformed, "%s: attribute %q given twice", where, at.GetName())
		}
		a.m[at.GetName()] = at
	}
	return a, nil
}

// only refuses any attribute not named.
func (a *attrs) only(names ...string) error {
	for k := range a.m {
		ok := false
		for _, n := range names {
			ok = ok || n == k
		}
		if !ok {
			return errorf(ErrUnsupported, "%s: attribute %q is not supported", a.where, k)
		}
	}
	return nil
}

func (a *attrs) get(name string, typ onnxpb.AttributeProto_AttributeType) (*onnxpb.AttributeProto, error) {
	at, ok := a.m[name]
	if !ok {
		return nil, nil
	}
	// Old exporters leave the type unset; the value fields then decide.
	if at.GetType() != onnxpb.AttributeProto_UNDEFINED && at.GetType() != typ {
		return nil, errorf(ErrModel, "%s: attribute %q has type %v, want %v", a.where, name, at.GetType(), typ)
	}
	return at, nil
}

func (a *attrs) int(name string, def int64) (int64, error) {
	at, err := a.get(name, onnxpb.AttributeProto_INT)
	if at == nil || err != nil {
		return def, err
	}
	return at.GetI(), nil
}

func (a *attrs) float(name string, def float64) (float64, error) {
	at, err := a.get(name, onnxpb.AttributeProto_FLOAT)
	if at == nil || err != nil {
		return def, err
	}
	v := float64(at.GetF())
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errorf(ErrModel, "%s: attribute %q is %v", a.where, name, v)
	}
	return v, nil
}

func (a *attrs) str(name, def string) (string, error) {
	at, err := a.get(name, onnxpb.AttributeProto_STRING)
	if at == nil || err != nil {
		return def, err
	}
	return string(at.GetS()), nil
}

// ints returns the integer list attribute name, or def when absent, with
// its length checked against want (when positive).
func (a *attrs) ints(name string, def []int, want int) ([]int, error) {
	at, err := a.get(name, onnxpb.AttributeProto_INTS)
	if at == nil || err != nil {
		return def, err
	}
	v := at.GetInts()
	if want > 0 && len(v) != want {
		return nil, errorf(ErrModel, "%s: attribute %q has %d values, want %d", a.where, name, len(v), want)
	}
	out := make([]int, len(v))
	for k, x := range v {
		if x < math.MinInt32 || x > math.MaxInt32 {
			return nil, errorf(ErrModel, "%s: attribute %q: value %d out of range", a.where, name, x)
		}
		out[k] = int(x)
	}
	return out, nil
}

// tensorAttr returns the tensor attribute name, or nil.
func (a *attrs) tensor(name string, lim Limits) (*tensor, error) {
	at, err := a.get(name, onnxpb.AttributeProto_TENSOR)
	if at == nil || err != nil {
		return nil, err
	}
	if at.GetT() == nil {
		return nil, errorf(ErrModel, "%s: attribute %q holds no tensor", a.where, name)
	}
	return decodeTensor(at.GetT(), lim, fmt.Sprintf("%s: attribute %q", a.where, name))
}
