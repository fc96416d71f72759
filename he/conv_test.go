package he

import (
	"math"
	"math/rand/v2"
	"testing"
)

// directConv computes the convolution from its definition.
func directConv(c Conv2D, x []float64) []float64 {
	oh, ow := c.OutShape()
	s := max(c.Stride, 1)
	out := make([]float64, c.OutChannels*oh*ow)
	for oc := range c.OutChannels {
		for oy := range oh {
			for ox := range ow {
				v := 0.0
				if len(c.Bias) > 0 {
					v = c.Bias[oc]
				}
				for ic := range c.InChannels {
					for ky := range c.Kernel {
						for kx := range c.Kernel {
							y, xx := oy*s+ky-c.Padding, ox*s+kx-c.Padding
							if y >= 0 && y < c.Height && xx >= 0 && xx < c.Width {
								v += c.Weights[oc][ic][ky][kx] * x[(ic*c.Height+y)*c.Width+xx]
							}
						}
					}
				}
				out[(oc*oh+oy)*ow+ox] = v
			}
		}
	}
	return out
}

func randConv(r *rand.Rand, c Conv2D) Conv2D {
	c.Weights = make([][][][]float64, c.OutChannels)
	for oc := range c.Weights {
		c.Weights[oc] = make([][][]float64, c.InChannels)
		for ic := range c.Weights[oc] {
			c.Weights[oc][ic] = make([][]float64, c.Kernel)
			for ky := range c.Kernel {
				c.Weights[oc][ic][ky] = make([]float64, c.Kernel)
				for kx := range c.Kernel {
					c.Weights[oc][ic][ky][kx] = (2*r.Float64() - 1) / float64(c.Kernel)
				}
			}
		}
	}
	c.Bias = make([]float64, c.OutChannels)
	for i := range c.Bias {
		c.Bias[i] = 0.1 * (2*r.Float64() - 1)
	}
	return c
}

func TestConv2DLowering(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, c := range []Conv2D{
		{InChannels: 1, Height: 8, Width: 8, OutChannels: 2, Kernel: 3, Stride: 1},
		{InChannels: 2, Height: 9, Width: 7, OutChannels: 3, Kernel: 3, Stride: 2, Padding: 1},
		{InChannels: 1, Height: 28, Width: 28, OutChannels: 4, Kernel: 7, Stride: 3},
	} {
		c = randConv(r, c)
		d, err := c.Dense()
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMLP(d)
		if err != nil {
			t.Fatal(err)
		}
		x := randSamples(r, 1, c.InChannels*c.Height*c.Width)[0]
		got, _ := m.Predict(x)
		want := directConv(c, x)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("%v: output %d = %v, want %v", c.shape(), i, got[i], want[i])
			}
		}
	}
	if _, err := (Conv2D{InChannels: 1, Height: 2, Width: 2, OutChannels: 1, Kernel: 3}).Dense(); err == nil {
		t.Fatal("kernel larger than the input accepted")
	}
}

// TestConvNetEncrypted runs conv(2 filters 3x3 stride 2) → x² → avg-pool →
// dense on 8x8 inputs under encryption in both modes.
func TestConvNetEncrypted(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	conv := randConv(r, Conv2D{InChannels: 1, Height: 8, Width: 8, OutChannels: 2, Kernel: 3, Stride: 2, Padding: 1, Activation: ActSquare})
	cd, err := conv.Dense()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := AvgPool2D(2, 4, 4, 2, 2, ActNone)
	if err != nil {
		t.Fatal(err)
	}
	fc := randModel(t, r, []int{8, 3}, []Activation{ActNone}).Layers[0]
	m, err := NewMLP(cd, pool, fc)
	if err != nil {
		t.Fatal(err)
	}
	xs := randSamples(r, 2, 64)
	for _, mode := range []Mode{Latency, Batch} {
		got := runEncrypted(t, m, xs, CompileOptions{Mode: mode, Parameters: testParams(t, 11, 4)})
		if e := maxErr(t, m, xs, got); e > 1e-3 {
			t.Fatalf("%v: max abs error %g > 1e-3", mode, e)
		}
	}
}

func TestFoldBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	d := randModel(t, r, []int{5, 3}, []Activation{ActNone}).Layers[0]
	orig := d.clone()
	g, b, mu, v := []float64{1.5, 0.5, 2}, []float64{0.1, -0.2, 0.3}, []float64{0.2, -0.1, 0}, []float64{4, 1, 0.25}
	if err := FoldBatchNorm(&d, g, b, mu, v, 1e-5); err != nil {
		t.Fatal(err)
	}
	x := randSamples(r, 1, 5)[0]
	m0, _ := NewMLP(orig)
	m1, _ := NewMLP(d)
	z, _ := m0.Predict(x)
	y, _ := m1.Predict(x)
	for o := range z {
		want := g[o]*(z[o]-mu[o])/math.Sqrt(v[o]+1e-5) + b[o]
		if math.Abs(y[o]-want) > 1e-12 {
			t.Fatalf("output %d: %v, want %v", o, y[o], want)
		}
	}
	if err := FoldBatchNorm(&d, g[:2], b, mu, v, 0); err == nil {
		t.Fatal("short statistics accepted")
	}
}
