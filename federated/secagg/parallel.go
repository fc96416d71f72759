package secagg

import (
	"crypto/ecdh"
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/privml/privml/internal/prg"
	"github.com/privml/privml/internal/vec"
)

// The server's heavy work runs on every core the Go runtime offers
// (GOMAXPROCS): removing the masks (one AES-CTR expansion per survivor's
// self mask and per (dropped client, surviving neighbour) pair), deriving
// the dropped clients' pairwise seeds (one X25519 agreement each), and
// adding each masked input into the running sum. Everything is modular
// addition in Z_{2^B}, which is commutative and associative, so the order
// in which workers apply their parts does not change one bit of the
// result: any number of workers gives the sequential result exactly.
//
// Masks are applied piece by piece rather than mask by mask: the
// accumulator is cut into pieces of pieceBytes, each worker takes the next
// piece not yet done and adds every queued mask to it (CTR mode lets
// prg.Mask start a mask's keystream at any element), so a piece stays in
// the core's cache while all masks go through it, and no worker needs a
// vector of its own.

// pieceBytes is the size of the piece of the accumulator one worker keeps
// in cache while it adds every queued mask to it: large enough that
// setting up a mask's counter stream at the piece's offset (about 0.4 µs)
// is small beside expanding it (about 20 µs for 128 KiB), small enough to
// stay in a core's L2 cache and to share a 4 MB vector among the workers
// evenly (BenchmarkMaskBlocks in internal/prg: 8 KiB to 512 KiB pieces
// cost the same per mask within the noise, and with 32 KiB pieces a CPU
// profile of the 1000-client session put 0.11 s of the server's 1.43 s of
// AES in counter set-up). A variable so that tests can cut small vectors
// into many pieces.
var pieceBytes = 128 << 10

// maskBatch bounds the masks queued (as AES key schedules, about 0.5 KB
// each) before they are applied, and so the memory of unmasking, whatever
// the number of dropped clients. A variable for the tests.
var maskBatch = 4096

// minRange is the number of elements of a masked input a worker adds at a
// time: enough to dwarf the cost of taking it, few enough that a worker
// the operating system pauses holds up little.
var minRange = 1 << 16

// workers is the number of goroutines the server's parallel steps use.
func workers() int { return runtime.GOMAXPROCS(0) }

// parallel calls f(i) for every i in [0, n), on up to workers() goroutines
// (the caller's included), each taking the next i not yet taken, and
// returns when every call has returned. It waits for the calls, not for
// the helper goroutines: a helper that the operating system has not yet
// scheduled (on a loaded machine) takes no index and costs the caller
// nothing; it finds none left when it runs, and exits.
func parallel(n int, f func(i int)) {
	w := min(workers(), n)
	if w <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next, done atomic.Int64
	finished := make(chan struct{})
	loop := func() {
		for {
			i := next.Add(1) - 1
			if i >= int64(n) {
				return
			}
			f(int(i))
			if done.Add(1) == int64(n) {
				close(finished)
			}
		}
	}
	for range w - 1 {
		go loop()
	}
	loop()
	<-finished
}

// queuedMask is a mask to remove from the accumulator: subtracted if sub,
// added otherwise.
type queuedMask struct {
	m   *prg.Mask
	sub bool
}

// unmasker removes the masks the server reconstructed from its
// accumulator, in batches of at most maskBatch masks applied in parallel.
type unmasker struct {
	s     *Server
	masks []queuedMask
}

func (s *Server) newUnmasker() *unmasker { return &unmasker{s: s} }

// self queues the removal of a survivor's self mask, which it added.
func (u *unmasker) self(seed *[32]byte) { u.queue(seed, true) }

// queue queues the mask of seed, to subtract if sub and to add otherwise.
func (u *unmasker) queue(seed *[32]byte, sub bool) {
	u.push(queuedMask{prg.NewMask(seed), sub})
}

// push queues masks, applying the queue whenever it holds maskBatch.
func (u *unmasker) push(ms ...queuedMask) {
	for len(ms) > 0 {
		k := min(len(ms), maskBatch-len(u.masks))
		u.masks = append(u.masks, ms[:k]...)
		ms = ms[k:]
		if len(u.masks) >= maskBatch {
			u.apply()
		}
	}
}

// pairwise queues the removal of the pairwise masks between the dropped
// client d, whose mask private key is sk, and its surviving neighbours
// peers: v added +PRG(seed) if v < d and -PRG(seed) otherwise. The seeds
// (one X25519 agreement each) are derived in parallel; the first peer, in
// the order given, whose key fails the agreement is reported as the
// sequential loop would.
func (u *unmasker) pairwise(sk *ecdh.PrivateKey, d int, peers []int) error {
	s := u.s
	ms := make([]queuedMask, len(peers))
	bad := make([]bool, len(peers))
	parallel(len(peers), func(i int) {
		v := peers[i]
		seed, err := maskSeed(sk, s.adverts[v].MaskKey[:], &s.session, d, v)
		if err != nil {
			bad[i] = true
			return
		}
		ms[i] = queuedMask{prg.NewMask(&seed), v < d}
		clear(seed[:])
	})
	for i, v := range peers {
		if bad[i] {
			return errorf(v, RoundUnmask, ErrProtocol, "mask key of client %d is invalid", v)
		}
	}
	u.push(ms...)
	return nil
}

// apply removes every queued mask from the accumulator: the workers take
// its pieces one at a time and add or subtract every mask over each.
func (u *unmasker) apply() {
	if len(u.masks) == 0 {
		return
	}
	acc, masks := &u.s.acc, u.masks
	if acc.w32 != nil {
		applyPieces(acc.w32, 4, masks, func(q queuedMask, dst []uint32, off int) {
			if q.sub {
				q.m.SubMod32At(dst, off, acc.bits)
			} else {
				q.m.AddMod32At(dst, off, acc.bits)
			}
		})
	} else {
		applyPieces(acc.w64, 8, masks, func(q queuedMask, dst []uint64, off int) {
			if q.sub {
				q.m.SubMod64At(dst, off, acc.bits)
			} else {
				q.m.AddMod64At(dst, off, acc.bits)
			}
		})
	}
	clear(u.masks)
	u.masks = u.masks[:0]
}

func applyPieces[W uint32 | uint64](acc []W, wordBytes int, masks []queuedMask, op func(queuedMask, []W, int)) {
	piece := max(pieceBytes/wordBytes, 1)
	pieces := (len(acc) + piece - 1) / piece
	parallel(pieces, func(i int) {
		lo := i * piece
		dst := acc[lo:min(lo+piece, len(acc))]
		for _, q := range masks {
			op(q, dst, lo)
		}
	})
}

// addPackedParallel is addPacked with the vector cut into ranges of
// minRange elements (a multiple of 8, so that each starts on a byte of
// src) that the workers take one at a time. The length and the padding
// bits are checked first: if src is refused, v is unchanged.
func (v *vector) addPackedParallel(src []byte, scratch *vector) error {
	n, b := v.len(), int(v.bits)
	if len(src) != packedLen(v.bits, n) {
		return errPacking
	}
	if r := (n * b) % 8; r != 0 && src[len(src)-1]>>r != 0 {
		return errPacking
	}
	per := max(minRange&^7, 8)
	parts := (n + per - 1) / per
	if parts <= 1 || workers() <= 1 {
		return v.addPacked(src, scratch)
	}
	var failed atomic.Bool
	parallel(parts, func(i int) {
		lo, hi := i*per, min((i+1)*per, n)
		sv, ss := v.sub(lo, hi), scratch.sub(lo, hi)
		off := lo * b / 8
		if sv.addPacked(src[off:off+packedLen(v.bits, hi-lo)], &ss) != nil {
			failed.Store(true) // cannot happen: length and padding were checked
		}
	})
	if failed.Load() {
		return errPacking
	}
	return nil
}

// sub returns the elements lo to hi-1 of v, sharing its storage; the
// empty vector (a scratch vector never allocated) gives itself.
func (v *vector) sub(lo, hi int) vector {
	switch {
	case v.w32 != nil:
		return vector{bits: v.bits, w32: v.w32[lo:hi]}
	case v.w64 != nil:
		return vector{bits: v.bits, w64: v.w64[lo:hi]}
	}
	return *v
}

// littleEndian reports whether the machine stores words little-endian, in
// which case packed 32-bit elements are already machine words.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// unalignedWords reports whether the machine loads a word from any byte
// address (amd64 and arm64 do, and internal/vec's kernels use unaligned
// loads), so that packed 32-bit elements can be read in place wherever
// the message puts them.
const unalignedWords = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

// addLE32 adds the little-endian 32-bit words of src, 4*len(dst) bytes,
// to dst modulo 2^32, with the vector kernel of internal/vec. On a
// little-endian machine that loads unaligned words it reads src in place
// (a masked input is memory-bound: a copy would add a third of its cost);
// elsewhere it copies src a chunk at a time into an aligned buffer.
func addLE32(dst []uint32, src []byte) {
	if len(dst) == 0 {
		return
	}
	_ = src[4*len(dst)-1]
	if !littleEndian {
		for i := range dst {
			dst[i] += binary.LittleEndian.Uint32(src[4*i:])
		}
		return
	}
	if unalignedWords {
		// #nosec G103 -- views the 4*len(dst) bytes of src (bounds checked above) as words; the machine loads them at any alignment and uint32 holds no pointers.
		vec.AddMod32(dst, unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(src))), len(dst)), 32)
		return
	}
	var buf [2048]uint32
	// #nosec G103 -- views the aligned buffer's bytes; the slice does not outlive buf.
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 4*len(buf))
	for len(dst) > 0 {
		k := min(len(dst), len(buf))
		copy(raw, src[:4*k])
		vec.AddMod32(dst[:k], buf[:k], 32)
		dst, src = dst[k:], src[4*k:]
	}
}
