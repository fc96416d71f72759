package onnx

import (
	"fmt"

	"github.com/privml/privml/he/internal/onnx/onnxpb"
)

// maxComposeWork bounds the multiply-adds spent composing two affine maps;
// beyond it the pending map becomes a layer of its own instead.
const maxComposeWork = 1 << 28

// walker lowers the nodes of a graph one by one. The one tensor computed
// from the model input (the stream) is cur, of per-sample shape shape;
// the affine map applied to the last closed layer's output so far is
// pending: x ↦ pw·x + pb, or diag(pa)·x + pb while pw is nil (pa nil
// means ones, pb nil zeros).
type walker struct {
	lim      Limits
	opset    int
	consts   map[string]*tensor
	defined  map[string]bool
	consumed map[string]bool

	inputName  string
	inputShape []int
	batch      int64 // the static batch dimension, or -1
	cur        string
	shape      []int

	layers []Layer
	pw     [][]float64
	pa     []float64 // with pw nil: the pending map is diag(pa)
	pb     []float64
	pnode  string
	pconv  *ConvShape
}

func (w *walker) n() int { return prod(w.shape) }

// inputs registers the initializers and the one graph input that is not
// an initializer.
func (w *walker) inputs(g *onnxpb.GraphProto) error {
	w.defined = map[string]bool{}
	if len(g.GetSparseInitializer()) > 0 {
		return errorf(ErrUnsupported, "sparse initializers are not supported")
	}
	for _, t := range g.GetInitializer() {
		if t.GetName() == "" {
			return errorf(ErrMalformed, "an initializer has no name")
		}
		if w.consts[t.GetName()] != nil {
			return errorf(ErrMalformed, "initializer %q defined twice", t.GetName())
		}
		ct, err := decodeTensor(t, w.lim, "initializer")
		if err != nil {
			return err
		}
		w.consts[t.GetName()] = ct
		w.defined[t.GetName()] = true
	}
	var in *onnxpb.ValueInfoProto
	for _, vi := range g.GetInput() {
		if w.consts[vi.GetName()] != nil {
			continue // IR < 4 lists initializers among the inputs
		}
		if in != nil {
			return errorf(ErrUnsupported, "graph has inputs %q and %q; only models with one input are supported", in.GetName(), vi.GetName())
		}
		in = vi
	}
	if in == nil {
		return errorf(ErrModel, "graph has no input")
	}
	tt := in.GetType().GetTensorType()
	if tt == nil {
		return errorf(ErrUnsupported, "input %q is not a tensor", in.GetName())
	}
	if et := onnxpb.TensorProto_DataType(tt.GetElemType()); et != onnxpb.TensorProto_FLOAT && et != onnxpb.TensorProto_DOUBLE {
		return errorf(ErrUnsupported, "input %q has element type %v, want FLOAT or DOUBLE", in.GetName(), et)
	}
	dims := tt.GetShape().GetDim()
	if tt.GetShape() == nil || len(dims) < 2 || len(dims) > maxRank {
		return errorf(ErrUnsupported, "input %q must have a static shape [batch, features...] of rank 2 to %d", in.GetName(), maxRank)
	}
	w.batch = -1
	if d, ok := dims[0].GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
		w.batch = d.DimValue
	}
	for k, d := range dims[1:] {
		v := d.GetDimValue()
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); !ok || v < 1 || v > int64(w.lim.MaxDim) {
			return errorf(ErrUnsupported, "input %q: dimension %d must be a number in 1..%d", in.GetName(), k+1, w.lim.MaxDim)
		}
		w.shape = append(w.shape, int(v))
		if w.n() > w.lim.MaxDim {
			return errorf(ErrTooLarge, "input %q has more than %d values per sample", in.GetName(), w.lim.MaxDim)
		}
	}
	w.inputName, w.cur = in.GetName(), in.GetName()
	w.inputShape = append([]int(nil), w.shape...)
	w.defined[w.cur] = true
	return nil
}

// operands sorts the inputs of a node into the stream and constants.
// Empty names (omitted optional inputs) give nil constants.
func (w *walker) operands(n *onnxpb.NodeProto, where string) (stream []int, consts []*tensor, err error) {
	consts = make([]*tensor, len(n.GetInput()))
	for k, name := range n.GetInput() {
		switch {
		case name == "":
		case name == w.cur:
			stream = append(stream, k)
		case w.consts[name] != nil:
			consts[k] = w.consts[name]
		case w.consumed[name]:
			return nil, nil, errorf(ErrUnsupported, "%s: input %q was already used by another node; only chains are supported", where, name)
		default:
			return nil, nil, errorf(ErrModel, "%s: input %q is neither an initializer nor computed before", where, name)
		}
	}
	return stream, consts, nil
}

// node lowers node i.
func (w *walker) node(i int, n *onnxpb.NodeProto) error {
	where := nodeRef(i, n)
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		hint := ""
		if d == "ai.onnx.ml" && (n.GetOpType() == "LinearClassifier" || n.GetOpType() == "LinearRegressor") {
			hint = "; for a scikit-learn linear model, build it from coef_ and intercept_ with he.NewLogisticRegression or he.NewMLP"
		}
		return errorf(ErrUnsupported, "%s: operator domain %q is not supported (supported: %s of the default domain)%s", where, d, supportedOps, hint)
	}
	for _, o := range n.GetOutput() {
		if o != "" && w.defined[o] {
			return errorf(ErrMalformed, "%s: output %q is defined twice", where, o)
		}
	}
	if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
		return errorf(ErrModel, "%s: no output", where)
	}
	for _, o := range n.GetOutput()[1:] {
		if o != "" {
			return errorf(ErrUnsupported, "%s: extra output %q is not supported", where, o)
		}
	}
	a, err := newAttrs(n, where)
	if err != nil {
		return err
	}
	out := n.GetOutput()[0]
	if n.GetOpType() == "Constant" {
		t, err := w.constant(a)
		if err != nil {
			return err
		}
		t.name = out
		w.consts[out] = t
		w.defined[out] = true
		return nil
	}
	stream, consts, err := w.operands(n, where)
	if err != nil {
		return err
	}
	op := n.GetOpType()
	if _, ok := lowerings[op]; !ok && op != "Transpose" {
		return errorf(ErrUnsupported, "%s: operator %s is not supported (supported: %s)", where, op, supportedOps)
	}
	if len(stream) == 0 {
		if op != "Transpose" && op != "Identity" {
			return errorf(ErrUnsupported, "%s: computes on constants only; export with constant folding", where)
		}
		t, err := foldConstant(op, a, consts, where)
		if err != nil {
			return err
		}
		t.name = out
		w.consts[out] = t
		w.defined[out] = true
		return nil
	}
	if err := lowerings[op](w, &nodeCtx{where: where, name: n.GetName(), a: a, stream: stream, consts: consts}); err != nil {
		return err
	}
	w.consumed[w.cur] = true
	w.cur = out
	w.defined[out] = true
	return nil
}

// constant decodes a Constant node's value.
func (w *walker) constant(a *attrs) (*tensor, error) {
	if err := a.only("value", "value_float", "value_floats", "value_int", "value_ints"); err != nil {
		return nil, err
	}
	if len(a.m) != 1 {
		return nil, errorf(ErrModel, "%s: want exactly one value attribute", a.where)
	}
	if t, err := a.tensor("value", w.lim); t != nil || err != nil {
		return t, err
	}
	if _, ok := a.m["value_float"]; ok {
		v, err := a.float("value_float", 0)
		return &tensor{f: []float64{v}}, err
	}
	if _, ok := a.m["value_int"]; ok {
		v, err := a.int("value_int", 0)
		return &tensor{i: []int64{v}}, err
	}
	if at, err := a.get("value_floats", onnxpb.AttributeProto_FLOATS); at != nil || err != nil {
		if err != nil {
			return nil, err
		}
		t := &tensor{dims: []int{len(at.GetFloats())}, f: make([]float64, len(at.GetFloats()))}
		for k, v := range at.GetFloats() {
			t.f[k] = float64(v)
		}
		return t, nil
	}
	at, err := a.get("value_ints", onnxpb.AttributeProto_INTS)
	if err != nil {
		return nil, err
	}
	return &tensor{dims: []int{len(at.GetInts())}, i: append([]int64(nil), at.GetInts()...)}, nil
}

// finish checks the graph output and closes the last layer.
func (w *walker) finish(g *onnxpb.GraphProto) (*Model, error) {
	if len(g.GetOutput()) != 1 {
		return nil, errorf(ErrUnsupported, "graph has %d outputs; only models with one output are supported", len(g.GetOutput()))
	}
	o := g.GetOutput()[0]
	if o.GetName() != w.cur {
		return nil, errorf(ErrUnsupported, "graph output %q is not the end of the chain from input %q (which ends at %q)", o.GetName(), w.inputName, w.cur)
	}
	if dims := o.GetType().GetTensorType().GetShape().GetDim(); len(dims) > 0 {
		want := append([]int{0}, w.shape...)
		if len(dims) != len(want) {
			return nil, errorf(ErrModel, "graph output %q declares rank %d, the graph computes [batch %v]", o.GetName(), len(dims), w.shape)
		}
		for k, d := range dims[1:] {
			if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && d.GetDimValue() != int64(w.shape[k]) {
				return nil, errorf(ErrModel, "graph output %q declares shape %v, the graph computes [batch %v]", o.GetName(), dims, w.shape)
			}
		}
	}
	if w.pending() {
		if err := w.close(""); err != nil {
			return nil, err
		}
	}
	if len(w.layers) == 0 {
		return nil, errorf(ErrModel, "graph computes no layer")
	}
	return &Model{Opset: w.opset, InputName: w.inputName, InputShape: w.inputShape, InputDim: prod(w.inputShape),
		OutputName: w.cur, Layers: w.layers}, nil
}

// close ends the pending affine map with an activation and appends it as
// a layer.
func (w *walker) close(act string) error {
	n := w.n()
	if w.pw == nil {
		// The pending map is diagonal: diag(pa) (the identity if nil).
		if err := w.checkMatrix(n, n, "elementwise layer"); err != nil {
			return err
		}
		w.pw = make([][]float64, n)
		for k := range n {
			w.pw[k] = make([]float64, n)
			w.pw[k][k] = 1
			if w.pa != nil {
				w.pw[k][k] = w.pa[k]
			}
		}
	}
	if len(w.layers) == w.lim.MaxLayers {
		return errorf(ErrTooLarge, "%s: more than %d layers", w.pnode, w.lim.MaxLayers)
	}
	w.layers = append(w.layers, Layer{Node: w.pnode, Weights: w.pw, Bias: w.pb, Activation: act, Conv: w.pconv})
	w.pw, w.pa, w.pb, w.pnode, w.pconv = nil, nil, nil, "", nil
	return nil
}

// pending reports whether an affine map other than the identity waits to
// be closed.
func (w *walker) pending() bool { return w.pw != nil || w.pa != nil || w.pb != nil }

func (w *walker) checkMatrix(out, in int, what string) error {
	if out < 1 || in < 1 || out > w.lim.MaxDim || in > w.lim.MaxDim || out*in > w.lim.MaxWeights {
		return errorf(ErrTooLarge, "%s: %d×%d matrix exceeds the limits (%d values per sample, %d weights)", what, out, in, w.lim.MaxDim, w.lim.MaxWeights)
	}
	return nil
}

// diag composes x ↦ a∘x + d (a nil means ones, d nil zeros) after the
// pending map, for a node named where; such maps keep a convolution's
// shape.
func (w *walker) diag(a, d []float64, where string) error {
	if w.pnode == "" {
		w.pnode = where
	}
	n := w.n()
	if a != nil {
		switch {
		case w.pw != nil:
			for k, row := range w.pw {
				for j := range row {
					row[j] *= a[k]
				}
			}
		case w.pa != nil:
			for k := range w.pa {
				w.pa[k] *= a[k]
			}
		default:
			w.pa = append([]float64(nil), a...)
		}
		for k := range w.pb {
			w.pb[k] *= a[k]
		}
	}
	if d != nil {
		if w.pb == nil {
			w.pb = make([]float64, n)
		}
		for k := range w.pb {
			w.pb[k] += d[k]
		}
	}
	return nil
}

// matrix composes x ↦ L x + c (c may be nil) after the pending map, where
// L maps the current n values to out ones and conv, when non-nil, is the
// convolution whose im2col matrix L is. The new shape is set by the
// caller.
func (w *walker) matrix(l [][]float64, c []float64, conv *ConvShape, where string) error {
	if w.pw != nil {
		// Keep a first-layer convolution apart, and do not spend more
		// than maxComposeWork or the weight limit on a product.
		nnz := 0
		for _, row := range l {
			for _, v := range row {
				if v != 0 {
					nnz++
				}
			}
		}
		in := len(w.pw[0])
		if len(w.layers) == 0 && w.pconv != nil || nnz*in > maxComposeWork || len(l)*in > w.lim.MaxWeights {
			if err := w.close(""); err != nil {
				return err
			}
		}
	}
	if w.pnode == "" {
		w.pnode = where
	}
	var nb []float64
	if w.pb != nil || c != nil {
		nb = make([]float64, len(l))
		for o, row := range l {
			if w.pb != nil {
				for k, v := range row {
					nb[o] += v * w.pb[k]
				}
			}
			if c != nil {
				nb[o] += c[o]
			}
		}
	}
	if w.pw == nil {
		// L·diag(pa) scales the columns of L: a convolution keeps every
		// receptive field.
		if w.pa != nil {
			for _, row := range l {
				for k := range row {
					row[k] *= w.pa[k]
				}
			}
		}
		w.pw, w.pa, w.pb, w.pconv = l, nil, nb, conv
		return nil
	}
	in := len(w.pw[0])
	nw := make([][]float64, len(l))
	for o, row := range l {
		nw[o] = make([]float64, in)
		for k, v := range row {
			if v == 0 {
				continue
			}
			for j, x := range w.pw[k] {
				nw[o][j] += v * x
			}
		}
	}
	w.pw, w.pb, w.pconv = nw, nb, nil
	return nil
}

// nodeCtx is what a lowering sees of its node.
type nodeCtx struct {
	where  string
	name   string
	a      *attrs
	stream []int     // indices of inputs that are the stream
	consts []*tensor // constant inputs by index (nil for the stream)
}

func (c *nodeCtx) input(k int, what string) (*tensor, error) {
	if k >= len(c.consts) || c.consts[k] == nil {
		for _, s := range c.stream {
			if s == k {
				return nil, errorf(ErrUnsupported, "%s: %s must be a constant, not computed from the model input", c.where, what)
			}
		}
		return nil, errorf(ErrModel, "%s: missing %s", c.where, what)
	}
	return c.consts[k], nil
}

// wantStream checks that the stream is input k and that the node has
// between lo and hi inputs.
func (c *nodeCtx) wantStream(k, lo, hi int) error {
	if len(c.consts) < lo || len(c.consts) > hi {
		return errorf(ErrModel, "%s: %d inputs, want %d to %d", c.where, len(c.consts), lo, hi)
	}
	if len(c.stream) != 1 || c.stream[0] != k {
		return errorf(ErrUnsupported, "%s: only input %d may be computed from the model input", c.where, k)
	}
	return nil
}

func shapeStr(s []int) string { return fmt.Sprint(append([]any{"batch"}, intsAny(s)...)) }

func intsAny(s []int) []any {
	out := make([]any, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

// foldConstant evaluates Identity or Transpose of a constant, as
// exporters without constant folding leave them on weights.
func foldConstant(op string, a *attrs, consts []*tensor, where string) (*tensor, error) {
	if len(consts) != 1 || consts[0] == nil {
		return nil, errorf(ErrModel, "%s: want one input", where)
	}
	t := consts[0]
	if op == "Identity" {
		return &tensor{dims: t.dims, f: t.f, i: t.i}, a.only()
	}
	if err := a.only("perm"); err != nil {
		return nil, err
	}
	r := len(t.dims)
	def := make([]int, r)
	for k := range def {
		def[k] = r - 1 - k
	}
	perm, err := a.ints("perm", def, r)
	if err != nil {
		return nil, err
	}
	seen := make([]bool, r)
	dims := make([]int, r)
	for k, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil, errorf(ErrModel, "%s: perm %v is not a permutation of %d axes", where, perm, r)
		}
		seen[p] = true
		dims[k] = t.dims[p]
	}
	// Strides of the input, read in the output's axis order.
	stride := make([]int, r)
	s := 1
	for k := r - 1; k >= 0; k-- {
		stride[k] = s
		s *= t.dims[k]
	}
	out := &tensor{dims: dims}
	n := t.size()
	if t.f != nil {
		out.f = make([]float64, n)
	} else {
		out.i = make([]int64, n)
	}
	idx := make([]int, r)
	for e := range n {
		src := 0
		for k := range r {
			src += idx[k] * stride[perm[k]]
		}
		if t.f != nil {
			out.f[e] = t.f[src]
		} else {
			out.i[e] = t.i[src]
		}
		for k := r - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < dims[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out, nil
}
