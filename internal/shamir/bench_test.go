package shamir

import (
	"fmt"
	"testing"
)

func BenchmarkSplit(b *testing.B) {
	secret := make([]byte, 32)
	for _, tn := range [][2]int{{3, 5}, {67, 100}, {667, 1000}} {
		b.Run(fmt.Sprintf("t=%d/n=%d", tn[0], tn[1]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Split(secret, tn[0], tn[1], nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewLagrange(b *testing.B) {
	for _, t := range []int{10, 100, 1000} {
		xs := make([]uint32, t)
		for i := range xs {
			xs[i] = uint32(i + 1)
		}
		b.Run(fmt.Sprintf("t=%d", t), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewLagrange(xs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLagrangeCombine is one 32-byte seed reconstructed with cached
// coefficients.
func BenchmarkLagrangeCombine(b *testing.B) {
	for _, t := range []int{10, 100, 1000} {
		shares, err := Split(make([]byte, 32), t, t, nil)
		if err != nil {
			b.Fatal(err)
		}
		xs := make([]uint32, t)
		for i, s := range shares {
			xs[i] = s.X
		}
		l, err := NewLagrange(xs)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("t=%d", t), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Combine(shares, 32); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
