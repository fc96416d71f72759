package dp

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/privml/privml/internal/vec"
)

func TestClipL2(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		x := make([]float64, 1+r.IntN(50))
		for i := range x {
			x[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(10)-5)) // test data only
		}
		orig := append([]float64(nil), x...)
		n0 := vec.Norm2(x)
		bound := math.Pow(10, float64(r.IntN(8)-4))
		f, err := ClipL2(x, bound)
		if err != nil {
			t.Fatal(err)
		}
		if n := vec.Norm2(x); n > bound {
			t.Fatalf("norm %v after clipping to %v", n, bound)
		}
		tol := float64(len(x)+10) * 0x1p-53
		if want := math.Min(1, bound/n0); math.Abs(f-want) > tol*want {
			t.Fatalf("factor %v, want %v", f, want)
		}
		for i := range x {
			if x[i] != orig[i]*f {
				t.Fatalf("x[%d] = %v, want %v·%v", i, x[i], orig[i], f)
			}
		}
	}
	// Overflowing squares.
	x := []float64{1e300, 1e300}
	if f, err := ClipL2(x, 1); err != nil || math.Abs(f*math.Sqrt2*1e300-1) > 1e-15 || vec.Norm2(x) > 1 {
		t.Errorf("huge vector: factor %v, %v, norm %v", f, err, vec.Norm2(x))
	}
	if _, err := ClipL2([]float64{math.NaN()}, 1); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NaN: %v", err)
	}
	if _, err := ClipL2([]float64{1}, -1); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("negative bound: %v", err)
	}
}

func TestClipLInf(t *testing.T) {
	x := []float64{-4, 2, 1}
	f, err := ClipLInf(x, 2)
	if err != nil || f != 0.5 || x[0] != -2 || x[1] != 1 {
		t.Errorf("got %v, %v, %v", f, x, err)
	}
	y := []float64{0.1, -0.2}
	if f, _ := ClipLInf(y, 1); f != 1 || y[1] != -0.2 {
		t.Errorf("within bound: %v %v", f, y)
	}
}

func TestClipBatch(t *testing.T) {
	batch := [][]float64{{3, 4, 0, 0}, {0, 0, 1, 0}, {6, 8, 0, 10}}
	sum := make([]float64, 4)
	f := make([]float64, 3)
	if err := ClipBatchL2(sum, batch, 2.5, f); err != nil {
		t.Fatal(err)
	}
	want := []float64{3*f[0] + 6*f[2], 4*f[0] + 8*f[2], 1, 10 * f[2]}
	for i := range want {
		if math.Abs(sum[i]-want[i]) > 1e-14 {
			t.Errorf("sum[%d] = %v, want %v", i, sum[i], want[i])
		}
	}
	if math.Abs(f[0]-0.5) > 1e-15 || f[1] != 1 || math.Abs(f[2]-2.5/math.Sqrt(200)) > 1e-15 {
		t.Errorf("factors %v", f)
	}
	// Per layer: layers of sizes 2 and 2 with bounds 1 and 5.
	clear(sum)
	fl := make([]float64, 6)
	if err := ClipBatchL2Layers(sum, batch, []int{2, 2}, []float64{1, 5}, fl); err != nil {
		t.Fatal(err)
	}
	// Example 0: layer 0 (3,4) → 0.2; layer 1 zero → 1. Example 2: layer 1 (0,10) → 0.5.
	wantF := []float64{0.2, 1, 1, 1, 0.1, 0.5}
	for i := range wantF {
		if math.Abs(fl[i]-wantF[i]) > 1e-15 {
			t.Errorf("layer factors %v, want %v", fl, wantF)
			break
		}
	}
	if s := LayerSensitivity([]float64{3, 4}); math.Abs(s-5) > 1e-14 {
		t.Errorf("LayerSensitivity = %v", s)
	}
	if a := testing.AllocsPerRun(20, func() { _ = ClipBatchL2(sum, batch, 1, f) }); a != 0 {
		t.Errorf("ClipBatchL2 allocates %v", a)
	}
	sizes, bounds := []int{2, 2}, []float64{1, 5}
	if a := testing.AllocsPerRun(20, func() { _ = ClipBatchL2Layers(sum, batch, sizes, bounds, fl) }); a != 0 {
		t.Errorf("ClipBatchL2Layers allocates %v", a)
	}
	if err := ClipBatchL2(sum, [][]float64{{1}}, 1, f[:1]); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("length mismatch: %v", err)
	}
	if err := ClipBatchL2(sum, batch, 1, f[:1]); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("factors length: %v", err)
	}
	if err := ClipBatchL2Layers(sum, batch, []int{2, 1}, []float64{1, 1}, fl); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("layer sizes: %v", err)
	}
}
