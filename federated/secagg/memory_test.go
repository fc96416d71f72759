package secagg

import (
	"runtime"
	"testing"
)

// TestServerMemoryIsOrderD checks that the server folds each masked input
// into its running sum instead of keeping it: what it retains after n
// masked inputs of D elements stays near one vector, not n.
func TestServerMemoryIsOrderD(t *testing.T) {
	const n, d = 24, 200_000
	st := newStage(t, Config{NumClients: n, Dim: d, Bits: 32, DropoutRate: 0.1}, RoundMaskedInput)
	msgs := make([]*MaskedInput, n)
	x := make([]int64, d)
	for i, c := range st.clients {
		m, err := c.MaskInput(st.bundles[i], x)
		must(t, err)
		msgs[i] = m
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for _, m := range msgs {
		must(t, st.srv.HandleMaskedInput(m))
	}
	grew := int64(heap()) - int64(before)
	vec := int64(4 * d)
	if grew > 3*vec {
		t.Fatalf("server retained %d bytes after %d masked inputs of %d bytes each; want O(one vector)", grew, n, vec)
	}
	runtime.KeepAlive(msgs)
	runtime.KeepAlive(st)
}
