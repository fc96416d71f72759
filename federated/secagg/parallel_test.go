package secagg

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withSmallPieces makes the parallel steps cut small test vectors into
// many pieces, batches and ranges, and restores the defaults afterwards.
func withSmallPieces(t testing.TB, piece, batch, rng int) {
	t.Helper()
	p, b, r := pieceBytes, maskBatch, minRange
	pieceBytes, maskBatch, minRange = piece, batch, rng
	t.Cleanup(func() { pieceBytes, maskBatch, minRange = p, b, r })
}

// withProcs sets GOMAXPROCS for the rest of the test.
func withProcs(t testing.TB, n int) {
	t.Helper()
	old := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

func randomVector(r *rand.Rand, bits uint, n int) vector {
	v := newVector(bits, n)
	x := make([]int64, n)
	for i := range x {
		x[i] = int64(r.Uint64())
	}
	v.setSigned(x)
	return v
}

func vectorWords(v *vector) []uint64 {
	out := make([]uint64, v.len())
	for i := range out {
		if v.w32 != nil {
			out[i] = uint64(v.w32[i])
		} else {
			out[i] = v.w64[i]
		}
	}
	return out
}

var parallelWidths = []uint{8, 16, 20, 31, 32, 33, 62}

// TestUnmaskerMatchesSequential removes the same masks from the same
// vector with the sequential expansions (whole vector, one mask after
// the other, as the server did before it was parallel) and with the
// unmasker, at 1, 2 and 3 workers and several piece and batch sizes: the
// results must be bit-identical.
func TestUnmaskerMatchesSequential(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, bits := range parallelWidths {
		for _, n := range []int{1, 7, 1000, 4099} {
			for _, procs := range []int{1, 2, 3} {
				for _, cut := range []struct{ piece, batch int }{{64, 3}, {1 << 10, 5}, {128 << 10, 4096}} {
					name := fmt.Sprintf("bits=%d/n=%d/procs=%d/piece=%d/batch=%d", bits, n, procs, cut.piece, cut.batch)
					t.Run(name, func(t *testing.T) {
						withProcs(t, procs)
						withSmallPieces(t, cut.piece, cut.batch, minRange)
						start := randomVector(r, bits, n)
						seeds := make([][32]byte, 11)
						subs := make([]bool, len(seeds))
						for i := range seeds {
							seeds[i] = sha256.Sum256(fmt.Appendf(nil, "%s/%d", name, i))
							subs[i] = r.IntN(2) == 0
						}
						want := randomVector(r, bits, n)
						want.wipe()
						want.add(&start)
						for i := range seeds {
							if subs[i] {
								want.subMask(&seeds[i])
							} else {
								want.addMask(&seeds[i])
							}
						}
						srv := &Server{serverState: serverState{acc: newVector(bits, n)}}
						srv.acc.add(&start)
						u := srv.newUnmasker()
						for i := range seeds {
							u.queue(&seeds[i], subs[i])
						}
						u.apply()
						require.Equal(t, vectorWords(&want), vectorWords(&srv.acc))
						assert.Empty(t, u.masks)
					})
				}
			}
		}
	}
}

// TestAddPackedParallelMatchesSequential adds packed vectors with the
// sequential addPacked and with addPackedParallel (ranges down to 8
// elements, 1 to 3 workers), the packed bytes starting at every alignment:
// the sums must be bit-identical.
func TestAddPackedParallelMatchesSequential(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, bits := range parallelWidths {
		for _, n := range []int{1, 8, 9, 100, 1003} {
			for _, procs := range []int{1, 2, 3} {
				for _, shift := range []int{0, 1, 3} {
					t.Run(fmt.Sprintf("bits=%d/n=%d/procs=%d/shift=%d", bits, n, procs, shift), func(t *testing.T) {
						withProcs(t, procs)
						withSmallPieces(t, pieceBytes, maskBatch, 8)
						acc := randomVector(r, bits, n)
						in := randomVector(r, bits, n)
						src := in.appendPacked(make([]byte, shift))[shift:]
						want, got := newVector(bits, n), newVector(bits, n)
						want.add(&acc)
						got.add(&acc)
						s1, s2 := newVector(bits, n), newVector(bits, n)
						require.NoError(t, want.addPacked(src, &s1))
						require.NoError(t, got.addPackedParallel(src, &s2))
						require.Equal(t, vectorWords(&want), vectorWords(&got))
						sum := newVector(bits, n)
						sum.add(&acc)
						sum.add(&in)
						require.Equal(t, vectorWords(&sum), vectorWords(&got), "sum is not acc + input")
					})
				}
			}
		}
	}
}

// TestAddPackedParallelRefusesBadEncodings checks that a wrong length or
// non-zero padding bits are refused and leave the accumulator unchanged,
// whatever the number of workers.
func TestAddPackedParallelRefusesBadEncodings(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	withSmallPieces(t, pieceBytes, maskBatch, 8)
	for _, procs := range []int{1, 2} {
		withProcs(t, procs)
		for _, bits := range []uint{20, 33, 62} {
			const n = 101 // n*bits is not a multiple of 8: the last byte has padding
			acc := randomVector(r, bits, n)
			before := vectorWords(&acc)
			in := randomVector(r, bits, n)
			src := in.appendPacked(nil)
			scratch := newVector(bits, n)
			bad := append([]byte(nil), src...)
			bad[len(bad)-1] |= 0x80
			assert.ErrorIs(t, acc.addPackedParallel(bad, &scratch), errPacking, "bits=%d padding", bits)
			assert.ErrorIs(t, acc.addPackedParallel(src[:len(src)-1], &scratch), errPacking, "bits=%d short", bits)
			assert.ErrorIs(t, acc.addPackedParallel(append(src, 0), &scratch), errPacking, "bits=%d long", bits)
			assert.Equal(t, before, vectorWords(&acc), "bits=%d: refused input changed the sum", bits)
		}
	}
}

// TestParallelCallsEveryIndexOnce checks the work distribution itself.
func TestParallelCallsEveryIndexOnce(t *testing.T) {
	for _, procs := range []int{1, 2, 5} {
		withProcs(t, procs)
		for _, n := range []int{0, 1, 2, 3, 100} {
			hits := make([]int32, n)
			parallel(n, func(i int) { hits[i]++ })
			for i, h := range hits {
				require.EqualValues(t, 1, h, "procs=%d n=%d index %d", procs, n, i)
			}
		}
	}
}
