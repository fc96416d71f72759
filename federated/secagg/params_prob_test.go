package secagg

import "math"

// logHyperPMF is the log-probability that a sample of s items drawn
// without replacement from N items, c of them marked, holds x marked.
func logHyperPMF(N, c, s, x int) float64 {
	if x < 0 || x > s || x > c || s-x > N-c {
		return math.Inf(-1)
	}
	return logChoose(c, x) + logChoose(N-c, s-x) - logChoose(N, s)
}

func logChoose(a, b int) float64 {
	return lgamma(a+1) - lgamma(b+1) - lgamma(a-b+1)
}

// logHyperTail returns log Pr[X >= x0] (upper) or log Pr[X <= x0] (lower),
// summed term by term in log space, independently of the finder's
// numerics.
func logHyperTail(N, c, s, x0 int, upper bool) float64 {
	lo, hi := 0, x0
	if upper {
		lo, hi = x0, s
	}
	acc := math.Inf(-1)
	for x := max(lo, 0); x <= hi; x++ {
		l := logHyperPMF(N, c, s, x)
		if math.IsInf(l, -1) {
			continue
		}
		m := max(acc, l)
		acc = m + math.Log(math.Exp(acc-m)+math.Exp(l-m))
	}
	return acc
}

// achievedLog2 returns log2 of the probabilities that a session with
// degree k and threshold t on a relabelled Harary graph is insecure (the
// survivors' graph disconnects, or some client has so many corrupt
// neighbours that t shares of one secret, or in the malicious model a
// split view, reach the server) and that it fails for lack of shares
// (some client has fewer than t alive neighbours), union bounds over the
// n clients.
func achievedLog2(n, k, t int, dropout, corrupt float64, threat Threat) (insecure, failure float64) {
	adv := int(math.Floor((corrupt + finderSmall) * float64(n)))
	surv := int(math.Ceil((1 - dropout - finderSmall) * float64(n)))
	need := t // corrupt neighbours that reach t shares alone
	if threat == Malicious {
		need = 2*t - k - 1 // 2t <= k+1+c breaks the split view
	}
	logN := math.Log(float64(n))
	// The neighbours of an honest client are a uniform k-subset of the
	// n-1 others.
	sec := logN + logHyperTail(n-1, adv, k, need, true)
	disc := logProbDisconnected(n, k, dropout, corrupt)
	if m := max(sec, disc); !math.IsInf(m, -1) {
		insecure = (m + math.Log(math.Exp(sec-m)+math.Exp(disc-m))) / math.Ln2
	} else {
		insecure = m
	}
	failure = (logN + logHyperTail(n, surv, k, t-1, false)) / math.Ln2
	return insecure, failure
}
