package kanon

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/privml/privml/anonymize"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var sampleRows = [][]string{{"39", "State-gov", ""}, {"50", "a,b \"q\"", "x\ny"}, {"39", "é", "z"}, {"7", "é", ""}}

func sampleBatch() *Batch {
	bb := newBatchBuilder(3, 4)
	for i, row := range sampleRows {
		bb.add(func(j int) string { return row[j] })
		bb.b.Pos = append(bb.b.Pos, pos(i%2, 3-i))
	}
	return bb.b
}

func rowsOf(b *Batch) [][]string {
	var out [][]string
	for i := range b.N {
		row := make([]string, b.Cols)
		for j, c := range b.Codes[i*b.Cols : (i+1)*b.Cols] {
			row[j] = b.Dict[j][c]
		}
		out = append(out, row)
	}
	return out
}

func TestBatchRoundTrip(t *testing.T) {
	b := sampleBatch()
	assert.Equal(t, []string{"39", "50", "7"}, b.Dict[0], "each value once, in order of first appearance")
	enc, err := encBatch(b)
	require.NoError(t, err)
	got, err := decBatch(enc)
	require.NoError(t, err)
	assert.Equal(t, b, got)
	assert.Equal(t, sampleRows, rowsOf(got))
	// Every strict prefix lacks a value: an error.
	for i := range enc {
		_, err := decBatch(enc[:i])
		assert.Error(t, err, "prefix of %d bytes", i)
	}
	_, err = decBatch(append(enc, 0))
	require.ErrorIs(t, err, errBadBatch, "a trailing byte")

	// A code outside its dictionary, and fewer positions than rows, are
	// refused.
	bad := *b
	bad.Codes = append([]uint32{}, b.Codes...)
	bad.Codes[4] = 9
	enc, err = encBatch(&bad)
	require.NoError(t, err)
	_, err = decBatch(enc)
	require.ErrorIs(t, err, errBadBatch)
	bad = *b
	bad.Pos = b.Pos[:2]
	enc, err = encBatch(&bad)
	require.NoError(t, err)
	_, err = decBatch(enc)
	require.ErrorIs(t, err, errBadBatch)
}

// TestSplitter: each partition's batch holds its own rows, in order,
// with only the dictionary entries they use.
func TestSplitter(t *testing.T) {
	b := sampleBatch()
	lo, hi := &node{id: "0"}, &node{id: "1"}
	sp := splitter{src: b}
	for i, n := range []*node{hi, lo, hi, lo} {
		sp.add(n, i)
	}
	got := map[string]*Batch{}
	var order []string
	sp.emit(func(id string, b *Batch) { got[id] = b; order = append(order, id) })
	assert.Equal(t, []string{"1", "0"}, order)
	require.NoError(t, got["1"].check())
	require.NoError(t, got["0"].check())
	assert.Equal(t, [][]string{sampleRows[0], sampleRows[2]}, rowsOf(got["1"]))
	assert.Equal(t, [][]string{sampleRows[1], sampleRows[3]}, rowsOf(got["0"]))
	assert.Equal(t, []string{"39"}, got["1"].Dict[0])
}

func TestKeyBatchRoundTrip(t *testing.T) {
	for _, kb := range []*KeyBatch{
		{N: 2, D: 3, Ranks: []int32{0, 5, 70000, 1, 2, 3}, Sens: []int32{1, 0}},
		{N: 2, D: 1, Ranks: []int32{4, 9}},
		{N: 0, D: 2, Ranks: []int32{}},
	} {
		enc, err := encKeyBatch(kb)
		require.NoError(t, err)
		got, err := decKeyBatch(enc)
		require.NoError(t, err)
		assert.Equal(t, kb.N, got.N)
		assert.Equal(t, kb.D, got.D)
		assert.Equal(t, kb.Ranks, got.Ranks)
		assert.Equal(t, kb.Sens, got.Sens)
		// Every strict prefix lacks a value: an error.
		for i := range enc {
			_, err := decKeyBatch(enc[:i])
			assert.Error(t, err, "prefix of %d bytes", i)
		}
		_, err = decKeyBatch(append(enc, 0))
		assert.ErrorIs(t, err, errBadBatch, "a trailing byte")
	}
	// A row count that the bytes cannot hold does not allocate it.
	_, err := decKeyBatch([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 0})
	require.ErrorIs(t, err, errBadBatch)
}

func TestHistAndClassAccRoundTrip(t *testing.T) {
	h := &histAcc{N: 12, C: map[uint64]int64{ckey(0, 3): 5, ckey(7, 0): 7}, S: map[uint64]int64{skey(2, 1, 1): 12}}
	enc, err := encHistAcc(h)
	require.NoError(t, err)
	got, err := decHistAcc(enc)
	require.NoError(t, err)
	assert.Equal(t, h, got)
	for i := range enc {
		_, err := decHistAcc(enc[:i])
		assert.Error(t, err, "prefix of %d bytes", i)
	}

	c := &classAcc{N: 9, Sens: map[string]int64{"<=50K": 4, ">50K": 5, "": 0}}
	encC, err := encClassAcc(c)
	require.NoError(t, err)
	gotC, err := decClassAcc(encC)
	require.NoError(t, err)
	assert.Equal(t, c, gotC)
	for i := range encC {
		_, err := decClassAcc(encC[:i])
		assert.Error(t, err, "prefix of %d bytes", i)
	}
}

// FuzzDecoders: any bytes either decode, and then survive a round trip,
// or are refused with an error; never a panic or an allocation larger
// than the input allows.
func FuzzDecoders(f *testing.F) {
	b, _ := encBatch(sampleBatch())
	kb, _ := encKeyBatch(&KeyBatch{N: 2, D: 2, Ranks: []int32{1, 2, 3, 4}, Sens: []int32{0, 1}})
	h, _ := encHistAcc(&histAcc{N: 3, C: map[uint64]int64{1: 3}, S: map[uint64]int64{}})
	c, _ := encClassAcc(&classAcc{N: 2, Sens: map[string]int64{"a": 2}})
	for _, s := range [][]byte{b, kb, h, c, {}, {0}, {1, 1, 0}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if b, err := decBatch(in); err == nil {
			require.NoError(t, b.check())
			_ = rowsOf(b)
			enc, err := encBatch(b)
			require.NoError(t, err)
			again, err := decBatch(enc)
			require.NoError(t, err)
			require.Equal(t, b, again)
		}
		if kb, err := decKeyBatch(in); err == nil {
			require.Len(t, kb.Ranks, kb.N*kb.D)
			enc, err := encKeyBatch(kb)
			require.NoError(t, err)
			again, err := decKeyBatch(enc)
			require.NoError(t, err)
			require.Equal(t, kb, again)
		}
		if h, err := decHistAcc(in); err == nil {
			enc, err := encHistAcc(h)
			require.NoError(t, err)
			again, err := decHistAcc(enc)
			require.NoError(t, err)
			require.Equal(t, h, again)
		}
		if c, err := decClassAcc(in); err == nil {
			enc, err := encClassAcc(c)
			require.NoError(t, err)
			again, err := decClassAcc(enc)
			require.NoError(t, err)
			require.Equal(t, c, again)
		}
	})
}

// TestCSVRows counts rows as encoding/csv reads them back, quoted line
// breaks included.
func TestCSVRows(t *testing.T) {
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	rows := [][]string{{"a", "b"}, {"x\ny", "\"q\"\n"}, {"", "z"}, {"\n\n", "\""}}
	require.NoError(t, w.WriteAll(rows))
	text := strings.TrimSuffix(sb.String(), "\n")
	back, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	require.NoError(t, err)
	require.Len(t, back, len(rows))
	assert.Equal(t, int64(len(rows)), csvRows(text))
	assert.Equal(t, int64(1), csvRows("one,line"))
}

// TestTree: rows go down the cuts to the partition Mondrian would put
// them in; a partition decided not to be cut is marked done, one not yet
// decided is not.
func TestTree(t *testing.T) {
	cuts := []Cut{{Part: "", Split: true, Q: 0, At: 4}, {Part: "0", Split: true, Q: 1, At: 1}, {Part: "1"}, {Part: "00"}}
	it := func() func(*Cut) bool {
		i := 0
		return func(c *Cut) bool {
			if i == len(cuts) {
				return false
			}
			*c = cuts[i]
			i++
			return true
		}
	}
	root := buildTree(it())
	for _, c := range []struct {
		ranks []int32
		id    string
		done  bool
	}{
		{[]int32{4, 1}, "00", true}, {[]int32{0, 2}, "01", false}, {[]int32{5, 0}, "1", true}, {[]int32{9, 9}, "1", true},
	} {
		n := root.leaf(c.ranks)
		assert.Equal(t, c.id, n.id, "%v", c.ranks)
		assert.Equal(t, c.done, n.done, "%v", c.ranks)
	}
	assert.Equal(t, "", buildTree(func(*Cut) bool { return false }).leaf([]int32{3}).id, "no cut: the root")
}

// TestSmallBatches: batches of 37 rows, so that every batch spreads over
// several partitions and partitions gather rows of many batches; the
// release still equals anonymize.Mondrian's on the same rows.
func TestSmallBatches(t *testing.T) {
	old := batchRows
	batchRows = 37
	t.Cleanup(func() { batchRows = old })
	lines := readLines(t, "../../anonymize/testdata/adult_1000.data")
	cfg := adultConfig(5)
	cfg.Levels, cfg.LocalThreshold = 6, 60
	files := shard(t, t.TempDir(), lines, 4, "")
	r, err := run(t, cfg, files)
	require.NoError(t, err)
	checkRelease(t, r, local(t, cfg, lines, nil, nil, anonymize.BestCut), 5)
}
