package he

import (
	"fmt"
	"math"
)

// Conv2D is a 2-D convolution over an input of InChannels × Height × Width
// values flattened channel-major (index c·H·W + y·W + x), producing
// OutChannels × OH × OW outputs flattened the same way, with
// OH = (Height + 2·Padding − Kernel)/Stride + 1 (likewise OW). Zero padding.
//
// [Conv2D.Dense] lowers it to the equivalent dense layer (each output row
// holds the kernel at the output's receptive field, as im2col would
// gather it), which the planner then packs like any dense layer: with the
// hybrid layout the product costs one plaintext multiplication per
// generalized diagonal, whatever the sparsity of the rows.
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

// OutShape returns the output height and width.
func (c Conv2D) OutShape() (oh, ow int) {
	s := max(c.Stride, 1)
	return (c.Height+2*c.Padding-c.Kernel)/s + 1, (c.Width+2*c.Padding-c.Kernel)/s + 1
}

// Dense returns the dense layer equal to the convolution.
func (c Conv2D) Dense() (Dense, error) {
	s := max(c.Stride, 1)
	if c.InChannels < 1 || c.Height < 1 || c.Width < 1 || c.OutChannels < 1 || c.Kernel < 1 || c.Stride < 0 || c.Padding < 0 ||
		c.Kernel > c.Height+2*c.Padding || c.Kernel > c.Width+2*c.Padding {
		return Dense{}, fmt.Errorf("he: Conv2D: invalid shape %+v: %w", c.shape(), ErrModel)
	}
	oh, ow := c.OutShape()
	in, out := c.InChannels*c.Height*c.Width, c.OutChannels*oh*ow
	if in > MaxModelDim || out > MaxModelDim || in*out > MaxModelWeights {
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
	d := Dense{Weights: make([][]float64, out), Activation: c.Activation}
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

func (c Conv2D) shape() [7]int {
	return [7]int{c.InChannels, c.Height, c.Width, c.OutChannels, c.Kernel, c.Stride, c.Padding}
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
