package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/internal/prg"
)

// corruptClients replaces each client of Options.Corrupt by one whose
// randomness the server knows, and gives the server a twin of it: a
// second state machine fed the same messages, which ends up holding the
// same keys and shares and can answer a second survivor set.
func (r *runner) corruptClients() error {
	n := r.p.NumClients()
	src := r.opts.InsecureTestRand
	if src == nil {
		src = rand.Reader
	}
	var key [32]byte
	if _, err := io.ReadFull(src, key[:]); err != nil {
		return err
	}
	defer clear(key[:])
	stream := func(i int) io.Reader {
		h := sha256.New()
		h.Write([]byte("privml/secagg/sim/corrupt\x00"))
		h.Write(key[:])
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(i)))
		var k [32]byte
		h.Sum(k[:0])
		return prg.NewReader(&k)
	}
	for _, i := range r.opts.Corrupt {
		if i < 0 || i >= n || i == r.opts.Target {
			return fmt.Errorf("sim: corrupt client %d is out of range or the target", i)
		}
		var cs [2]*secagg.Client
		for k := range cs {
			o := clientOptions(r.p, r.opts, i)
			o.InsecureTestRand = stream(i)
			c, err := secagg.NewClient(r.p, i, o)
			if err != nil {
				return err
			}
			cs[k] = c
		}
		r.parties[i].c, r.parties[i].twin = cs[0], cs[1]
	}
	return nil
}

// splitState is what the SplitView server knows after the masked inputs.
type splitState struct {
	r          *runner
	target     int
	malicious  bool
	inU2, inU3 []bool
	corrupt    []bool
	nb         [][]int // neighbours
}

// passes predicts whether client j, shown the survivor set of side B (b)
// or A, accepts it: enough alive holders and, in the malicious model,
// enough valid consistency signatures (its own, those of the honest
// clients of that side, the corrupt ones). The corrupt clients run honest
// state machines, which check too: a real corrupt client would not, so
// this adversary is weaker than a real one only in that.
func (s *splitState) passes(j int, b bool, sideB []bool) bool {
	t := s.r.p.Threshold()
	alive, valid := 1, 1
	if s.malicious && s.r.p.Degree() < s.r.p.NumClients()-1 {
		alive = 0 // a sparse-graph client needs t alive neighbours besides itself
	}
	for _, v := range s.nb[j] {
		if !s.inU2[v] || !s.inU3[v] || (v == s.target && b) {
			continue
		}
		alive++
		if s.corrupt[v] || sideB[v] == b {
			valid++
		}
	}
	return alive >= t && (!s.malicious || valid >= t)
}

// outcome predicts the target's shares the server collects.
func (s *splitState) outcome(sideB []bool) (self, key int) {
	for _, v := range s.nb[s.target] {
		switch {
		case !s.inU3[v] || !s.inU2[v]:
		case s.corrupt[v]:
			if s.passes(v, false, sideB) {
				self++
			}
			if s.passes(v, true, sideB) {
				key++
			}
		case !s.passes(v, sideB[v], sideB):
		case sideB[v]:
			key++
		default:
			self++
		}
	}
	if s.passes(s.target, false, sideB) {
		self++
	}
	return self, key
}

// ringOrder recovers the Harary ring from the public graph, starting at
// from: on H(k, n) two nodes at ring distance d <= k/2 share k-d-1
// neighbours, so the next node is the neighbour of the current one that
// shares the most, other than the previous. It returns nil for the
// complete graph.
func (s *splitState) ringOrder(from int, common func(x, y int) int) []int {
	n := s.r.p.NumClients()
	if s.r.p.Degree() >= n-1 {
		return nil
	}
	order := []int{from}
	seen := map[int]bool{from: true}
	for len(order) < n {
		cur, best, bestC := order[len(order)-1], -1, -1
		for _, v := range s.nb[cur] {
			if c := common(cur, v); !seen[v] && c > bestC {
				best, bestC = v, c
			}
		}
		if best < 0 {
			return nil
		}
		order = append(order, best)
		seen[best] = true
	}
	return order
}

// bestSplit starts from the two halves of the ring around the target (on
// the complete graph, from the clients closer to one neighbour a of the
// target or to the neighbour b that shares fewest neighbours with a) and
// moves honest clients between the groups while that raises the smaller
// pile of shares, then the total.
func (s *splitState) bestSplit() []bool {
	n := s.r.p.NumClients()
	common := func(x, y int) int {
		c := 0
		for _, v := range s.nb[x] {
			if _, ok := slices.BinarySearch(s.nb[y], v); ok {
				c++
			}
		}
		return c
	}
	sideB := make([]bool, n)
	honest := func(j int) bool { return j != s.target && !s.corrupt[j] && s.inU3[j] }
	if ring := s.ringOrder(s.target, common); ring != nil {
		for d, j := range ring {
			sideB[j] = honest(j) && d > n/2
		}
	} else {
		a, b := -1, -1
		for _, v := range s.nb[s.target] {
			if !s.corrupt[v] && s.inU3[v] {
				if a < 0 {
					a = v
				} else if b < 0 || common(v, a) < common(b, a) {
					b = v
				}
			}
		}
		for j := range n {
			if a >= 0 && b >= 0 && honest(j) {
				sideB[j] = j == b || (j != a && common(j, b) > common(j, a))
			}
		}
	}
	score := func() (int, int) {
		x, y := s.outcome(sideB)
		return min(x, y), x + y
	}
	bestMin, bestSum := score()
	for range 20 {
		improved := false
		for j := range n {
			if j == s.target || s.corrupt[j] || !s.inU3[j] {
				continue
			}
			sideB[j] = !sideB[j]
			if m, sum := score(); m > bestMin || (m == bestMin && sum > bestSum) {
				bestMin, bestSum, improved = m, sum, true
			} else {
				sideB[j] = !sideB[j]
			}
		}
		if !improved {
			break
		}
	}
	return sideB
}

// newSplitState gathers what the server knows after the masked-input
// round: who shared keys (U2), who sent a masked input (U3), the graph,
// and the session id.
func (r *runner) newSplitState(bundles map[int]*secagg.ShareBundle, target int) (*splitState, [32]byte, error) {
	p := r.p
	n := p.NumClients()
	s := &splitState{r: r, target: target, malicious: p.Config().Threat == secagg.Malicious,
		inU2: make([]bool, n), inU3: make([]bool, n), corrupt: make([]bool, n), nb: make([][]int, n)}
	for j := range bundles {
		s.inU2[j] = true
	}
	for _, j := range r.opts.Corrupt {
		s.corrupt[j] = true
	}
	for j := range n {
		s.nb[j] = p.Neighbours(j)
	}
	var session [32]byte
	if s.malicious {
		creqs, err := r.srv.ConsistencyRequests()
		if err != nil {
			return nil, session, err
		}
		for j, q := range creqs {
			s.inU3[j], session = true, q.Session
		}
	} else {
		ureqs, err := r.srv.UnmaskRequests()
		if err != nil {
			return nil, session, err
		}
		for j, q := range ureqs {
			s.inU3[j], session = true, q.Session
		}
	}
	return s, session, nil
}

// splitView plays the SplitView server from the end of the masked-input
// round: consistency and unmasking with two survivor sets.
func (r *runner) splitView(bundles map[int]*secagg.ShareBundle, target int) error {
	n := r.p.NumClients()
	s, session, err := r.newSplitState(bundles, target)
	if err != nil {
		return err
	}
	if !s.inU3[target] {
		return errLyingServer // the target dropped: nothing to unmask
	}
	sideB := s.bestSplit()
	var viewA, viewB []uint32
	for j := range n {
		if s.inU3[j] {
			viewA = append(viewA, uint32(j))
			if j != target {
				viewB = append(viewB, uint32(j))
			}
		}
	}
	sigs := [2]map[int][]byte{{}, {}} // side A, side B
	if s.malicious {
		r.splitConsistency(s, session, sideB, [2][]uint32{viewA, viewB}, &sigs)
	}
	for j := range n {
		pt := r.parties[j]
		if !s.inU3[j] || pt.dead {
			continue
		}
		for side, c := range []*secagg.Client{pt.c, pt.twin} {
			if c == nil {
				continue
			}
			if pt.twin == nil && sideB[j] {
				side = 1
			}
			views := [2][]uint32{viewA, viewB}
			q := s.unmaskRequest(j, session, views[side], sigs[side])
			var in secagg.UnmaskRequest
			if err := r.down(j, q, &in); err != nil {
				r.clientFailed(j, err)
				break
			}
			m, err := c.Unmask(&in)
			if err != nil {
				r.clientFailed(j, err)
				break
			}
			r.countRevealed(m, uint32(target))
			if j == target && len(m.SelfShares) > 0 {
				r.rep.Revealed.Self++ // the target's own share
			}
		}
	}
	return errLyingServer
}

// splitConsistency collects the signatures of each side: the honest
// clients sign the survivor set they are shown, the corrupt ones both.
func (r *runner) splitConsistency(s *splitState, session [32]byte, sideB []bool, views [2][]uint32, sigs *[2]map[int][]byte) {
	for j := range s.inU3 {
		pt := r.parties[j]
		if !s.inU3[j] || pt.dead {
			continue
		}
		for side, c := range []*secagg.Client{pt.c, pt.twin} {
			if c == nil {
				continue
			}
			if pt.twin == nil && sideB[j] {
				side = 1
			}
			q := &secagg.ConsistencyRequest{Client: uint32(j), Session: session, Survivors: views[side]}
			var in secagg.ConsistencyRequest
			if err := r.down(j, q, &in); err != nil {
				r.clientFailed(j, err)
				break
			}
			m, err := c.Consistency(&in)
			if err != nil {
				r.clientFailed(j, err)
				break
			}
			sigs[side][j] = m.Signature
		}
	}
}

// unmaskRequest builds the request of client j for the survivor set view.
func (s *splitState) unmaskRequest(j int, session [32]byte, view []uint32, sigs map[int][]byte) *secagg.UnmaskRequest {
	q := &secagg.UnmaskRequest{Client: uint32(j), Session: session}
	if s.malicious {
		q.Survivors = view
	}
	for _, v := range s.nb[j] {
		if !s.inU2[v] {
			continue
		}
		if _, alive := slices.BinarySearch(view, uint32(v)); alive {
			q.Alive = append(q.Alive, uint32(v))
		} else {
			q.Dropped = append(q.Dropped, uint32(v))
		}
		if sig, ok := sigs[v]; ok && s.malicious {
			q.Signatures = append(q.Signatures, secagg.SignedSurvivors{Client: uint32(v), Signature: sig})
		}
	}
	return q
}
