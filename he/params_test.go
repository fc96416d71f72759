package he

import (
	"errors"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// TestPresetSecurity is the security table: every preset must stay within
// the Homomorphic Encryption Standard's 128-bit bound on log2(QP) for its
// ring degree with ternary secrets and σ = 3.2 Gaussian errors.
func TestPresetSecurity(t *testing.T) {
	if testing.Short() {
		t.Skip("slow under -short")
	}
	table := []struct {
		preset   Preset
		logN     int
		maxLogQP float64 // HE standard, 128-bit classical, ternary secret
		depth    int
	}{
		{PN13, 13, 218, 4},
		{PN14, 14, 438, 8},
		{PN15, 15, 881, 15},
	}
	for _, c := range table {
		p, err := NewParameters(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		if p.LogN() != c.logN || p.Depth() != c.depth {
			t.Errorf("%v: logN=%d depth=%d, want %d and %d", c.preset, p.LogN(), p.Depth(), c.logN, c.depth)
		}
		if p.LogQP() > c.maxLogQP {
			t.Errorf("%v: logQP %.2f exceeds the 128-bit bound %v", c.preset, p.LogQP(), c.maxLogQP)
		}
		if b, _ := MaxLogQP128(c.logN); b != c.maxLogQP {
			t.Errorf("MaxLogQP128(%d) = %v, want %v", c.logN, b, c.maxLogQP)
		}
		if p.p.Xs() != rlwe.DefaultXs || p.p.Xe() != rlwe.DefaultXe {
			t.Errorf("%v: non-default secret or error distribution", c.preset)
		}
		if !p.Secure128() || p.Insecure() {
			t.Errorf("%v: Secure128=%v Insecure=%v", c.preset, p.Secure128(), p.Insecure())
		}
		t.Logf("%v", p)
		// Truncation never lowers security.
		for d := 1; d <= p.Depth(); d++ {
			q, err := p.truncate(d)
			if err != nil || !q.Secure128() || q.LogQP() > p.LogQP() {
				t.Fatalf("%v truncated to depth %d: %v %v", c.preset, d, q, err)
			}
		}
	}
}

func TestInsecureParametersAreNamed(t *testing.T) {
	p, err := InsecureTestParameters(10, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Insecure() || p.Secure128() {
		t.Fatalf("%v: want insecure", p)
	}
	if _, err := NewParameters(Preset(99)); !errors.Is(err, ErrInsecureParameters) {
		t.Fatalf("unknown preset: %v", err)
	}
	if _, err := InsecureTestParameters(9, 3); !errors.Is(err, ErrInput) {
		t.Fatalf("logN 9: %v", err)
	}
}
