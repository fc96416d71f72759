package secagg

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"slices"

	"github.com/privml/privml/internal/prg"
)

// The neighbour graph is a Harary graph H(k, n) (nodes on a ring, each joined
// to the k/2 nearest on either side) whose nodes are relabelled by a
// permutation drawn from the public session seed, as in Bell et al. (CCS
// 2020, section 4) and fcp's SecretSharingHararyGraph. With k = n-1 it is
// the complete graph of classic SecAgg.

// relabel draws a uniform permutation of 0..n-1 (Fisher-Yates with
// rejection sampling) from an AES-CTR stream keyed by a hash of seed.
func relabel(n int, seed *[32]byte) (perm, pos []uint32) {
	key := sha256.Sum256(append([]byte("privml/secagg/v1/graph\x00"), seed[:]...))
	r := prg.NewReader(&key)
	perm = make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	var b [4]byte
	for i := n - 1; i > 0; i-- {
		bound := uint32(i + 1)
		limit := ^uint32(0) - (^uint32(0)%bound+1)%bound // largest multiple of bound, minus 1
		var v uint32
		for {
			_, _ = io.ReadFull(r, b[:]) // the keystream never fails
			v = binary.LittleEndian.Uint32(b[:])
			if v <= limit {
				break
			}
		}
		j := v % bound
		perm[i], perm[j] = perm[j], perm[i]
	}
	pos = make([]uint32, n)
	for p, id := range perm {
		pos[id] = uint32(p)
	}
	return perm, pos
}

// complete reports whether the graph is the complete graph.
func (p *Params) complete() bool { return p.k >= p.n-1 }

// IsNeighbour reports whether clients i and j (distinct, valid ids) are
// neighbours.
func (p *Params) IsNeighbour(i, j int) bool {
	if i == j || i < 0 || j < 0 || i >= p.n || j >= p.n {
		return false
	}
	if p.complete() {
		return true
	}
	d := int(p.pos[i]) - int(p.pos[j])
	if d < 0 {
		d = -d
	}
	d = min(d, p.n-d)
	return d <= p.k/2
}

// Neighbours returns the k neighbours of client i in increasing id order.
func (p *Params) Neighbours(i int) []int {
	out := make([]int, 0, p.k)
	if p.complete() {
		for j := range p.n {
			if j != i {
				out = append(out, j)
			}
		}
		return out
	}
	c := int(p.pos[i])
	for d := 1; d <= p.k/2; d++ {
		out = append(out, int(p.perm[(c+d)%p.n]), int(p.perm[(c-d+p.n)%p.n]))
	}
	slices.Sort(out)
	return out
}

// holders returns the share holders of client i among the set alive
// (indexed by id): its alive neighbours and itself, in increasing id order.
// Holder m receives the share with X = m+1.
func (p *Params) holders(i int, alive func(int) bool) []int {
	nb := p.Neighbours(i)
	out := make([]int, 0, len(nb)+1)
	self := false
	for _, j := range nb {
		if !self && j > i {
			out = append(out, i)
			self = true
		}
		if alive(j) {
			out = append(out, j)
		}
	}
	if !self {
		out = append(out, i)
	}
	return out
}

// holderX returns the evaluation point (1-based position) of holder among
// the share holders of owner given the advertised set u1, or 0 if it is
// not one. rank[j] must be the number of advertised clients with id < j.
func (p *Params) holderX(owner, holder int, u1 []bool, rank []int32) uint32 {
	if !u1[holder] || !u1[owner] || (holder != owner && !p.IsNeighbour(owner, holder)) {
		return 0
	}
	if p.complete() {
		return uint32(rank[holder]) + 1
	}
	x := uint32(1)
	if owner < holder {
		x++
	}
	for _, j := range p.Neighbours(owner) {
		if j < holder && u1[j] {
			x++
		}
	}
	return x
}

// rankOf returns the prefix counts of u1: rank[j] = #{i < j : u1[i]}.
func rankOf(u1 []bool) []int32 {
	r := make([]int32, len(u1)+1)
	for i, b := range u1 {
		r[i+1] = r[i]
		if b {
			r[i+1]++
		}
	}
	return r
}
