package secagg

import (
	"fmt"
	"math"
)

// Security and correctness targets of the parameter finder, as in
// federated-compute's fcp/secagg/server/graph_parameter_finder.cc: the
// server learns nothing beyond the sum except with probability at most
// 2^-SecurityBits, and the protocol fails for lack of shares with
// probability at most 2^-CorrectnessBits.
const (
	SecurityBits    = 40
	CorrectnessBits = 20
)

// MaxFinderClients is the largest number of clients the parameter finder
// accepts (the bound fcp's finder is tested to).
const MaxFinderClients = 1_000_000

// GraphParams are the degree and Shamir threshold of a SecAgg+ instance.
type GraphParams struct {
	// Degree is k, the number of neighbours of every client in the
	// Harary graph. Each client's secrets are shared among its k
	// neighbours and itself (k+1 holders).
	Degree int
	// Threshold is t, the number of shares that reconstruct a secret,
	// 2 <= t <= Degree+1.
	Threshold int
}

// FindGraphParams returns the smallest even degree k < n-1 of a randomly
// relabelled Harary graph, and a threshold t, such that SecAgg+ with n
// clients, of which a fraction corrupt collude with the server and a
// fraction dropout drop out, is secure except with probability 2^-40 and
// fails except with probability 2^-20 (Bell et al., CCS 2020, section 4;
// the search is that of fcp's HararyGraphParameterFinder, whose published
// semi-honest table the tests reproduce). Against a malicious server t is
// the smallest with 2t > (k+1) + cMax, cMax bounding the corrupt
// neighbours of any client (see the package documentation); fcp's
// malicious thresholds are one share short of that. It returns an error wrapping [ErrConfig] when
// no sparse graph qualifies (small n or high rates): use the complete
// graph (k = n-1, classic SecAgg) with [FullGraphMinThreshold] then.
func FindGraphParams(n int, dropout, corrupt float64, threat Threat) (GraphParams, error) {
	if err := checkFinderInputs(n, dropout, corrupt, threat); err != nil {
		return GraphParams{}, err
	}
	for k := 2; k < n-1; k += 2 {
		if t, ok := checkDegree(n, k, dropout, corrupt, threat); ok {
			return GraphParams{Degree: k, Threshold: t}, nil
		}
	}
	return GraphParams{}, fmt.Errorf("%w: no sparse graph meets 2^-%d security and 2^-%d failure for n=%d, dropout=%g, corrupt=%g",
		ErrConfig, SecurityBits, CorrectnessBits, n, dropout, corrupt)
}

// MinThreshold returns the smallest threshold that is secure for a graph of
// degree k on n clients (k = n-1 is the complete graph), and an error
// wrapping [ErrInsecureParams] if no threshold makes degree k secure.
func MinThreshold(n, k int, dropout, corrupt float64, threat Threat) (int, error) {
	if err := checkFinderInputs(n, dropout, corrupt, threat); err != nil {
		return 0, err
	}
	if k >= n-1 {
		return FullGraphMinThreshold(n, corrupt, threat), nil
	}
	if k < 2 || k%2 != 0 {
		return 0, fmt.Errorf("%w: degree %d, want an even number from 2 to %d, or %d", ErrConfig, k, n-2, n-1)
	}
	if logProbDisconnected(n, k, dropout, corrupt) >= -float64(SecurityBits+1)*math.Ln2 {
		return 0, fmt.Errorf("%w: degree %d on %d clients leaves the honest survivors disconnected with probability above 2^-%d",
			ErrInsecureParams, k, n, SecurityBits)
	}
	t1 := securityBound(n, k, corrupt, threat)
	return max(int(t1)+1, 2), nil
}

// FullGraphMinThreshold returns the smallest secure threshold of classic
// SecAgg (the complete graph), following fcp's CheckFullGraphParameters:
// t > c against a semi-honest server and 2t > n + c against a malicious
// one, with c = ceil(corrupt*n), and t >= 2. Every secret has n = k+1
// holders, so the malicious bound is the 2t > (k+1) + c of the sparse
// graphs: a server showing two survivor sets collects at most n + c
// shares of a client's two secrets, fewer than 2t.
func FullGraphMinThreshold(n int, corrupt float64, threat Threat) int {
	c := math.Ceil(corrupt * float64(n))
	if threat == Malicious {
		return max(int(math.Ceil((float64(n)+c)/2))+1, 2)
	}
	return max(int(c)+1, 2)
}

func checkFinderInputs(n int, dropout, corrupt float64, threat Threat) error {
	switch {
	case n < 2 || n > MaxFinderClients:
		return fmt.Errorf("%w: %d clients, want 2 to %d", ErrConfig, n, MaxFinderClients)
	case !(dropout >= 0 && dropout < 1):
		return fmt.Errorf("%w: dropout rate %v, want [0, 1)", ErrConfig, dropout)
	case !(corrupt >= 0 && corrupt < 1):
		return fmt.Errorf("%w: corrupt rate %v, want [0, 1)", ErrConfig, corrupt)
	case threat != SemiHonest && threat != Malicious:
		return fmt.Errorf("%w: unknown threat model %d", ErrConfig, threat)
	case threat == SemiHonest && corrupt+dropout > 0.9:
		return fmt.Errorf("%w: corrupt + dropout = %v, must be at most 0.9 against a semi-honest server", ErrConfig, corrupt+dropout)
	case threat == Malicious && corrupt+2*dropout > 0.9:
		return fmt.Errorf("%w: corrupt + 2*dropout = %v, must be at most 0.9 against a malicious server", ErrConfig, corrupt+2*dropout)
	}
	return nil
}

// finderSmall keeps rounding errors from turning in the insecure direction.
const finderSmall = 1e-14

// logProbDisconnected bounds the log-probability that removing the corrupt
// and dropped clients disconnects a randomly relabelled Harary graph of
// degree k: a disconnecting set must contain k/2 consecutive nodes of the
// ring at two places (union bound over the pairs of gaps).
func logProbDisconnected(n, k int, dropout, corrupt float64) float64 {
	logPairs := math.Log(float64(n)) + math.Log(float64(n-k-1)) - math.Log(2)
	bad := int(math.Floor((corrupt+finderSmall)*float64(n))) + int(math.Floor((dropout+finderSmall)*float64(n)))
	if k > bad {
		return math.Inf(-1)
	}
	return logPairs + lgamma(bad+1) + lgamma(n-k+1) - lgamma(n+1) - lgamma(bad-k+1)
}

// securityBound returns t1: a threshold t is secure for degree k iff
// t > t1 (given that the graph stays connected).
//
// Let c be the number of corrupt clients among a target's k neighbours,
// bounded by the upper quantile cMax of its law at 2^-41/n (union bound
// over the n possible targets). Each secret of the target has k+1
// holders: its k neighbours and the target itself, which keeps a share of
// its own self-mask seed and reveals it at unmasking.
//
//   - Semi-honest: the server learns a secret from t shares, so t > cMax
//     (fcp's bound, whose table the tests reproduce).
//   - Malicious: the server can split the honest holders into two groups
//     shown different survivor sets, one revealing self-mask shares of
//     the target (with the target's own share) and one its mask-key
//     shares, while the corrupt holders reveal both. The two piles hold at
//     most (k+1-c) + 2c = k+1+c shares, so the target is safe iff
//     2t > k+1+c, that is t > floor((k+1+cMax)/2).
//
// fcp's malicious bound, ceil((cMax+k-1.25)/2), counts k holders per
// secret and is one short when k+1+cMax is even.
func securityBound(n, k int, corrupt float64, threat Threat) float64 {
	cMax := corruptNeighbourBound(n, k, corrupt, threat)
	if threat == Malicious {
		return math.Floor((float64(k) + 1 + cMax) / 2)
	}
	return cMax
}

// corruptNeighbourBound returns cMax, the number of corrupt clients among
// the k neighbours of one client that is exceeded with probability at
// most 2^-(SecurityBits+1)/n. In the malicious model the law is exact:
// the neighbours of an honest target are a uniform k-subset of the n-1
// other clients (the relabelling is a uniform permutation). The
// semi-honest bound keeps fcp's numerics (a k-subset of all n clients).
func corruptNeighbourBound(n, k int, corrupt float64, threat Threat) float64 {
	perEvent := float64(SecurityBits + 1)
	adv := int(math.Floor((corrupt + finderSmall) * float64(n)))
	h := hypergeometric{total: n, marked: adv, sampled: k}
	if threat == Malicious {
		h.total = n - 1
	}
	return h.quantile(math.Pow(2, -perEvent)/float64(n), true)
}

// checkDegree reports whether degree k is secure and correct, and the
// threshold to use.
func checkDegree(n, k int, dropout, corrupt float64, threat Threat) (int, bool) {
	perEvent := float64(SecurityBits + 1)
	if logProbDisconnected(n, k, dropout, corrupt) >= -perEvent*math.Ln2 {
		return 0, false
	}
	t1 := securityBound(n, k, corrupt, threat)
	surv := int(math.Ceil((1 - dropout - finderSmall) * float64(n)))
	hs := hypergeometric{total: n, marked: surv, sampled: k}
	q := math.Pow(2, -CorrectnessBits) / float64(n)
	t2 := hs.quantile(q, false)
	if hs.cdf(t2) < q {
		t2++
	}
	if t2 <= t1 {
		return 0, false
	}
	return max(int(t1)+1, 2), true
}

func lgamma(x int) float64 {
	v, _ := math.Lgamma(float64(x))
	return v
}

// hypergeometric is the law of the number of marked items in a sample of
// sampled items drawn without replacement from total items, marked of which
// are marked. Its numerics follow fcp's distribution_utilities.cc so that
// the parameter finder agrees with fcp's table.
type hypergeometric struct {
	total, marked, sampled int
}

func (h hypergeometric) pmfCounted(x float64, counted int) float64 {
	N, s, c := float64(h.total), float64(h.sampled), float64(counted)
	if x < 0 || x > s || x > c {
		return 0
	}
	if N+x < c+s {
		return 0
	}
	lg := func(v float64) float64 { r, _ := math.Lgamma(v); return r }
	l := lg(s+1) + lg(c+1) + lg(N-c+1) + lg(N-s+1) - lg(x+1) - lg(s-x+1) - lg(c-x+1) - lg(N+1) - lg(N-s-c+x+1)
	return math.Exp(l)
}

func (h hypergeometric) cdf(x float64) float64 {
	x = math.Floor(x)
	mean := float64(h.marked) * float64(h.sampled) / float64(h.total)
	if x > mean {
		return 1 - h.cdfCounted(float64(h.sampled)-x-1, h.total-h.marked)
	}
	return h.cdfCounted(x, h.marked)
}

func (h hypergeometric) cdfCounted(x float64, counted int) float64 {
	N, s, c := float64(h.total), float64(h.sampled), float64(counted)
	cur := h.pmfCounted(x, counted)
	res := 0.0
	for cur > res*1e-16 {
		res += cur
		cur *= x
		cur *= N - c - s + x
		cur /= c - x + 1
		cur /= s - x + 1
		x--
	}
	return res
}

// quantile returns the largest x with Pr[X <= x] < q (or, with complement,
// the bound of the upper tail), rounded away from the median.
func (h hypergeometric) quantile(q float64, complement bool) float64 {
	if q > 0.5 {
		q = 1 - q
		complement = !complement
	}
	if complement {
		return float64(h.sampled) - h.quantileCounted(q, h.total-h.marked) - 1
	}
	return h.quantileCounted(q, h.marked)
}

func (h hypergeometric) quantileCounted(q float64, counted int) float64 {
	N, s, c := float64(h.total), float64(h.sampled), float64(counted)
	basic := c + s - N - 1
	fancy := s * (c/N - math.Sqrt(-math.Log(q)/(2*s)))
	res := -1.0
	if basic > res {
		res = basic
	}
	if fancy > res {
		res = fancy
	}
	res = math.Floor(res)
	cdf := h.cdfCounted(res, counted)
	pmf := h.pmfCounted(res, counted)
	for cdf < q && res < s {
		if pmf > 0 {
			pmf /= res + 1
			pmf /= N - c - s + res + 1
			pmf *= c - res
			pmf *= s - res
		} else {
			pmf = h.pmfCounted(res+1, counted)
		}
		cdf += pmf
		res++
	}
	res--
	return res
}
