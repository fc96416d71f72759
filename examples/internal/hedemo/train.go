package hedemo

import (
	"math"
	"math/rand/v2"

	"github.com/privml/privml/he"
	"github.com/privml/privml/internal/dataset"
)

// DigitsSplit loads the 8x8 digits, scales pixels from 0..16 to [0, 1]
// and splits off a fifth for testing with the seed.
func DigitsSplit(seed uint64) (train, test *dataset.Dataset, err error) {
	data, err := dataset.Digits()
	if err != nil {
		return nil, nil, err
	}
	for i := range data.X {
		data.X[i] /= 16
	}
	return data.Split(seed, 0.2)
}

// TrainMLP fits in-hidden(x²)-classes by minibatch SGD with momentum on the
// softmax cross-entropy, with weight decay to keep logits small (they must
// fit the modulus headroom under encryption). The random generator is
// seeded for repeatable runs; it is not used for anything secret.
func TrainMLP(d *dataset.Dataset, hidden, epochs int, seed uint64) (*he.Model, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	in, classes := d.Cols, d.NumClasses()
	w1 := randMat(r, hidden, in, 1/math.Sqrt(float64(in)))
	w2 := randMat(r, classes, hidden, 1/math.Sqrt(float64(hidden)))
	b1, b2 := make([]float64, hidden), make([]float64, classes)
	g1, g2 := zeroMat(hidden, in), zeroMat(classes, hidden)
	gb1, gb2 := make([]float64, hidden), make([]float64, classes)
	v1, v2 := zeroMat(hidden, in), zeroMat(classes, hidden)
	vb1, vb2 := make([]float64, hidden), make([]float64, classes)
	const batch, lr, momentum, decay = 32, 0.05, 0.9, 1e-4
	h, a, z, p := make([]float64, hidden), make([]float64, hidden), make([]float64, classes), make([]float64, classes)
	da := make([]float64, hidden)
	idx := make([]int, d.Rows)
	for i := range idx {
		idx[i] = i
	}
	for range epochs {
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for start := 0; start < len(idx); start += batch {
			end := min(start+batch, len(idx))
			zero(g1)
			zero(g2)
			clear(gb1)
			clear(gb2)
			for _, s := range idx[start:end] {
				x := d.Row(s)
				for j := range hidden {
					h[j] = b1[j] + dot(w1[j], x)
					a[j] = h[j] * h[j]
				}
				zmax := math.Inf(-1)
				for c := range classes {
					z[c] = b2[c] + dot(w2[c], a)
					zmax = math.Max(zmax, z[c])
				}
				sum := 0.0
				for c := range classes {
					p[c] = math.Exp(z[c] - zmax)
					sum += p[c]
				}
				clear(da)
				for c := range classes {
					dz := p[c] / sum
					if c == d.Y[s] {
						dz--
					}
					gb2[c] += dz
					for j := range hidden {
						g2[c][j] += dz * a[j]
						da[j] += dz * w2[c][j]
					}
				}
				for j := range hidden {
					dh := da[j] * 2 * h[j]
					gb1[j] += dh
					for i := range in {
						g1[j][i] += dh * x[i]
					}
				}
			}
			scale := 1 / float64(end-start)
			step(w1, g1, v1, scale, lr, momentum, decay)
			step(w2, g2, v2, scale, lr, momentum, decay)
			stepVec(b1, gb1, vb1, scale, lr, momentum)
			stepVec(b2, gb2, vb2, scale, lr, momentum)
		}
	}
	return he.NewMLP(
		he.Dense{Weights: w1, Bias: b1, Activation: he.ActSquare},
		he.Dense{Weights: w2, Bias: b2},
	)
}

func randMat(r *rand.Rand, rows, cols int, std float64) [][]float64 {
	m := zeroMat(rows, cols)
	for i := range m {
		for j := range m[i] {
			m[i][j] = r.NormFloat64() * std
		}
	}
	return m
}

func zeroMat(rows, cols int) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = make([]float64, cols)
	}
	return m
}

func zero(m [][]float64) {
	for _, r := range m {
		clear(r)
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func step(w, g, v [][]float64, scale, lr, momentum, decay float64) {
	for i := range w {
		for j := range w[i] {
			v[i][j] = momentum*v[i][j] - lr*(g[i][j]*scale+decay*w[i][j])
			w[i][j] += v[i][j]
		}
	}
}

func stepVec(b, g, v []float64, scale, lr, momentum float64) {
	for i := range b {
		v[i] = momentum*v[i] - lr*g[i]*scale
		b[i] += v[i]
	}
}
