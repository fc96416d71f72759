package he

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// ConvShape is the shape of a 2-D convolution: an input of
// InChannels × Height × Width values flattened channel-major (index
// c·Height·Width + y·Width + x), Kernel × Kernel filters applied with the
// given stride (zero means 1) and zero padding, and OutChannels × OH × OW
// outputs flattened the same way, with OH = (Height + 2·Padding −
// Kernel)/Stride + 1 (likewise OW).
type ConvShape struct {
	InChannels  int `json:"in_channels"`
	Height      int `json:"height"`
	Width       int `json:"width"`
	OutChannels int `json:"out_channels"`
	Kernel      int `json:"kernel"`
	Stride      int `json:"stride,omitempty"`
	Padding     int `json:"padding,omitempty"`
}

// OutShape returns the output height and width.
func (c ConvShape) OutShape() (oh, ow int) {
	s := max(c.Stride, 1)
	return (c.Height+2*c.Padding-c.Kernel)/s + 1, (c.Width+2*c.Padding-c.Kernel)/s + 1
}

// In returns the number of inputs, InChannels·Height·Width.
func (c ConvShape) In() int { return c.InChannels * c.Height * c.Width }

// Out returns the number of outputs, OutChannels·OH·OW.
func (c ConvShape) Out() int {
	oh, ow := c.OutShape()
	return c.OutChannels * oh * ow
}

// validate checks the shape alone; callers prefix the error with "he: ".
func (c ConvShape) validate() error {
	if c.InChannels < 1 || c.Height < 1 || c.Width < 1 || c.OutChannels < 1 || c.Kernel < 1 || c.Stride < 0 || c.Padding < 0 ||
		c.InChannels > MaxModelDim || c.Height > MaxModelDim || c.Width > MaxModelDim || c.OutChannels > MaxModelDim ||
		c.Stride > MaxModelDim || c.Padding > MaxModelDim ||
		c.Kernel > c.Height+2*c.Padding || c.Kernel > c.Width+2*c.Padding {
		return fmt.Errorf("invalid convolution shape %+v: %w", c, ErrModel)
	}
	if c.In() > MaxModelDim || c.Out() > MaxModelDim {
		return fmt.Errorf("convolution %+v has %d inputs and %d outputs, more than %d: %w", c, c.In(), c.Out(), MaxModelDim, ErrModel)
	}
	return nil
}

// check validates the shape against an im2col matrix w (whose rows all
// have the same length): its dimensions must match, and every non-zero
// weight must lie in its output's receptive field.
func (c ConvShape) check(w [][]float64) error {
	if err := c.validate(); err != nil {
		return err
	}
	if len(w) != c.Out() || len(w[0]) != c.In() {
		return fmt.Errorf("convolution %+v wants a %d×%d matrix, weights are %d×%d: %w", c, c.Out(), c.In(), len(w), len(w[0]), ErrModel)
	}
	oh, ow := c.OutShape()
	s := max(c.Stride, 1)
	hw := c.Height * c.Width
	for o, row := range w {
		oy, ox := (o/ow)%oh, o%ow
		y0, x0 := oy*s-c.Padding, ox*s-c.Padding
		for i, v := range row {
			if v == 0 {
				continue
			}
			y, x := (i%hw)/c.Width, i%c.Width
			if y < y0 || y >= y0+c.Kernel || x < x0 || x >= x0+c.Kernel {
				return fmt.Errorf("convolution %+v: weight [%d][%d] lies outside the receptive field of output %d: %w", c, o, i, o, ErrModel)
			}
		}
	}
	return nil
}

// Conv2D is a 2-D convolution with the layout of [ConvShape], zero
// padding, a bias per output channel and an activation.
//
// [Conv2D.Dense] lowers it to the equivalent dense layer (each output row
// holds the kernel at the output's receptive field, as im2col would
// gather it) and records the shape in [Dense.Conv]. In latency mode the
// planner then evaluates a first-layer convolution as a packed direct
// convolution when that is cheaper (see [ConvPacking] and the package
// documentation), and otherwise like any dense layer: with the hybrid
// layout the product costs one plaintext multiplication per generalized
// diagonal, whatever the sparsity of the rows.
type Conv2D struct {
	InChannels, Height, Width int
	OutChannels, Kernel       int
	Stride                    int // zero means 1
	Padding                   int
	// Weights[oc][ic][ky][kx]. Required.
	Weights [][][][]float64
	// Bias has one entry per output channel, or is empty.
	Bias       []float64
	Activation Activation
}

// Shape returns the shape of the convolution.
func (c Conv2D) Shape() ConvShape {
	return ConvShape{InChannels: c.InChannels, Height: c.Height, Width: c.Width, OutChannels: c.OutChannels,
		Kernel: c.Kernel, Stride: c.Stride, Padding: c.Padding}
}

// OutShape returns the output height and width.
func (c Conv2D) OutShape() (oh, ow int) { return c.Shape().OutShape() }

// Dense returns the dense layer equal to the convolution, with its shape
// in [Dense.Conv].
func (c Conv2D) Dense() (Dense, error) {
	s := max(c.Stride, 1)
	cs := c.Shape()
	if err := cs.validate(); err != nil {
		return Dense{}, fmt.Errorf("he: Conv2D: %w", err)
	}
	oh, ow := c.OutShape()
	in, out := c.InChannels*c.Height*c.Width, c.OutChannels*oh*ow
	if in*out > MaxModelWeights {
		return Dense{}, fmt.Errorf("he: Conv2D: %d inputs and %d outputs exceed the model limits: %w", in, out, ErrModel)
	}
	if len(c.Weights) != c.OutChannels {
		return Dense{}, fmt.Errorf("he: Conv2D: %d filters, want %d: %w", len(c.Weights), c.OutChannels, ErrModel)
	}
	for oc, f := range c.Weights {
		if len(f) != c.InChannels {
			return Dense{}, fmt.Errorf("he: Conv2D: filter %d has %d channels, want %d: %w", oc, len(f), c.InChannels, ErrModel)
		}
		for ic, k := range f {
			if len(k) != c.Kernel {
				return Dense{}, fmt.Errorf("he: Conv2D: filter %d channel %d has %d rows, want %d: %w", oc, ic, len(k), c.Kernel, ErrModel)
			}
			for _, row := range k {
				if len(row) != c.Kernel {
					return Dense{}, fmt.Errorf("he: Conv2D: filter %d channel %d has a row of %d, want %d: %w", oc, ic, len(row), c.Kernel, ErrModel)
				}
				for _, v := range row {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return Dense{}, fmt.Errorf("he: Conv2D: filter %d has a non-finite weight: %w", oc, ErrModel)
					}
				}
			}
		}
	}
	if len(c.Bias) != 0 && len(c.Bias) != c.OutChannels {
		return Dense{}, fmt.Errorf("he: Conv2D: %d biases for %d filters: %w", len(c.Bias), c.OutChannels, ErrModel)
	}
	d := Dense{Weights: make([][]float64, out), Activation: c.Activation, Conv: &cs}
	if len(c.Bias) != 0 {
		d.Bias = make([]float64, out)
	}
	for oc := range c.OutChannels {
		for oy := range oh {
			for ox := range ow {
				o := (oc*oh+oy)*ow + ox
				row := make([]float64, in)
				for ic := range c.InChannels {
					for ky := range c.Kernel {
						y := oy*s + ky - c.Padding
						if y < 0 || y >= c.Height {
							continue
						}
						for kx := range c.Kernel {
							x := ox*s + kx - c.Padding
							if x < 0 || x >= c.Width {
								continue
							}
							row[(ic*c.Height+y)*c.Width+x] += c.Weights[oc][ic][ky][kx]
						}
					}
				}
				d.Weights[o] = row
				if d.Bias != nil {
					d.Bias[o] = c.Bias[oc]
				}
			}
		}
	}
	return d, nil
}

// AvgPool2D returns the dense layer averaging size × size windows with the
// given stride over each of channels × height × width inputs (channel-major),
// followed by activation. Average pooling is linear, so it costs no more
// than any dense layer; when it follows a convolution without activation,
// multiply the two matrices instead and save a level.
func AvgPool2D(channels, height, width, size, stride int, activation Activation) (Dense, error) {
	c := Conv2D{InChannels: 1, Height: height, Width: width, OutChannels: 1, Kernel: size, Stride: stride,
		Weights: [][][][]float64{{make([][]float64, size)}}}
	for i := range size {
		c.Weights[0][0][i] = make([]float64, size)
		for j := range size {
			c.Weights[0][0][i][j] = 1 / float64(size*size)
		}
	}
	one, err := c.Dense()
	if err != nil {
		return Dense{}, fmt.Errorf("he: AvgPool2D: %w", err)
	}
	if channels < 1 || channels*height*width > MaxModelDim {
		return Dense{}, fmt.Errorf("he: AvgPool2D: %d channels of %d×%d: %w", channels, height, width, ErrModel)
	}
	in, out := height*width, one.Out()
	d := Dense{Weights: make([][]float64, channels*out), Activation: activation}
	for ch := range channels {
		for o := range out {
			row := make([]float64, channels*in)
			copy(row[ch*in:], one.Weights[o])
			d.Weights[ch*out+o] = row
		}
	}
	return d, nil
}

// FoldBatchNorm folds a batch normalization y = γ·(z − μ)/√(σ² + ε) + β
// applied to the outputs z of d (before its activation) into d's weights
// and bias, so that it costs nothing under encryption. Each slice has one
// entry per output of d.
func FoldBatchNorm(d *Dense, gamma, beta, mean, variance []float64, eps float64) error {
	n := d.Out()
	if len(gamma) != n || len(beta) != n || len(mean) != n || len(variance) != n {
		return fmt.Errorf("he: FoldBatchNorm: statistics for %d, %d, %d, %d outputs, layer has %d: %w",
			len(gamma), len(beta), len(mean), len(variance), n, ErrModel)
	}
	if !(eps >= 0) {
		return fmt.Errorf("he: FoldBatchNorm: eps %v: %w", eps, ErrModel)
	}
	if len(d.Bias) == 0 {
		d.Bias = make([]float64, n)
	}
	for o := range n {
		v := variance[o] + eps
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("he: FoldBatchNorm: output %d: variance + eps = %v: %w", o, v, ErrModel)
		}
		f := gamma[o] / math.Sqrt(v)
		for i := range d.Weights[o] {
			d.Weights[o][i] *= f
		}
		d.Bias[o] = (d.Bias[o]-mean[o])*f + beta[o]
	}
	return nil
}

// convPlan is the slot layout of a packed direct convolution, after
// Gazelle (Juvekar, Vaikuntanathan and Chandrakasan, USENIX Security 2018)
// and the multiplexed convolutions of Lee et al. (ICML 2022).
//
// The client writes the zero-padded image into a grid of rowStride slots
// per row and chanStride per channel, so that the input of output (oy, ox)
// at kernel offset (ic, ky, kx) sits exactly offset(ic, ky, kx) slots after
// the output's slot oy·s·rowStride + ox·s. The grid is repeated with the
// input period block. The product is then the linear transformation
//
//	y = Σ_{ic,ky,kx} mask_{ic,ky,kx} ⊙ rot(x, offset(ic, ky, kx))
//
// whose "diagonals" are the masks: in block oc (slots oc·block ...),
// mask_{ic,ky,kx} holds at the slot of every output (oc, oy, ox) the weight
// of its input at that offset (zero where it falls in the padding), and
// zero elsewhere. Filters use distinct blocks of the replicated input, so
// all of them share the same rotations; with a power-of-two rowStride the
// baby steps are the kx and the giant steps the (ic, ky), so a K×K kernel
// over C channels costs about K + C·K key switches (hoisted baby steps,
// baby-step giant-step of Halevi and Shoup) and C·K² plaintext products.
// The strided outputs are not compacted: the next layer reads them where
// they are (outPos), which only permutes the columns of its matrix.
//
// When the output period leaves room, the slots hold groups copies of the
// output period, and copy j serves the kernel rows (ic, ky) of group j:
// the client shifts the grid in copy j by shift[j], the offset of the
// group's first row, so one rotation by k brings the input at offset
// k + shift[j] into copy j. The rotations then cover only the offsets of
// one group; log2(groups) rotate-and-add folds by the output period sum
// the copies afterwards.
type convPlan struct {
	shape      ConvShape
	rowStride  int   // slots per grid row, at least Width + 2·Padding
	chanStride int   // slots per channel: (Height + 2·Padding)·rowStride
	block      int   // input period: nextPow2(InChannels·chanStride)
	period     int   // output period: nextPow2(OutChannels)·block
	gridPos    []int // slot of input (ic, y, x) in the grid
	outPos     []int // slot of output (oc, oy, ox) within the output period
	groups     int   // copies of the output period (a power of two)
	rowsPer    int   // kernel rows per group
	shift      []int // per copy, the grid shift
}

// newConvPlan returns the layout of c with one group.
func newConvPlan(c ConvShape) *convPlan {
	rows, w := c.Height+2*c.Padding, c.Width+2*c.Padding
	// A power-of-two row stride makes the baby steps the kernel columns,
	// unless it would double the input period.
	rs := nextPow2(w)
	if nextPow2(c.InChannels*rows*rs) > nextPow2(c.InChannels*rows*w) {
		rs = w
	}
	cp := &convPlan{shape: c, rowStride: rs, chanStride: rows * rs}
	cp.block = nextPow2(c.InChannels * cp.chanStride)
	cp.period = nextPow2(c.OutChannels) * cp.block
	cp.gridPos = make([]int, c.In())
	for ic := range c.InChannels {
		for y := range c.Height {
			for x := range c.Width {
				cp.gridPos[(ic*c.Height+y)*c.Width+x] = ic*cp.chanStride + (y+c.Padding)*rs + x + c.Padding
			}
		}
	}
	oh, ow := c.OutShape()
	s := max(c.Stride, 1)
	cp.outPos = make([]int, c.Out())
	for oc := range c.OutChannels {
		for oy := range oh {
			for ox := range ow {
				cp.outPos[(oc*oh+oy)*ow+ox] = oc*cp.block + oy*s*rs + ox*s
			}
		}
	}
	cp.setGroups(1)
	return cp
}

// setGroups splits the C·K kernel rows into g groups of consecutive rows.
func (cp *convPlan) setGroups(g int) {
	rows := cp.shape.InChannels * cp.shape.Kernel
	cp.groups, cp.rowsPer = g, ceilDiv(rows, g)
	cp.shift = make([]int, g)
	for j := range g {
		if r := j * cp.rowsPer; r < rows {
			cp.shift[j] = cp.offset(r/cp.shape.Kernel, r%cp.shape.Kernel, 0)
		}
	}
}

// chooseGroups sets the number of groups with the lowest estimated cost
// (see [Plan.cost]) that fits in the slots.
func (cp *convPlan) chooseGroups(w [][]float64, params Parameters) {
	best, bestCost := 1, -1
	rows := cp.shape.InChannels * cp.shape.Kernel
	for g := 1; g*cp.period <= params.Slots() && g <= nextPow2(rows); g *= 2 {
		cp.setGroups(g)
		c := costKeySwitch * bits.Len(uint(g-1))
		if idx := cp.diagonals(w); len(idx) > 0 {
			c += bsgsCost(params, idx)
		}
		if bestCost < 0 || c < bestCost {
			best, bestCost = g, c
		}
	}
	if testConvGroups > 0 && testConvGroups*cp.period <= params.Slots() && testConvGroups <= nextPow2(rows) {
		best = testConvGroups
	}
	cp.setGroups(best)
}

// testConvGroups, when positive, forces the number of groups where it
// fits; for tests only.
var testConvGroups int

// offset returns the rotation of kernel offset (ic, ky, kx).
func (cp *convPlan) offset(ic, ky, kx int) int {
	return ic*cp.chanStride + ky*cp.rowStride + kx
}

// tap returns the copy serving kernel offset (ic, ky, kx) and the rotation
// that brings its inputs to the outputs there.
func (cp *convPlan) tap(ic, ky, kx int) (copyIdx, rot int) {
	j := (ic*cp.shape.Kernel + ky) / cp.rowsPer
	return j, cp.offset(ic, ky, kx) - cp.shift[j]
}

// taps calls f for every output o and kernel offset (ic, ky, kx) whose
// input i lies in the image (not in the padding), with the weight
// w[o][i].
func (cp *convPlan) taps(w [][]float64, f func(o, ic, ky, kx int, v float64)) {
	c := cp.shape
	oh, ow := c.OutShape()
	s := max(c.Stride, 1)
	for o := range c.Out() {
		oy, ox := (o/ow)%oh, o%ow
		for ic := range c.InChannels {
			for ky := range c.Kernel {
				y := oy*s + ky - c.Padding
				if y < 0 || y >= c.Height {
					continue
				}
				for kx := range c.Kernel {
					x := ox*s + kx - c.Padding
					if x < 0 || x >= c.Width {
						continue
					}
					f(o, ic, ky, kx, w[o][(ic*c.Height+y)*c.Width+x])
				}
			}
		}
	}
}

// diagonals lists, sorted, the rotations of the kernel offsets that carry
// a non-zero weight for some output.
func (cp *convPlan) diagonals(w [][]float64) []int {
	nz := map[int]bool{}
	cp.taps(w, func(_, ic, ky, kx int, v float64) {
		if v != 0 {
			_, k := cp.tap(ic, ky, kx)
			nz[k] = true
		}
	})
	idx := make([]int, 0, len(nz))
	for k := range nz {
		idx = append(idx, k)
	}
	slices.Sort(idx)
	return idx
}

// masks returns the mask of every rotation in idx, scaled by fold and
// repeated with period groups·period over slots.
func (cp *convPlan) masks(w [][]float64, idx []int, fold float64, slots int) map[int][]float64 {
	m := make(map[int][]float64, len(idx))
	for _, k := range idx {
		m[k] = make([]float64, slots)
	}
	cp.taps(w, func(o, ic, ky, kx int, v float64) {
		j, k := cp.tap(ic, ky, kx)
		if d := m[k]; d != nil {
			d[j*cp.period+cp.outPos[o]] = v * fold
		}
	})
	for _, d := range m {
		for s := cp.groups * cp.period; s < slots; s++ {
			d[s] = d[s%(cp.groups*cp.period)]
		}
	}
	return m
}

// pack writes sample x into buf (the slots) in the layout of the
// convolution's input: the grid, shifted by shift[j] in copy j and
// repeated in each copy with the input period.
func (cp *convPlan) pack(x, buf []float64) {
	clear(buf)
	span := cp.groups * cp.period
	for j, sh := range cp.shift {
		for i, g := range cp.gridPos {
			if g < sh {
				continue
			}
			for s := j*cp.period + g - sh; s < (j+1)*cp.period; s += cp.block {
				for r := s; r < len(buf); r += span {
					buf[r] = x[i]
				}
			}
		}
	}
}

// foldSteps returns the folds that sum the copies.
func (cp *convPlan) foldSteps() []int {
	var steps []int
	for j := cp.groups / 2; j >= 1; j /= 2 {
		steps = append(steps, j*cp.period)
	}
	return steps
}

// convDirectFits returns why the first layer of m cannot be packed as a
// direct convolution with params, or "" if it can.
func convDirectFits(m *Model, params Parameters) string {
	if m.Layers[0].Conv == nil {
		return "the first layer declares no convolution"
	}
	if len(m.Layers) < 2 {
		return "the convolution is the last layer; its strided outputs need a next layer"
	}
	slots := params.Slots()
	maxDim := m.InputDim
	for li := range m.Layers {
		maxDim = max(maxDim, m.Layers[li].Out())
	}
	if nextPow2(maxDim) > slots {
		return fmt.Sprintf("a layer of dimension %d exceeds the %d slots", maxDim, slots)
	}
	if cp := newConvPlan(*m.Layers[0].Conv); cp.period > slots {
		return fmt.Sprintf("the packing needs %d slots, the parameters have %d", cp.period, slots)
	}
	return ""
}
