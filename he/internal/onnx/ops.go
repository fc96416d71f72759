package onnx

import (
	"math"
)

// supportedOps lists the operators of the default domain that lower.
const supportedOps = "Gemm, MatMul, Add, Sub, Mul, Div, Conv, AveragePool, GlobalAveragePool, BatchNormalization, " +
	"Relu, Sigmoid, Tanh, Pow (exponent 2), Flatten, Reshape, Identity, Constant, and Transpose of a constant"

var lowerings map[string]func(*walker, *nodeCtx) error

func init() {
	lowerings = map[string]func(*walker, *nodeCtx) error{
		"Gemm":               (*walker).gemm,
		"MatMul":             (*walker).matMul,
		"Add":                (*walker).add,
		"Sub":                (*walker).sub,
		"Mul":                (*walker).mul,
		"Div":                (*walker).div,
		"Pow":                (*walker).pow,
		"Conv":               (*walker).conv,
		"AveragePool":        (*walker).avgPool,
		"GlobalAveragePool":  (*walker).globalAvgPool,
		"BatchNormalization": (*walker).batchNorm,
		"Relu":               activation("relu"),
		"Sigmoid":            activation("sigmoid"),
		"Tanh":               activation("tanh"),
		"Flatten":            (*walker).flatten,
		"Reshape":            (*walker).reshape,
		"Identity":           (*walker).identity,
	}
}

func activation(name string) func(*walker, *nodeCtx) error {
	return func(w *walker, c *nodeCtx) error {
		if err := c.wantStream(0, 1, 1); err != nil {
			return err
		}
		if err := c.a.only(); err != nil {
			return err
		}
		if w.pnode == "" {
			w.pnode = c.where
		}
		return w.close(name)
	}
}

// broadcast expands t (numpy broadcasting against [batch, shape...], with
// a batch dimension of 1) to one value per element of a sample.
func broadcast(t *tensor, shape []int, where, what string) ([]float64, error) {
	v, err := t.floats(where)
	if err != nil {
		return nil, err
	}
	dims := t.dims
	if len(dims) == len(shape)+1 {
		if dims[0] != 1 {
			return nil, errorf(ErrModel, "%s: %s has shape %v, which does not broadcast to %s per sample", where, what, dims, shapeStr(shape))
		}
		dims = dims[1:]
	}
	if len(dims) > len(shape) {
		return nil, errorf(ErrModel, "%s: %s has shape %v, which does not broadcast to %s", where, what, t.dims, shapeStr(shape))
	}
	full := make([]int, len(shape))
	for k := range full {
		full[k] = 1
	}
	copy(full[len(shape)-len(dims):], dims)
	for k := range full {
		if full[k] != 1 && full[k] != shape[k] {
			return nil, errorf(ErrModel, "%s: %s has shape %v, which does not broadcast to %s", where, what, t.dims, shapeStr(shape))
		}
	}
	n := prod(shape)
	out := make([]float64, n)
	idx := make([]int, len(shape))
	for e := range n {
		// Source index: the same coordinates, 0 where t has extent 1.
		src := 0
		for k := range shape {
			c := idx[k]
			if full[k] == 1 {
				c = 0
			}
			src = src*full[k] + c
		}
		out[e] = v[src]
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out, nil
}

// gemm lowers Y = alpha·A'·B' + beta·C with A the stream.
func (w *walker) gemm(c *nodeCtx) error {
	if err := c.wantStream(0, 2, 3); err != nil {
		return err
	}
	if err := c.a.only("alpha", "beta", "transA", "transB"); err != nil {
		return err
	}
	alpha, err := c.a.float("alpha", 1)
	if err != nil {
		return err
	}
	beta, err := c.a.float("beta", 1)
	if err != nil {
		return err
	}
	ta, err := c.a.int("transA", 0)
	if err != nil {
		return err
	}
	tb, err := c.a.int("transB", 0)
	if err != nil {
		return err
	}
	if ta != 0 {
		return errorf(ErrUnsupported, "%s: transA=%d would transpose the batch dimension", c.where, ta)
	}
	if len(w.shape) != 1 {
		return errorf(ErrModel, "%s: input has shape %s, Gemm wants [batch, features]; flatten it first", c.where, shapeStr(w.shape))
	}
	b, err := c.input(1, "B")
	if err != nil {
		return err
	}
	l, err := w.weightMatrix(b, tb != 0, alpha, c.where)
	if err != nil {
		return err
	}
	var bias []float64
	if len(c.consts) == 3 && c.consts[2] != nil {
		bias, err = broadcast(c.consts[2], []int{len(l)}, c.where, "C")
		if err != nil {
			return err
		}
		for k := range bias {
			bias[k] *= beta
		}
	}
	if err := w.matrix(l, bias, nil, c.where); err != nil {
		return err
	}
	w.shape = []int{len(l)}
	return nil
}

// weightMatrix returns the out × in matrix of a 2-D weight b applied to
// the n-vector stream: b itself if trans (b is out × in), else its
// transpose, times scale.
func (w *walker) weightMatrix(b *tensor, trans bool, scale float64, where string) ([][]float64, error) {
	if len(b.dims) != 2 {
		return nil, errorf(ErrModel, "%s: weight %q has shape %v, want 2 dimensions", where, b.name, b.dims)
	}
	v, err := b.floats(where)
	if err != nil {
		return nil, err
	}
	out, in := b.dims[1], b.dims[0]
	if trans {
		out, in = in, out
	}
	if in != w.n() {
		return nil, errorf(ErrModel, "%s: weight %q has shape %v, the input has %d features", where, b.name, b.dims, w.n())
	}
	if err := w.checkMatrix(out, in, where); err != nil {
		return nil, err
	}
	l := make([][]float64, out)
	for o := range l {
		l[o] = make([]float64, in)
		for i := range l[o] {
			if trans {
				l[o][i] = scale * v[o*in+i]
			} else {
				l[o][i] = scale * v[i*out+o]
			}
		}
	}
	return l, nil
}

// matMul lowers Y = A·B with A the stream and B a constant matrix.
func (w *walker) matMul(c *nodeCtx) error {
	if err := c.wantStream(0, 2, 2); err != nil {
		return err
	}
	if err := c.a.only(); err != nil {
		return err
	}
	if len(w.shape) != 1 {
		return errorf(ErrUnsupported, "%s: input has shape %s; only [batch, features] is supported", c.where, shapeStr(w.shape))
	}
	b, err := c.input(1, "B")
	if err != nil {
		return err
	}
	l, err := w.weightMatrix(b, false, 1, c.where)
	if err != nil {
		return err
	}
	if err := w.matrix(l, nil, nil, c.where); err != nil {
		return err
	}
	w.shape = []int{len(l)}
	return nil
}

// other returns the constant operand of a binary node whose other operand
// is the stream.
func (c *nodeCtx) other() (*tensor, error) {
	if len(c.consts) != 2 || len(c.stream) != 1 {
		return nil, errorf(ErrUnsupported, "%s: want the model input's stream and a constant", c.where)
	}
	return c.input(1-c.stream[0], "second operand")
}

func (w *walker) add(c *nodeCtx) error {
	if err := c.a.only(); err != nil {
		return err
	}
	t, err := c.other()
	if err != nil {
		return err
	}
	d, err := broadcast(t, w.shape, c.where, "addend")
	if err != nil {
		return err
	}
	return w.diag(nil, d, c.where)
}

// sub lowers x − c and c − x.
func (w *walker) sub(c *nodeCtx) error {
	if err := c.a.only(); err != nil {
		return err
	}
	t, err := c.other()
	if err != nil {
		return err
	}
	d, err := broadcast(t, w.shape, c.where, "operand")
	if err != nil {
		return err
	}
	if c.stream[0] == 0 {
		for k := range d {
			d[k] = -d[k]
		}
		return w.diag(nil, d, c.where)
	}
	a := make([]float64, len(d))
	for k := range a {
		a[k] = -1
	}
	return w.diag(a, d, c.where)
}

// div lowers x / c for a constant c without zeros.
func (w *walker) div(c *nodeCtx) error {
	if err := c.a.only(); err != nil {
		return err
	}
	if len(c.stream) != 1 || c.stream[0] != 0 {
		return errorf(ErrUnsupported, "%s: only division of the model input's stream by a constant is supported", c.where)
	}
	t, err := c.other()
	if err != nil {
		return err
	}
	a, err := broadcast(t, w.shape, c.where, "divisor")
	if err != nil {
		return err
	}
	for k, v := range a {
		if v == 0 {
			return errorf(ErrModel, "%s: divisor %q has a zero", c.where, t.name)
		}
		a[k] = 1 / v
	}
	return w.diag(a, nil, c.where)
}

// mul lowers x·x to the square activation and x·c to a diagonal map.
func (w *walker) mul(c *nodeCtx) error {
	if err := c.a.only(); err != nil {
		return err
	}
	if len(c.consts) == 2 && len(c.stream) == 2 {
		if w.pnode == "" {
			w.pnode = c.where
		}
		return w.close("square")
	}
	t, err := c.other()
	if err != nil {
		return err
	}
	a, err := broadcast(t, w.shape, c.where, "factor")
	if err != nil {
		return err
	}
	return w.diag(a, nil, c.where)
}

// pow lowers x^2 to the square activation.
func (w *walker) pow(c *nodeCtx) error {
	if err := c.wantStream(0, 2, 2); err != nil {
		return err
	}
	if err := c.a.only(); err != nil {
		return err
	}
	e, err := c.input(1, "exponent")
	if err != nil {
		return err
	}
	if e.size() != 1 || !(e.f != nil && e.f[0] == 2 || e.i != nil && e.i[0] == 2) {
		return errorf(ErrUnsupported, "%s: only the exponent 2 is supported", c.where)
	}
	if w.pnode == "" {
		w.pnode = c.where
	}
	return w.close("square")
}

func (w *walker) batchNorm(c *nodeCtx) error {
	if err := c.wantStream(0, 5, 5); err != nil {
		return err
	}
	if err := c.a.only("epsilon", "momentum", "training_mode"); err != nil {
		return err
	}
	eps, err := c.a.float("epsilon", 1e-5)
	if err != nil {
		return err
	}
	if tm, err := c.a.int("training_mode", 0); err != nil || tm != 0 {
		if err != nil {
			return err
		}
		return errorf(ErrUnsupported, "%s: training_mode=%d; export the model in inference mode", c.where, tm)
	}
	if len(w.shape) == 0 {
		return errorf(ErrModel, "%s: input has no channel dimension", c.where)
	}
	ch := w.shape[0]
	var stats [4][]float64
	for k, what := range []string{"scale", "B", "input_mean", "input_var"} {
		t, err := c.input(k+1, what)
		if err != nil {
			return err
		}
		if t.size() != ch || len(t.dims) != 1 {
			return errorf(ErrModel, "%s: %s %q has shape %v, want [%d]", c.where, what, t.name, t.dims, ch)
		}
		if stats[k], err = t.floats(c.where); err != nil {
			return err
		}
	}
	n := w.n()
	per := n / ch
	a, d := make([]float64, n), make([]float64, n)
	for k := range n {
		o := k / per
		v := stats[3][o] + eps
		if !(v > 0) {
			return errorf(ErrModel, "%s: channel %d: variance + epsilon = %v, want positive", c.where, o, v)
		}
		a[k] = stats[0][o] / math.Sqrt(v)
		d[k] = stats[1][o] - stats[2][o]*a[k]
	}
	return w.diag(a, d, c.where)
}

func (w *walker) flatten(c *nodeCtx) error {
	if err := c.wantStream(0, 1, 1); err != nil {
		return err
	}
	if err := c.a.only("axis"); err != nil {
		return err
	}
	axis, err := c.a.int("axis", 1)
	if err != nil {
		return err
	}
	r := int64(len(w.shape) + 1)
	if axis < 0 {
		axis += r
	}
	if axis != 1 {
		return errorf(ErrUnsupported, "%s: axis %d; only axis 1 (keep the batch dimension) is supported", c.where, axis)
	}
	w.shape = []int{w.n()}
	return nil
}

// reshape accepts a constant target shape that keeps the batch dimension
// first; the flattened sample does not change.
func (w *walker) reshape(c *nodeCtx) error {
	if err := c.wantStream(0, 2, 2); err != nil {
		return err
	}
	if err := c.a.only("allowzero"); err != nil {
		return err
	}
	az, err := c.a.int("allowzero", 0)
	if err != nil {
		return err
	}
	t, err := c.input(1, "shape")
	if err != nil {
		return err
	}
	s, err := t.ints(c.where)
	if err != nil {
		return err
	}
	if len(s) == 0 || len(s) > maxRank || len(t.dims) != 1 {
		return errorf(ErrModel, "%s: target shape %v must be a list of 1 to %d dimensions", c.where, s, maxRank)
	}
	in := append([]int{-1}, w.shape...)
	n := w.n()
	rest := make([]int, len(s)-1)
	infer := -1
	known := 1
	for k, v := range s[1:] {
		switch {
		case v == 0 && az == 0:
			if k+1 >= len(in) {
				return errorf(ErrModel, "%s: target shape %v copies dimension %d, input has %d", c.where, s, k+1, len(in))
			}
			rest[k] = in[k+1]
		case v == -1 && infer < 0:
			infer = k
			continue
		case v < 1 || v > int64(w.lim.MaxDim):
			return errorf(ErrModel, "%s: target shape %v has dimension %d", c.where, s, v)
		default:
			rest[k] = int(v)
		}
		known *= rest[k]
		if known > w.lim.MaxDim {
			return errorf(ErrModel, "%s: target shape %v is larger than the input %s", c.where, s, shapeStr(w.shape))
		}
	}
	batchOK := s[0] == 0 && az == 0 || s[0] == -1 && infer < 0 || w.batch >= 1 && s[0] == w.batch
	if !batchOK {
		return errorf(ErrUnsupported, "%s: target shape %v does not keep the batch dimension first", c.where, s)
	}
	if infer >= 0 {
		if n%known != 0 {
			return errorf(ErrModel, "%s: target shape %v does not divide the input %s", c.where, s, shapeStr(w.shape))
		}
		rest[infer] = n / known
		known = n
	}
	if known != n {
		return errorf(ErrModel, "%s: target shape %v has %d values per sample, the input %s has %d", c.where, s, known, shapeStr(w.shape), n)
	}
	w.shape = rest
	return nil
}

func (w *walker) identity(c *nodeCtx) error {
	if err := c.wantStream(0, 1, 1); err != nil {
		return err
	}
	return c.a.only()
}
