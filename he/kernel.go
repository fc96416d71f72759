package he

import "math/bits"

// macChunk is the number of coefficients a multiply-accumulate keeps in its
// 128-bit accumulators at once (2 × 4 KiB, well inside L1).
const macChunk = 256

// macMont sets dst[k] = Σ_i src[i][k]·c[i]·2⁻⁶⁴ mod q for every k: a sum of
// products by Montgomery-form scalars with one Montgomery reduction per
// output coefficient instead of one per product. Every src[i] must be at
// least as long as dst and hold values below q, every c[i] must be below q,
// and qInv must be q⁻¹ mod 2⁶⁴ (lattigo's MRedConstant). Terms are
// accumulated exactly in 128 bits while their sum stays below q·2⁶⁴ (up to
// ⌊2⁶⁴/q⌋ terms), then reduced and the groups added modulo q.
func macMont(dst []uint64, src [][]uint64, c []uint64, q, qInv uint64) {
	nz := make([]int, 0, len(c))
	for i, v := range c {
		if v != 0 {
			nz = append(nz, i)
		}
	}
	macMontMany([][]uint64{dst}, src, [][]uint64{c}, [][]int{nz}, q, qInv)
}

// macMontMany runs [macMont] for several outputs, dst[o] with scalars
// c[o][i] for the inputs i listed in nz[o] (the others are zero), walking
// the coefficients in chunks so that a chunk of every input stays in cache
// while all outputs use it.
func macMontMany(dst [][]uint64, src [][]uint64, c [][]uint64, nz [][]int, q, qInv uint64) {
	for _, d := range dst {
		clear(d)
	}
	if len(src) == 0 || len(dst) == 0 {
		return
	}
	size := len(dst[0])
	group := int(min(^uint64(0)/q, 1<<20))
	var hi, lo [macChunk]uint64
	for start := 0; start < size; start += macChunk {
		end := min(start+macChunk, size)
		n := end - start
		for o := range dst {
			macChunkGroups(dst[o][start:end], src, c[o], nz[o], start, hi[:n], lo[:n], group, q, qInv)
		}
	}
}

func macChunkGroups(d []uint64, src [][]uint64, c []uint64, nz []int, start int, h, l []uint64, group int, q, qInv uint64) {
	n := len(l)
	for g := 0; g < len(nz); g += group {
		clear(h)
		clear(l)
		gEnd := min(g+group, len(nz))
		t := g
		// Four inputs per pass: the 128-bit accumulators are loaded and
		// stored once per four products; the group size keeps the running
		// sum below q·2⁶⁴.
		for ; t+4 <= gEnd; t += 4 {
			i0, i1, i2, i3 := nz[t], nz[t+1], nz[t+2], nz[t+3]
			c0, c1, c2, c3 := c[i0], c[i1], c[i2], c[i3]
			x0 := src[i0][start : start+n]
			x1 := src[i1][start : start+n]
			x2 := src[i2][start : start+n]
			x3 := src[i3][start : start+n]
			h := h[:n]
			for k := range l {
				var sh, sl, carry uint64
				ph, pl := bits.Mul64(x0[k], c0)
				sl, carry = bits.Add64(l[k], pl, 0)
				sh = h[k] + ph + carry
				ph, pl = bits.Mul64(x1[k], c1)
				sl, carry = bits.Add64(sl, pl, 0)
				sh += ph + carry
				ph, pl = bits.Mul64(x2[k], c2)
				sl, carry = bits.Add64(sl, pl, 0)
				sh += ph + carry
				ph, pl = bits.Mul64(x3[k], c3)
				sl, carry = bits.Add64(sl, pl, 0)
				sh += ph + carry
				l[k], h[k] = sl, sh
			}
		}
		for ; t < gEnd; t++ {
			ci := c[nz[t]]
			x := src[nz[t]][start : start+n]
			h := h[:n] // bounds check elimination hint
			for k := range l {
				ph, pl := bits.Mul64(x[k], ci)
				var carry uint64
				l[k], carry = bits.Add64(l[k], pl, 0)
				h[k] += ph + carry
			}
		}
		_ = d[n-1]
		for k := range l {
			// Montgomery reduction of h·2⁶⁴ + l < q·2⁶⁴.
			m := l[k] * qInv
			mh, _ := bits.Mul64(m, q)
			r := h[k] - mh + q
			if r >= q {
				r -= q
			}
			r += d[k]
			if r >= q {
				r -= q
			}
			d[k] = r
		}
	}
}
