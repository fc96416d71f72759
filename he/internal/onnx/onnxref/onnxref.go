// Package onnxref evaluates an ONNX graph directly, operator by operator
// on NCHW tensors, following the operator definitions of
// https://onnx.ai/onnx/operators/. It is the plaintext reference that the
// lowering of package onnx and he.ReadONNX are tested against, so it
// shares no code with them; it trusts its input and is for tests and the
// test-file generator only.
package onnxref

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/privml/privml/he/internal/onnx/onnxpb"
)

// Tensor is a dense row-major tensor.
type Tensor struct {
	Dims []int
	Data []float64
}

func size(d []int) int {
	n := 1
	for _, v := range d {
		n *= v
	}
	return n
}

// FromProto converts an initializer or Constant value.
func FromProto(t *onnxpb.TensorProto) Tensor {
	var d []int
	for _, v := range t.GetDims() {
		d = append(d, int(v))
	}
	n := size(d)
	out := Tensor{Dims: d, Data: make([]float64, n)}
	raw := t.GetRawData()
	for k := range n {
		switch onnxpb.TensorProto_DataType(t.GetDataType()) {
		case onnxpb.TensorProto_FLOAT:
			if raw != nil {
				out.Data[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:])))
			} else {
				out.Data[k] = float64(t.GetFloatData()[k])
			}
		case onnxpb.TensorProto_DOUBLE:
			if raw != nil {
				out.Data[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
			} else {
				out.Data[k] = t.GetDoubleData()[k]
			}
		case onnxpb.TensorProto_INT64:
			if raw != nil {
				out.Data[k] = float64(int64(binary.LittleEndian.Uint64(raw[8*k:])))
			} else {
				out.Data[k] = float64(t.GetInt64Data()[k])
			}
		}
	}
	return out
}

func attrInt(n *onnxpb.NodeProto, name string, def int) int {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return int(a.GetI())
		}
	}
	return def
}

func attrFloat(n *onnxpb.NodeProto, name string, def float64) float64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return float64(a.GetF())
		}
	}
	return def
}

func attrInts(n *onnxpb.NodeProto, name string, def []int) []int {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			var out []int
			for _, v := range a.GetInts() {
				out = append(out, int(v))
			}
			return out
		}
	}
	return def
}

// Run evaluates the graph on a batch of one: x is the sample flattened
// row-major, reshaped to the input's declared shape with batch 1. It
// returns the flattened output.
func Run(m *onnxpb.ModelProto, x []float64) ([]float64, error) {
	g := m.GetGraph()
	env := map[string]Tensor{}
	for _, t := range g.GetInitializer() {
		env[t.GetName()] = FromProto(t)
	}
	for _, in := range g.GetInput() {
		if _, ok := env[in.GetName()]; ok {
			continue
		}
		d := []int{1}
		for _, dim := range in.GetType().GetTensorType().GetShape().GetDim()[1:] {
			d = append(d, int(dim.GetDimValue()))
		}
		if size(d) != len(x) {
			return nil, fmt.Errorf("onnxref: input %q has %d values, sample %d", in.GetName(), size(d), len(x))
		}
		env[in.GetName()] = Tensor{Dims: d, Data: append([]float64(nil), x...)}
	}
	for _, n := range g.GetNode() {
		var ins []Tensor
		for _, name := range n.GetInput() {
			if name == "" {
				ins = append(ins, Tensor{})
				continue
			}
			t, ok := env[name]
			if !ok {
				return nil, fmt.Errorf("onnxref: node %q: no value %q", n.GetName(), name)
			}
			ins = append(ins, t)
		}
		out, err := eval(n, ins)
		if err != nil {
			return nil, fmt.Errorf("onnxref: node %q (%s): %w", n.GetName(), n.GetOpType(), err)
		}
		env[n.GetOutput()[0]] = out
	}
	return env[g.GetOutput()[0].GetName()].Data, nil
}

func eval(n *onnxpb.NodeProto, in []Tensor) (Tensor, error) {
	switch n.GetOpType() {
	case "Constant":
		for _, a := range n.GetAttribute() {
			switch a.GetName() {
			case "value":
				return FromProto(a.GetT()), nil
			case "value_float":
				return Tensor{Data: []float64{float64(a.GetF())}}, nil
			case "value_ints":
				t := Tensor{Dims: []int{len(a.GetInts())}}
				for _, v := range a.GetInts() {
					t.Data = append(t.Data, float64(v))
				}
				return t, nil
			}
		}
	case "Gemm":
		return gemm(n, in)
	case "MatMul":
		return matMul(in[0], in[1]), nil
	case "Add":
		return broadcast(in[0], in[1], func(a, b float64) float64 { return a + b }), nil
	case "Sub":
		return broadcast(in[0], in[1], func(a, b float64) float64 { return a - b }), nil
	case "Div":
		return broadcast(in[0], in[1], func(a, b float64) float64 { return a / b }), nil
	case "Transpose":
		return transpose(in[0], attrInts(n, "perm", nil)), nil
	case "Mul":
		return broadcast(in[0], in[1], func(a, b float64) float64 { return a * b }), nil
	case "Pow":
		return broadcast(in[0], in[1], math.Pow), nil
	case "Relu":
		return unary(in[0], func(v float64) float64 { return math.Max(v, 0) }), nil
	case "Sigmoid":
		return unary(in[0], func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }), nil
	case "Tanh":
		return unary(in[0], math.Tanh), nil
	case "Identity":
		return in[0], nil
	case "Flatten":
		ax := attrInt(n, "axis", 1)
		return Tensor{Dims: []int{size(in[0].Dims[:ax]), size(in[0].Dims[ax:])}, Data: in[0].Data}, nil
	case "Reshape":
		return reshape(in[0], in[1]), nil
	case "Conv":
		return conv(n, in)
	case "AveragePool":
		return avgPool(n, in[0]), nil
	case "GlobalAveragePool":
		d := in[0].Dims
		return pool(in[0], d[2], d[3], 1, 1, [4]int{}, false), nil
	case "BatchNormalization":
		return batchNorm(n, in), nil
	}
	return Tensor{}, fmt.Errorf("operator not implemented")
}

func unary(t Tensor, f func(float64) float64) Tensor {
	out := Tensor{Dims: t.Dims, Data: make([]float64, len(t.Data))}
	for k, v := range t.Data {
		out.Data[k] = f(v)
	}
	return out
}

// broadcast applies f elementwise with numpy broadcasting.
func broadcast(a, b Tensor, f func(a, b float64) float64) Tensor {
	r := max(len(a.Dims), len(b.Dims))
	pad := func(d []int) []int {
		p := make([]int, r)
		for k := range p {
			p[k] = 1
		}
		copy(p[r-len(d):], d)
		return p
	}
	da, db := pad(a.Dims), pad(b.Dims)
	dims := make([]int, r)
	for k := range dims {
		dims[k] = max(da[k], db[k])
	}
	out := Tensor{Dims: dims, Data: make([]float64, size(dims))}
	idx := make([]int, r)
	for e := range out.Data {
		ia, ib := 0, 0
		for k := range r {
			ia = ia*da[k] + idx[k]%da[k]
			ib = ib*db[k] + idx[k]%db[k]
		}
		out.Data[e] = f(a.Data[ia], b.Data[ib])
		for k := r - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < dims[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}

func gemm(n *onnxpb.NodeProto, in []Tensor) (Tensor, error) {
	a, b := in[0], in[1]
	alpha, beta := attrFloat(n, "alpha", 1), attrFloat(n, "beta", 1)
	if attrInt(n, "transA", 0) != 0 {
		return Tensor{}, fmt.Errorf("transA")
	}
	tb := attrInt(n, "transB", 0) != 0
	rows, inner := a.Dims[0], a.Dims[1]
	cols := b.Dims[1]
	if tb {
		cols = b.Dims[0]
	}
	out := Tensor{Dims: []int{rows, cols}, Data: make([]float64, rows*cols)}
	for i := range rows {
		for j := range cols {
			s := 0.0
			for k := range inner {
				bv := b.Data[k*cols+j]
				if tb {
					bv = b.Data[j*inner+k]
				}
				s += a.Data[i*inner+k] * bv
			}
			out.Data[i*cols+j] = alpha * s
		}
	}
	if len(in) > 2 && in[2].Data != nil {
		c := unary(in[2], func(v float64) float64 { return beta * v })
		out = broadcast(out, c, func(a, b float64) float64 { return a + b })
	}
	return out, nil
}

func matMul(a, b Tensor) Tensor {
	rows, inner, cols := a.Dims[0], a.Dims[1], b.Dims[1]
	out := Tensor{Dims: []int{rows, cols}, Data: make([]float64, rows*cols)}
	for i := range rows {
		for j := range cols {
			for k := range inner {
				out.Data[i*cols+j] += a.Data[i*inner+k] * b.Data[k*cols+j]
			}
		}
	}
	return out
}

func reshape(x, s Tensor) Tensor {
	d := make([]int, len(s.Data))
	infer := -1
	for k, v := range s.Data {
		switch {
		case v == 0:
			d[k] = x.Dims[k]
		case v == -1:
			infer = k
			d[k] = 1
		default:
			d[k] = int(v)
		}
	}
	if infer >= 0 {
		d[infer] = len(x.Data) / size(d)
	}
	return Tensor{Dims: d, Data: x.Data}
}

// conv is the direct definition: y[n,m,oy,ox] = b[m] + Σ_{c,ky,kx}
// x[n,c,oy·s−pt+ky·d, ox·s−pl+kx·d] · w[m,c,ky,kx].
func conv(n *onnxpb.NodeProto, in []Tensor) (Tensor, error) {
	x, w := in[0], in[1]
	if attrInt(n, "group", 1) != 1 {
		return Tensor{}, fmt.Errorf("group")
	}
	c, h, wd := x.Dims[1], x.Dims[2], x.Dims[3]
	m, kh, kw := w.Dims[0], w.Dims[2], w.Dims[3]
	st := attrInts(n, "strides", []int{1, 1})
	dl := attrInts(n, "dilations", []int{1, 1})
	p := attrInts(n, "pads", []int{0, 0, 0, 0})
	oh := (h+p[0]+p[2]-(kh-1)*dl[0]-1)/st[0] + 1
	ow := (wd+p[1]+p[3]-(kw-1)*dl[1]-1)/st[1] + 1
	out := Tensor{Dims: []int{1, m, oh, ow}, Data: make([]float64, m*oh*ow)}
	for oc := range m {
		for oy := range oh {
			for ox := range ow {
				s := 0.0
				if len(in) > 2 && in[2].Data != nil {
					s = in[2].Data[oc]
				}
				for ic := range c {
					for ky := range kh {
						for kx := range kw {
							y, xx := oy*st[0]-p[0]+ky*dl[0], ox*st[1]-p[1]+kx*dl[1]
							if y < 0 || y >= h || xx < 0 || xx >= wd {
								continue
							}
							s += x.Data[(ic*h+y)*wd+xx] * w.Data[((oc*c+ic)*kh+ky)*kw+kx]
						}
					}
				}
				out.Data[(oc*oh+oy)*ow+ox] = s
			}
		}
	}
	return out, nil
}

func avgPool(n *onnxpb.NodeProto, x Tensor) Tensor {
	k := attrInts(n, "kernel_shape", nil)
	st := attrInts(n, "strides", []int{1, 1})
	p := attrInts(n, "pads", []int{0, 0, 0, 0})
	return pool(x, k[0], k[1], st[0], st[1], [4]int{p[0], p[1], p[2], p[3]}, attrInt(n, "count_include_pad", 0) != 0)
}

// pool averages kh × kw windows; the divisor counts padding only when
// includePad.
func pool(x Tensor, kh, kw, sh, sw int, p [4]int, includePad bool) Tensor {
	c, h, wd := x.Dims[1], x.Dims[2], x.Dims[3]
	oh, ow := (h+p[0]+p[2]-kh)/sh+1, (wd+p[1]+p[3]-kw)/sw+1
	out := Tensor{Dims: []int{1, c, oh, ow}, Data: make([]float64, c*oh*ow)}
	for ch := range c {
		for oy := range oh {
			for ox := range ow {
				s, cnt := 0.0, 0
				for ky := range kh {
					for kx := range kw {
						y, xx := oy*sh-p[0]+ky, ox*sw-p[1]+kx
						if y < 0 || y >= h || xx < 0 || xx >= wd {
							continue
						}
						s += x.Data[(ch*h+y)*wd+xx]
						cnt++
					}
				}
				if includePad {
					cnt = kh * kw
				}
				out.Data[(ch*oh+oy)*ow+ox] = s / float64(cnt)
			}
		}
	}
	return out
}

func batchNorm(n *onnxpb.NodeProto, in []Tensor) Tensor {
	x := in[0]
	eps := attrFloat(n, "epsilon", 1e-5)
	c := x.Dims[1]
	per := len(x.Data) / c
	out := Tensor{Dims: x.Dims, Data: make([]float64, len(x.Data))}
	for k, v := range x.Data {
		ch := k / per
		out.Data[k] = in[1].Data[ch]*(v-in[3].Data[ch])/math.Sqrt(in[4].Data[ch]+eps) + in[2].Data[ch]
	}
	return out
}

// transpose permutes the axes (reversed when perm is nil).
func transpose(t Tensor, perm []int) Tensor {
	r := len(t.Dims)
	if perm == nil {
		for k := range r {
			perm = append(perm, r-1-k)
		}
	}
	dims := make([]int, r)
	for k, p := range perm {
		dims[k] = t.Dims[p]
	}
	out := Tensor{Dims: dims, Data: make([]float64, len(t.Data))}
	src := make([]int, r)
	for e := range t.Data {
		// Coordinates of input element e.
		rem := e
		for k := r - 1; k >= 0; k-- {
			src[k] = rem % t.Dims[k]
			rem /= t.Dims[k]
		}
		dst := 0
		for k := range r {
			dst = dst*dims[k] + src[perm[k]]
		}
		out.Data[dst] = t.Data[e]
	}
	return out
}
