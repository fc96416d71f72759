package he

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
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
				t.Fatalf("%v: output %d = %v, want %v", c.Shape(), i, got[i], want[i])
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

// convModel returns conv(c) with activation act → dense to 3 outputs.
func convModel(t testing.TB, r *rand.Rand, c Conv2D) *Model {
	t.Helper()
	cd, err := randConv(r, c).Dense()
	if err != nil {
		t.Fatal(err)
	}
	fc := randModel(t, r, []int{cd.Out(), 3}, []Activation{ActNone}).Layers[0]
	m, err := NewMLP(cd, fc)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConvPackings compares encrypted inference with Model.Predict for
// both convolution packings over stride, padding and multi-channel
// cases, and for the direct packing with each number of groups that fits:
// the maximum absolute error must stay below 1e-3 (outputs are of order
// 1; CKKS noise at these parameters is about 1e-5).
func TestConvPackings(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	multi := false
	for _, c := range []Conv2D{
		{InChannels: 1, Height: 8, Width: 8, OutChannels: 2, Kernel: 3, Stride: 1, Activation: ActSquare},
		{InChannels: 1, Height: 8, Width: 8, OutChannels: 2, Kernel: 3, Stride: 2, Padding: 1, Activation: ActSquare},
		{InChannels: 2, Height: 9, Width: 7, OutChannels: 3, Kernel: 3, Stride: 2, Padding: 1},
		{InChannels: 3, Height: 6, Width: 5, OutChannels: 2, Kernel: 2, Stride: 1, Padding: 1, Activation: ActSquare},
		{InChannels: 1, Height: 10, Width: 10, OutChannels: 4, Kernel: 4, Stride: 3, Padding: 2},
	} {
		m := convModel(t, r, c)
		xs := randSamples(r, 2, m.InputDim)
		opts := CompileOptions{Mode: Latency, Parameters: testParams(t, 11, 3), Conv: ConvIm2col}
		plan, err := Compile(m, opts)
		if err != nil || plan.convDirect {
			t.Fatalf("%+v im2col: %v (direct %v)", c.Shape(), err, plan != nil && plan.convDirect)
		}
		if e := maxErr(t, m, xs, runPlan(t, plan, xs)); e > 1e-3 {
			t.Fatalf("%+v im2col: max abs error %g > 1e-3", c.Shape(), e)
		}
		opts.Conv = ConvDirect
		for _, g := range []int{1, 2, 4, 8} {
			testConvGroups = g
			plan, err := Compile(m, opts)
			testConvGroups = 0
			if err != nil {
				t.Fatalf("%+v direct: %v", c.Shape(), err)
			}
			if !plan.convDirect {
				t.Fatalf("%+v direct: plan does not pack directly", c.Shape())
			}
			if plan.layers[0].conv.groups != g {
				continue // does not fit
			}
			multi = multi || g > 1
			if e := maxErr(t, m, xs, runPlan(t, plan, xs)); e > 1e-3 {
				t.Fatalf("%+v direct, %d groups: max abs error %g > 1e-3", c.Shape(), g, e)
			}
		}
	}
	if !multi {
		t.Fatal("no case packed the convolution in several groups")
	}
}

// TestConvDirectPlan checks the planner's choice for the TenSEAL-shaped
// network, plan and JSON round trips of the convolution, and the errors
// for layers that cannot be packed.
func TestConvDirectPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(49, 50))
	cd, err := randConv(r, Conv2D{InChannels: 1, Height: 28, Width: 28, OutChannels: 4, Kernel: 7, Stride: 3, Activation: ActSquare}).Dense()
	if err != nil {
		t.Fatal(err)
	}
	rest := randModel(t, r, []int{256, 64, 10}, []Activation{ActSquare, ActNone})
	m, err := NewMLP(cd, rest.Layers[0], rest.Layers[1])
	if err != nil {
		t.Fatal(err)
	}
	auto, err := Compile(m, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	im2col, err := Compile(m, CompileOptions{Conv: ConvIm2col})
	if err != nil {
		t.Fatal(err)
	}
	if !auto.convDirect || auto.cost() >= im2col.cost() {
		t.Fatalf("auto plan (direct %v, cost %d) against im2col (cost %d)", auto.convDirect, auto.cost(), im2col.cost())
	}
	// Two copies of the 4096-slot output period: rows ky < 4 in the first,
	// ky ≥ 4 in the second, so 28 rotations serve the 49 offsets.
	if lp := auto.layers[0]; len(lp.diagIdx[0][0]) != 28 || lp.conv.period != 4096 || lp.conv.groups != 2 {
		t.Fatalf("conv layer: %d diagonals, output period %d, %d groups; want 28, 4096, 2",
			len(lp.diagIdx[0][0]), lp.conv.period, lp.conv.groups)
	}
	// Plan round trip keeps the shape and the packing.
	back, err := ReadPlan(bytes.NewReader(marshal(auto)), Require128)
	if err != nil {
		t.Fatal(err)
	}
	if !back.convDirect || back.block != auto.block || !slices.Equal(back.galEls, auto.galEls) || *back.model.Layers[0].Conv != *cd.Conv {
		t.Fatal("plan round trip lost the convolution packing")
	}
	// A plan without convolution is still written as version 1.
	if b := marshal(im2col); b[5] != planVersion {
		t.Fatalf("plan with a convolution written as version %d", b[5])
	}
	plain, _ := NewMLP(rest.Layers[0], rest.Layers[1])
	pp, err := Compile(plain, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := marshal(pp); b[5] != 1 {
		t.Fatalf("plan without convolution written as version %d", b[5])
	}
	// JSON keeps the shape; models without it read as before.
	var buf bytes.Buffer
	if err := m.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"conv":{"in_channels":1,"height":28,"width":28,"out_channels":4,"kernel":7,"stride":3}`) {
		t.Fatal("JSON lacks the convolution shape")
	}
	mj, err := ReadModelJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if *mj.Layers[0].Conv != *cd.Conv || mj.Layers[1].Conv != nil {
		t.Fatal("JSON round trip changed the convolution shape")
	}
	// A weight outside its receptive field, or a wrong shape, is refused.
	bad := m.clone()
	bad.Layers[0].Weights[0][27] = 1
	if err := bad.Validate(); !errors.Is(err, ErrModel) {
		t.Fatalf("weight outside the receptive field: %v", err)
	}
	bad = m.clone()
	bad.Layers[0].Conv.Stride = 2
	if err := bad.Validate(); !errors.Is(err, ErrModel) {
		t.Fatalf("wrong stride: %v", err)
	}
	// Direct packing needs a next layer and a first-layer convolution.
	last, _ := NewMLP(cd)
	if _, err := Compile(last, CompileOptions{Conv: ConvDirect}); !errors.Is(err, ErrModel) {
		t.Fatalf("direct convolution as last layer: %v", err)
	}
	if _, err := Compile(plain, CompileOptions{Conv: ConvDirect}); !errors.Is(err, ErrModel) {
		t.Fatalf("direct packing without convolution: %v", err)
	}
	if _, err := Compile(m, CompileOptions{Conv: 7}); !errors.Is(err, ErrInput) {
		t.Fatalf("unknown packing: %v", err)
	}
}
