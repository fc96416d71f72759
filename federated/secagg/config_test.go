package secagg

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHeadroomRefusesWrap(t *testing.T) {
	for _, c := range []struct {
		n      int
		bits   uint
		maxAbs uint64
		ok     bool
	}{
		{1000, 16, 32, true},  // 1000*32 = 32000 < 32768
		{1000, 16, 33, false}, // 33000 >= 32768
		{2, 8, 63, true},      // 126 < 128
		{2, 8, 64, false},     // 128
		{100, 62, 1 << 54, true},
		{100, 62, 1 << 55, false},
		{65536, 62, 1<<45 - 1, true},
		{65536, 62, 1 << 45, false}, // exactly 2^61
		{3, 62, 1 << 62, false},     // n*MaxAbs overflows 64 bits
	} {
		_, err := NewParams(Config{NumClients: c.n, Dim: 4, Bits: c.bits, MaxAbs: c.maxAbs, MaxSideAbs: 1, Degree: c.n - 1, Threshold: 2})
		if c.ok && err != nil {
			t.Errorf("n=%d B=%d MaxAbs=%d: %v", c.n, c.bits, c.maxAbs, err)
		}
		if !c.ok && !errors.Is(err, ErrHeadroom) {
			t.Errorf("n=%d B=%d MaxAbs=%d: err = %v, want ErrHeadroom", c.n, c.bits, c.maxAbs, err)
		}
	}
	// Side coordinates have their own bound, checked the same way.
	if _, err := NewParams(Config{NumClients: 10, Dim: 1, SideDim: 1, Bits: 8, MaxAbs: 1, MaxSideAbs: 13}); !errors.Is(err, ErrHeadroom) {
		t.Errorf("side headroom: err = %v", err)
	}
}

func TestLowThresholdNeedsInsecureOptIn(t *testing.T) {
	cfg := Config{NumClients: 100, Dim: 1, DropoutRate: 0.1, CorruptRate: 0.2}
	p, err := NewParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Degree, cfg.Threshold = p.Degree(), p.Threshold()-1
	if _, err := NewParams(cfg); !errors.Is(err, ErrInsecureParams) {
		t.Fatalf("threshold below the minimum: err = %v", err)
	}
	cfg.InsecureAllowLowThreshold = true
	if _, err := NewParams(cfg); err != nil {
		t.Fatalf("with the insecure opt-in: %v", err)
	}
	// A degree whose graph may disconnect is refused whatever t.
	cfg = Config{NumClients: 1000, Dim: 1, DropoutRate: 0.3, CorruptRate: 0.3, Degree: 4, Threshold: 3}
	if _, err := NewParams(cfg); !errors.Is(err, ErrInsecureParams) {
		t.Fatalf("degree 4 of 1000: err = %v", err)
	}
	// Complete graph, malicious server: t > (n + corrupt*n)/2.
	if got := FullGraphMinThreshold(100, 0.1, Malicious); got != 56 {
		t.Fatalf("FullGraphMinThreshold = %d, want 56", got)
	}
}

func TestHararyGraph(t *testing.T) {
	for _, c := range []struct{ n, k int }{{10, 4}, {11, 10}, {12, 11}, {1000, 30}, {7, 6}} {
		p, err := NewParams(Config{NumClients: c.n, Dim: 1, Degree: c.k, Threshold: 2, InsecureAllowLowThreshold: true})
		if err != nil {
			t.Fatal(err)
		}
		edges := 0
		for i := range c.n {
			nb := p.Neighbours(i)
			if len(nb) != c.k || !slices.IsSorted(nb) {
				t.Fatalf("n=%d k=%d: client %d has neighbours %v", c.n, c.k, i, nb)
			}
			for _, j := range nb {
				if j == i || !p.IsNeighbour(j, i) || !p.IsNeighbour(i, j) {
					t.Fatalf("n=%d k=%d: edge %d-%d not symmetric", c.n, c.k, i, j)
				}
				edges++
			}
		}
		if edges != c.n*c.k {
			t.Fatalf("edge count %d", edges)
		}
	}
	// The relabelling depends on the session seed.
	a, _ := NewParams(Config{NumClients: 50, Dim: 1, Degree: 4, Threshold: 2, InsecureAllowLowThreshold: true})
	b, _ := NewParams(Config{NumClients: 50, Dim: 1, Degree: 4, Threshold: 2, InsecureAllowLowThreshold: true, SessionSeed: [32]byte{1}})
	if slices.Equal(a.Neighbours(0), b.Neighbours(0)) && slices.Equal(a.Neighbours(1), b.Neighbours(1)) {
		t.Fatal("graph does not depend on the session seed")
	}
}

func TestPackingRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for bits := uint(MinBits); bits <= MaxBits; bits++ {
		for _, n := range []int{1, 2, 3, 7, 8, 9, 63, 1000} {
			v := newVector(bits, n)
			x := make([]int64, n)
			half := int64(1) << (bits - 1)
			for i := range x {
				x[i] = rng.Int64N(2*half) - half
			}
			x[0] = -half
			if n > 1 {
				x[1] = half - 1
			}
			v.setSigned(x)
			b := v.appendPacked([]byte{0xAA})
			if len(b) != 1+packedLen(bits, n) || b[0] != 0xAA {
				t.Fatalf("B=%d n=%d: packed length %d", bits, n, len(b)-1)
			}
			w := newVector(bits, n)
			if err := w.unpack(b[1:]); err != nil {
				t.Fatalf("B=%d n=%d: %v", bits, n, err)
			}
			got := make([]int64, n)
			w.centred(got)
			if !slices.Equal(got, x) {
				t.Fatalf("B=%d n=%d: round trip differs", bits, n)
			}
			if (n*int(bits))%8 != 0 {
				b[len(b)-1] |= 0x80
				if err := w.unpack(b[1:]); err == nil {
					t.Fatalf("B=%d n=%d: non-zero padding accepted", bits, n)
				}
			}
		}
	}
}

// TestSumAllWidths runs a full session at several widths, with inputs at
// the headroom limit, so that a sum that wrapped would show.
func TestSumAllWidths(t *testing.T) {
	for _, bits := range []uint{8, 13, 31, 32, 33, 47, 62} {
		const n = 5
		cfg := Config{NumClients: n, Dim: 6, SideDim: 1, Bits: bits, DropoutRate: 0.2}
		s := runToMaskedWith(t, cfg, "widths", func(i int, x []int64) {
			p, _ := NewParams(cfg)
			m := int64(p.Config().MaxAbs)
			for j := range x {
				x[j] = m
				if j%2 == 1 {
					x[j] = -m
				}
			}
		})
		res := s.finish(t)
		m := int64(s.p.Config().MaxAbs)
		for j, v := range res.Sum {
			want := n * m
			if j%2 == 1 {
				want = -want
			}
			if v != want {
				t.Fatalf("B=%d: coordinate %d = %d, want %d", bits, j, v, want)
			}
		}
	}
}
