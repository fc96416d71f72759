package federated

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SplitIID deals the indexes 0..n-1 out to the given number of clients
// uniformly at random: a random permutation cut into nearly equal parts
// (sizes differ by at most one).
func SplitIID(n, clients int, r *rand.Rand) ([][]int, error) {
	if clients < 1 || n < clients {
		return nil, fmt.Errorf("%w: cannot split %d examples among %d clients", ErrConfig, n, clients)
	}
	perm := r.Perm(n)
	out := make([][]int, clients)
	for c := range clients {
		lo, hi := c*n/clients, (c+1)*n/clients
		out[c] = perm[lo:hi:hi]
	}
	return out, nil
}

// SplitDirichlet gives each client a non-IID share of the examples: for
// every class, the proportions going to the clients are drawn from a
// symmetric Dirichlet(alpha) distribution and the class's examples
// (shuffled) are cut accordingly (Hsu, Qi and Brown 2019, "Measuring the
// Effects of Non-Identical Data Distribution for Federated Visual
// Classification"). Small alpha (0.1) gives clients few classes each;
// large alpha (100) approaches the IID split. labels[i] is the class of
// example i, in [0, numClasses). Some clients may get no example.
func SplitDirichlet(labels []int, numClasses, clients int, alpha float64, r *rand.Rand) ([][]int, error) {
	if clients < 1 || numClasses < 1 {
		return nil, fmt.Errorf("%w: %d clients, %d classes", ErrConfig, clients, numClasses)
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("%w: Dirichlet alpha = %v, want a finite value > 0", ErrConfig, alpha)
	}
	byClass := make([][]int, numClasses)
	for i, y := range labels {
		if y < 0 || y >= numClasses {
			return nil, fmt.Errorf("%w: label %d of example %d outside [0, %d)", ErrConfig, y, i, numClasses)
		}
		byClass[y] = append(byClass[y], i)
	}
	out := make([][]int, clients)
	p := make([]float64, clients)
	for _, idx := range byClass {
		r.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		dirichlet(p, alpha, r)
		acc, start := 0.0, 0
		for c := range clients {
			acc += p[c]
			end := int(math.Round(acc * float64(len(idx))))
			if c == clients-1 {
				end = len(idx)
			}
			end = min(max(end, start), len(idx))
			out[c] = append(out[c], idx[start:end]...)
			start = end
		}
	}
	return out, nil
}

// dirichlet fills p with a draw from the symmetric Dirichlet(alpha)
// distribution: independent Gamma(alpha, 1) variates, normalized.
func dirichlet(p []float64, alpha float64, r *rand.Rand) {
	sum := 0.0
	for i := range p {
		p[i] = gamma(alpha, r)
		sum += p[i]
	}
	if sum == 0 { // every variate underflowed (tiny alpha): one client takes all
		p[r.IntN(len(p))] = 1
		return
	}
	for i := range p {
		p[i] /= sum
	}
}

// gamma draws from Gamma(alpha, 1) by the method of Marsaglia and Tsang
// (2000), with the boost x·U^(1/alpha) for alpha < 1.
func gamma(alpha float64, r *rand.Rand) float64 {
	if alpha < 1 {
		u := r.Float64()
		return gamma(alpha+1, r) * math.Pow(u, 1/alpha)
	}
	d := alpha - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
