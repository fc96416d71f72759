package he

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	commonlt "github.com/tuneinsight/lattigo/v6/circuits/common/lintrans"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring/ringqp"
	"github.com/tuneinsight/lattigo/v6/utils"
)

// workers returns how many goroutines work on n independent items:
// min(GOMAXPROCS, n), at least 1.
func workers(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n))
}

// parallel runs f(w, i) for every i in [0, n). The calling goroutine uses
// w; each further goroutine (up to min(GOMAXPROCS, n) in all) takes its
// own worker from the pool, so no evaluator is used by two goroutines at
// once. Items are handed out in order from a shared counter. It returns the
// error of the lowest failing item, if any.
func (s *Server) parallel(w *worker, n int, f func(w *worker, i int) error) error {
	k := workers(n)
	if k == 1 {
		for i := range n {
			if err := f(w, i); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	errs := make([]error, n)
	run := func(w *worker) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			errs[i] = f(w, i)
		}
	}
	var wg sync.WaitGroup
	for range k - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ww := s.getWorker()
			defer s.putWorker(ww)
			run(ww)
		}()
	}
	run(w)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// evaluateLTs sets res[i] = lts[i](in) for baby-step giant-step
// transformations sharing one hoisted decomposition of in. With one
// goroutine it is lattigo's EvaluateMany. With k > 1 goroutines the
// decomposition is computed once, the hoisted baby-step rotations are
// split across the goroutines, and each transformation's giant-step
// groups are split into up to k parts balanced by their cost, evaluated
// concurrently and added; each part ends with its own rescaling by P, so
// the result differs from the sequential one by a rounding of at most one
// per part, far below the CKKS noise.
func (s *Server) evaluateLTs(w *worker, in *rlwe.Ciphertext, lts []commonlt.LinearTransformation, res []*rlwe.Ciphertext) error {
	k := runtime.GOMAXPROCS(0)
	for _, lt := range lts {
		if lt.N1 == 0 {
			k = 1
		}
	}
	if k <= 1 {
		return w.lt.Evaluator.EvaluateMany(in, lts, res)
	}
	params := s.plan.params.p
	levelQ, levelP := 0, lts[0].LevelP
	for _, lt := range lts {
		levelQ = max(levelQ, lt.LevelQ)
	}
	levelQ = min(levelQ, in.Level())

	// One decomposition, shared read-only by every goroutine.
	ringQP := params.RingQP().AtLevel(levelQ, levelP)
	decomp := make([]ringqp.Poly, params.BaseRNSDecompositionVectorSize(levelQ, levelP))
	for i := range decomp {
		decomp[i] = ringQP.NewPoly()
	}
	w.eval.DecomposeNTT(levelQ, levelP, levelP+1, in.Value[1], in.IsNTT, decomp)

	// Hoisted baby steps: the map is filled before the goroutines start;
	// each goroutine writes only the elements of its own rotations.
	type part struct {
		lt  int
		sub commonlt.LinearTransformation
	}
	var parts []part
	babyMap := map[int]bool{}
	for li, lt := range lts {
		index, _, rotN2 := lt.BSGSIndex()
		for _, r := range rotN2 {
			if r != 0 {
				babyMap[r] = true
			}
		}
		// Split the giant steps into up to k groups, greedily by cost (a
		// plaintext product per diagonal, plus a key switch for j ≠ 0).
		giants := utils.GetSortedKeys(index)
		cost := func(j int) int {
			c := len(index[j])
			if j != 0 {
				c += 8
			}
			return c
		}
		order := slices.Clone(giants)
		slices.SortStableFunc(order, func(a, b int) int { return cost(b) - cost(a) })
		ng := min(k, len(giants))
		load := make([]int, ng)
		groups := make([][]int, ng)
		for _, j := range order {
			g := 0
			for x := range ng {
				if load[x] < load[g] {
					g = x
				}
			}
			load[g] += cost(j)
			groups[g] = append(groups[g], j)
		}
		if ng == 1 {
			parts = append(parts, part{lt: li, sub: lt})
			continue
		}
		for _, grp := range groups {
			sub := lt
			sub.Vec = make(map[int]ringqp.Poly)
			for _, j := range grp {
				for _, i := range index[j] {
					sub.Vec[j+i] = lt.Vec[j+i]
				}
			}
			parts = append(parts, part{lt: li, sub: sub})
		}
	}
	babies := utils.GetSortedKeys(babyMap)
	pre := make(map[int]*rlwe.Element[ringqp.Poly], len(babies))
	for _, r := range babies {
		pre[r] = rlwe.NewElementExtended(params, 1, levelQ, levelP)
	}
	if err := s.parallel(w, len(babies), func(w *worker, i int) error {
		r := babies[i]
		return w.eval.AutomorphismHoistedLazy(levelQ, in, decomp, params.GaloisElement(r), pre[r])
	}); err != nil {
		return err
	}

	// Giant-step parts, then the sum of the parts of each transformation.
	out := make([]*rlwe.Ciphertext, len(parts))
	first := make([]int, len(lts))
	for i := range first {
		first[i] = -1
	}
	for pi, p := range parts {
		if first[p.lt] < 0 {
			first[p.lt] = pi
			out[pi] = res[p.lt]
		} else {
			out[pi] = rlwe.NewCiphertext(params, 1, res[p.lt].Level())
		}
	}
	if err := s.parallel(w, len(parts), func(w *worker, i int) error {
		return w.lt.Evaluator.MultiplyByDiagMatrixBSGS(in, parts[i].sub, pre, out[i])
	}); err != nil {
		return err
	}
	for pi, p := range parts {
		if first[p.lt] != pi {
			if err := w.eval.Add(res[p.lt], out[pi], res[p.lt]); err != nil {
				return err
			}
		}
	}
	return nil
}

// addRotations sets ct to ct + Σ_{r ∈ rots} rot(ct, r). With more than
// one rotation they are hoisted (Halevi and Shoup, Crypto 2018): one
// decomposition of ct serves all of them, each rotation is a lazy gadget
// product left modulo QP (spread over up to GOMAXPROCS goroutines), and
// their sum takes a single modulus switch down to Q.
func (s *Server) addRotations(w *worker, ct *rlwe.Ciphertext, rots []int) error {
	if len(rots) == 1 {
		rot, err := w.eval.RotateNew(ct, rots[0])
		if err != nil {
			return err
		}
		return w.eval.Add(ct, rot, ct)
	}
	params := s.plan.params.p
	levelQ, levelP := ct.Level(), params.MaxLevelP()
	ringQP := params.RingQP().AtLevel(levelQ, levelP)
	decomp := make([]ringqp.Poly, params.BaseRNSDecompositionVectorSize(levelQ, levelP))
	for i := range decomp {
		decomp[i] = ringQP.NewPoly()
	}
	w.eval.DecomposeNTT(levelQ, levelP, levelP+1, ct.Value[1], ct.IsNTT, decomp)
	acc := make([]*rlwe.Element[ringqp.Poly], len(rots))
	for i := range acc {
		acc[i] = rlwe.NewElementExtended(params, 1, levelQ, levelP)
	}
	if err := s.parallel(w, len(rots), func(w *worker, i int) error {
		return w.eval.AutomorphismHoistedLazy(levelQ, ct, decomp, params.GaloisElement(rots[i]), acc[i])
	}); err != nil {
		return err
	}
	for _, a := range acc[1:] {
		ringQP.Add(acc[0].Value[0], a.Value[0], acc[0].Value[0])
		ringQP.Add(acc[0].Value[1], a.Value[1], acc[0].Value[1])
	}
	// acc holds P·Σ rot(ct) modulo QP: divide by P, rounding, into Q.
	sum := rlwe.NewCiphertext(params, 1, levelQ)
	w.eval.ModDownQPtoQNTT(levelQ, levelP, acc[0].Value[0].Q, acc[0].Value[0].P, sum.Value[0])
	w.eval.ModDownQPtoQNTT(levelQ, levelP, acc[0].Value[1].Q, acc[0].Value[1].P, sum.Value[1])
	ringQ := ringQP.RingQ
	ringQ.Add(ct.Value[0], sum.Value[0], ct.Value[0])
	ringQ.Add(ct.Value[1], sum.Value[1], ct.Value[1])
	return nil
}
