package he

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// allocated returns the bytes allocated by f.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// craftedKeys returns the header of a key set for params claiming flags
// and nGal Galois keys, the first with element g at level, and no key
// material.
func craftedKeys(params Parameters, flags uint8, nGal uint32, g uint64, level uint8) []byte {
	var b bytes.Buffer
	e := &encoder{w: &b}
	e.header(kindKeys)
	params.encode(e)
	e.u8(flags)
	e.u32(nGal)
	e.u64(g)
	e.u8(level)
	return b.Bytes()
}

// TestReadEvaluationKeysFor: keys decoded against a plan are exactly the
// plan's; a client claiming more keys, keys of other elements or levels,
// or keys for other parameters, is refused before any key is allocated.
func TestReadEvaluationKeysFor(t *testing.T) {
	f := newFixture(t, Latency)
	keys, err := ReadEvaluationKeysFor(bytes.NewReader(marshal(f.keys)), f.plan)
	require.NoError(t, err)
	require.Equal(t, marshal(f.keys), marshal(keys))
	_, err = NewServer(f.plan, keys)
	require.NoError(t, err)

	// Keys made for the batch plan (no Galois key) do not fit the latency
	// plan, and the other way round.
	fb := newFixture(t, Batch)
	_, err = ReadEvaluationKeysFor(bytes.NewReader(marshal(fb.keys)), f.plan)
	require.ErrorIs(t, err, ErrMismatch)
	_, err = ReadEvaluationKeysFor(bytes.NewReader(marshal(f.keys)), fb.plan)
	require.ErrorIs(t, err, ErrMismatch)
	// Keys for other parameters.
	r := rand.New(rand.NewPCG(71, 72))
	other, err := Compile(randModel(t, r, []int{12, 6, 3}, []Activation{ActSquare, ActNone}), CompileOptions{Parameters: testParams(t, 11, 3)})
	require.NoError(t, err)
	_, err = ReadEvaluationKeysFor(bytes.NewReader(marshal(f.keys)), other)
	require.ErrorIs(t, err, ErrMismatch)

	params := f.plan.Parameters()
	g := f.plan.galEls[0]
	for name, blob := range map[string][]byte{
		"4096 Galois keys":      craftedKeys(params, 1, MaxGaloisKeys, g, 0),
		"unknown element":       craftedKeys(params, 1, uint32(len(f.plan.galEls)), 3, uint8(f.plan.galLevel[g])),
		"key at a higher level": craftedKeys(params, 1, uint32(len(f.plan.galEls)), g, uint8(params.Depth())),
		"no relinearization":    craftedKeys(params, 0, uint32(len(f.plan.galEls)), g, 0),
		"bootstrapping flag":    craftedKeys(params, 3, uint32(len(f.plan.galEls)), g, 0),
	} {
		var err error
		n := allocated(func() { _, err = ReadEvaluationKeysFor(bytes.NewReader(blob), f.plan) })
		require.Error(t, err, name)
		require.Less(t, n, uint64(64<<10), "%s: %d bytes allocated", name, n)
	}
}

// TestReadEvaluationKeysForLargeClaim: against a depth-15 PN15 plan that
// needs no Galois key, a stream claiming Galois keys at the top level
// makes the plan-less decoder build the rings and allocate a whole key
// (about 30 MB) before the stream runs out; the plan-bound decoder
// allocates almost nothing.
func TestReadEvaluationKeysForLargeClaim(t *testing.T) {
	r := rand.New(rand.NewPCG(73, 74))
	sizes := []int{8, 8, 8, 8, 8, 8, 8, 8, 2}
	acts := []Activation{ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActNone}
	m := randModel(t, r, sizes, acts)
	plan, err := Compile(m, CompileOptions{Mode: Batch})
	require.NoError(t, err)
	require.Equal(t, "PN15", plan.Parameters().Name())
	params := plan.Parameters()
	blob := craftedKeys(params, 0, 100, 5, uint8(params.Depth()))
	var errFor, errAny error
	nFor := allocated(func() { _, errFor = ReadEvaluationKeysFor(bytes.NewReader(blob), plan) })
	nAny := allocated(func() { _, errAny = ReadEvaluationKeys(bytes.NewReader(blob), Require128) })
	t.Logf("allocated: plan-bound %d bytes, plan-less %d bytes", nFor, nAny)
	require.ErrorIs(t, errFor, ErrMismatch)
	require.ErrorIs(t, errAny, ErrMalformed)
	require.Less(t, nFor, uint64(64<<10))
	require.Greater(t, nAny, uint64(20<<20))
}
