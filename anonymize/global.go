package anonymize

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Metric is an information-loss metric minimized by [Optimal].
type Metric int

// Information-loss metrics (see the package documentation for formulas).
const (
	// NonUniformEntropyMetric: Σ over cells of log2(freq(generalized) /
	// freq(original)).
	NonUniformEntropyMetric Metric = iota + 1
	// LossMetric: the average over cells of (covered − 1)/(values − 1),
	// ARX's "loss" (Iyengar 2002); equal to NCP/100 for hierarchies.
	LossMetric
	// DiscernibilityMetric: Σ|E|² + |suppressed|·n.
	DiscernibilityMetric
)

// OptimalOptions configures [Optimal]. The zero value minimizes
// non-uniform entropy.
type OptimalOptions struct {
	// Metric to minimize. Defaults to NonUniformEntropyMetric.
	Metric Metric
	// Exhaustive checks every node of the lattice instead of using
	// predictive tagging (for testing; the result is the same when the
	// models are monotone).
	Exhaustive bool
}

// Optimal finds the optimal full-domain generalization: one level of its
// hierarchy per quasi-identifier (a node of the generalization lattice)
// such that the table, after suppressing the rows of classes that fail
// the models (at most spec.Suppression of the rows), meets every model,
// and the information loss is smallest. Every QI needs a hierarchy.
//
// The search follows Flash (Kohlmayer et al. 2012): nodes are visited by
// increasing height; from each unclassified node a path of unclassified
// successors is built and binary-searched for its lowest anonymous node;
// every check tags all successors of an anonymous node as anonymous and
// all predecessors of a non-anonymous node as not anonymous (predictive
// tagging, valid because k-anonymity with suppression, l-diversity and
// t-closeness are monotone under generalization). The loss is evaluated on
// the checked anonymous nodes; since it is monotone too, the optimum is
// among them. Ties go to the node with the smaller level vector. A nil opt
// means the defaults; a nil t is an error wrapping [ErrInput].
func Optimal(t *Table, spec Spec, opt *OptimalOptions) (*Result, error) {
	start := time.Now()
	c, err := compile(t, spec, true)
	if err != nil {
		return nil, err
	}
	if err := checkDependent(t, spec); err != nil {
		return nil, err
	}
	metric := NonUniformEntropyMetric
	if opt != nil && opt.Metric != 0 {
		metric = opt.Metric
	}
	if metric < NonUniformEntropyMetric || metric > DiscernibilityMetric {
		return nil, fmt.Errorf("%w: unknown metric %d", ErrParameter, metric)
	}
	g := newGlobal(t, c, metric)
	total := 1
	for _, h := range g.height {
		total *= h
		if total > 1<<24 {
			return nil, fmt.Errorf("%w: the generalization lattice has more than 2^24 nodes", ErrParameter)
		}
	}
	g.tag = make([]int8, total)
	order := make([]int, total)
	for i := range order {
		order[i] = i
	}
	heights := make([]int, total)
	lv := make([]int, len(g.height))
	for i := range order {
		g.levels(i, lv)
		for _, l := range lv {
			heights[i] += l
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return heights[a] - heights[b] })
	g.best = -1
	if opt != nil && opt.Exhaustive {
		for _, node := range order {
			g.check(node)
		}
	} else {
		for _, node := range order {
			if g.tag[node] != 0 {
				continue
			}
			path := []int{node}
			for cur := node; ; {
				next := -1
				g.levels(cur, lv)
				for q := range lv {
					if lv[q]+1 < g.height[q] {
						s := cur + g.stride[q]
						if g.tag[s] == 0 {
							next = s
							break
						}
					}
				}
				if next < 0 {
					break
				}
				path = append(path, next)
				cur = next
			}
			lo, hi := 0, len(path)-1
			for lo <= hi {
				mid := (lo + hi) / 2
				n := path[mid]
				if g.tag[n] == 0 {
					g.check(n)
				}
				if g.tag[n] > 0 {
					hi = mid - 1
				} else {
					lo = mid + 1
				}
			}
		}
	}
	if g.best < 0 {
		return nil, fmt.Errorf("%w: no generalization meets the model within the suppression limit of %v (even full generalization)", ErrUnsatisfiable, spec.Suppression)
	}
	node := make([]int, len(g.height))
	g.levels(g.best, node)
	out, sup, classes := g.output(t, node)
	return &Result{Output: out, Classes: classes, Suppressed: sup, Duration: time.Since(start),
		Node: node, NodesChecked: g.checked, NodesTotal: total}, nil
}

type global struct {
	c      *compiled
	metric Metric
	height []int
	stride []int
	// gen[q][l][code] is the dense id of the level-l ancestor of input
	// code; ngen[q][l] the number of ids.
	gen  [][][]int32
	ngen [][]int
	// per QI: input codes per row, and the frequency of each input code
	codes [][]int32
	freq  [][]int
	// cost[q][l][code]: NUE of one cell; width[q][l][code]: loss of one cell
	cost  [][][]float64
	width [][][]float64
	tag   []int8
	// buffers
	cls, next []int32
	remap     []int32
	hist      []int32
	fbuf      []float64
	checked   int
	best      int
	bestLoss  float64
	limit     int
}

func newGlobal(t *Table, c *compiled, metric Metric) *global {
	d := len(c.qcol)
	g := &global{c: c, metric: metric, height: make([]int, d), stride: make([]int, d),
		gen: make([][][]int32, d), ngen: make([][]int, d), codes: make([][]int32, d),
		freq: make([][]int, d), cost: make([][][]float64, d), width: make([][][]float64, d),
		cls: make([]int32, c.n), next: make([]int32, c.n), fbuf: make([]float64, c.nsens+1)}
	g.limit = int(math.Floor(c.spec.Suppression*float64(c.n) + eps))
	s := 1
	for q := d - 1; q >= 0; q-- {
		g.stride[q] = s
		s *= c.spec.QIs[q].Hierarchy.height
	}
	for q, j := range c.qcol {
		h := c.spec.QIs[q].Hierarchy
		col := t.cols[j]
		g.height[q] = h.height
		g.codes[q] = col.Codes
		g.freq[q] = make([]int, len(col.Dict))
		for _, code := range col.Codes {
			g.freq[q][code]++
		}
		nv := len(col.Dict)
		for l := 0; l < h.height; l++ {
			ids := map[string]int32{}
			gl := make([]int32, nv)
			for code, v := range col.Dict {
				lab := h.rows[h.leaf[v]][l]
				id, ok := ids[lab]
				if !ok {
					id = int32(len(ids))
					ids[lab] = id
				}
				gl[code] = id
			}
			gf := make([]int, len(ids))
			gv := make([]int, len(ids)) // distinct input values under each id
			for code, id := range gl {
				gf[id] += g.freq[q][code]
				gv[id]++
			}
			cost := make([]float64, nv)
			width := make([]float64, nv)
			for code, id := range gl {
				cost[code] = math.Log2(float64(gf[id]) / float64(g.freq[q][code]))
				if nv > 1 {
					width[code] = float64(gv[id]-1) / float64(nv-1)
				}
			}
			g.gen[q] = append(g.gen[q], gl)
			g.ngen[q] = append(g.ngen[q], len(ids))
			g.cost[q] = append(g.cost[q], cost)
			g.width[q] = append(g.width[q], width)
		}
	}
	return g
}

func (g *global) levels(node int, lv []int) {
	for q := range lv {
		lv[q] = node / g.stride[q] % g.height[q]
	}
}

// classify assigns every row its class under node; it returns the number
// of classes.
func (g *global) classify(lv []int) int {
	n := g.c.n
	cls := g.cls
	clear(cls)
	nc := 1
	for q := range lv {
		gl := g.gen[q][lv[q]]
		G := g.ngen[q][lv[q]]
		if G == 1 {
			continue
		}
		codes := g.codes[q]
		if nc*G <= 4*n+1024 {
			g.remap = slices.Grow(g.remap[:0], nc*G)[:nc*G]
			for i := range g.remap {
				g.remap[i] = -1
			}
			k := int32(0)
			for i := 0; i < n; i++ {
				key := int(cls[i])*G + int(gl[codes[i]])
				id := g.remap[key]
				if id < 0 {
					id = k
					g.remap[key] = id
					k++
				}
				cls[i] = id
			}
			nc = int(k)
		} else {
			m := make(map[int64]int32, nc)
			for i := 0; i < n; i++ {
				key := int64(cls[i])*int64(G) + int64(gl[codes[i]])
				id, ok := m[key]
				if !ok {
					id = int32(len(m))
					m[key] = id
				}
				cls[i] = id
			}
			nc = len(m)
		}
	}
	return nc
}

// evaluate returns, for node lv, whether it is anonymous, the rows to
// suppress (as a per-class failure flag), and the number of classes kept.
func (g *global) evaluate(lv []int) (ok bool, fail []bool, sup, kept int) {
	c := g.c
	nc := g.classify(lv)
	size := make([]int, nc)
	for _, id := range g.cls {
		size[id]++
	}
	fail = make([]bool, nc)
	m := c.nsens
	sens := c.model.l != nil || c.model.t != nil
	if sens {
		g.hist = growClear(g.hist, nc*m)
		for i, id := range g.cls {
			g.hist[int(id)*m+int(c.sens[i])]++
		}
	}
	for id, s := range size {
		var h []int32
		if sens {
			h = g.hist[id*m : (id+1)*m]
		}
		if !c.model.ok(s, h, g.fbuf) {
			fail[id] = true
			sup += s
		} else {
			kept++
		}
	}
	return sup <= g.limit && kept > 0, fail, sup, kept
}

// check classifies node, tags it and its successors or predecessors, and
// updates the best node.
func (g *global) check(node int) {
	lv := make([]int, len(g.height))
	g.levels(node, lv)
	g.checked++
	ok, fail, sup, _ := g.evaluate(lv)
	if !ok {
		g.tagDown(node)
		return
	}
	g.tagUp(node)
	loss := g.loss(lv, fail, sup)
	if g.best < 0 || loss < g.bestLoss-1e-9*math.Abs(g.bestLoss) || (math.Abs(loss-g.bestLoss) <= 1e-9*math.Abs(g.bestLoss) && node < g.best) {
		g.best, g.bestLoss = node, loss
	}
}

func (g *global) tagUp(node int) {
	stack := []int{node}
	lv := make([]int, len(g.height))
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if g.tag[n] > 0 {
			continue
		}
		g.tag[n] = 1
		g.levels(n, lv)
		for q := range lv {
			if lv[q]+1 < g.height[q] && g.tag[n+g.stride[q]] <= 0 {
				stack = append(stack, n+g.stride[q])
			}
		}
	}
}

func (g *global) tagDown(node int) {
	stack := []int{node}
	lv := make([]int, len(g.height))
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if g.tag[n] < 0 {
			continue
		}
		g.tag[n] = -1
		g.levels(n, lv)
		for q := range lv {
			if lv[q] > 0 && g.tag[n-g.stride[q]] >= 0 {
				stack = append(stack, n-g.stride[q])
			}
		}
	}
}

// loss computes the metric of node lv with the failing classes suppressed.
func (g *global) loss(lv []int, fail []bool, sup int) float64 {
	n := g.c.n
	switch g.metric {
	case DiscernibilityMetric:
		size := make([]int, len(fail))
		for _, id := range g.cls {
			size[id]++
		}
		dm := 0.0
		for id, s := range size {
			if !fail[id] {
				dm += float64(s) * float64(s)
			}
		}
		return dm + float64(sup)*float64(n)
	default:
		tab := g.cost
		if g.metric == LossMetric {
			tab = g.width
		}
		total := 0.0
		for q := range lv {
			cost := tab[q][lv[q]]
			codes := g.codes[q]
			for i, id := range g.cls {
				if fail[id] {
					if g.metric == LossMetric {
						total++
					} else {
						total += math.Log2(float64(n) / float64(g.freq[q][codes[i]]))
					}
					continue
				}
				total += cost[codes[i]]
			}
		}
		if g.metric == LossMetric {
			total /= float64(n * len(lv))
		}
		return total
	}
}

// output generalizes the table to node lv, removing suppressed rows.
func (g *global) output(t *Table, lv []int) (*Table, int, int) {
	_, fail, sup, kept := g.evaluate(lv)
	c := g.c
	gen := make([]*Column, len(lv))
	for q, j := range c.qcol {
		h := c.spec.QIs[q].Hierarchy
		col := t.cols[j]
		nc := &Column{Name: col.Name, index: map[string]int32{}, Codes: make([]int32, c.n)}
		remap := make([]int32, len(col.Dict))
		for code, v := range col.Dict {
			remap[code] = nc.code(h.rows[h.leaf[v]][lv[q]])
		}
		for i, code := range col.Codes {
			nc.Codes[i] = remap[code]
		}
		gen[q] = nc
	}
	var keep []bool
	if sup > 0 {
		keep = make([]bool, c.n)
		for i, id := range g.cls {
			keep[i] = !fail[id]
		}
	}
	return c.assemble(t, gen, keep), sup, kept
}
