package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/transport"
)

// totalAlloc returns the bytes f allocates (runtime.MemStats.TotalAlloc,
// which only grows).
func totalAlloc(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// hostilePayload is a trained task's payload of about size bytes naming
// the shape head gives, with a model array of zeros that fills the rest.
func hostilePayload(head string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(head + `,"model":[0`)
	for b.Len() < size-200 {
		b.WriteString(",0")
	}
	b.WriteString(`],"clip":1,"scale":1000,"max_abs":1001,"local_lr":0.5,"local_epochs":1,"batch":2}`)
	return b.Bytes()
}

// TestHostilePayloadCostsLittleMemory: a malicious server's round
// payload of 8 MiB whose model array does not fit the shape it names and
// the round's secure sum is refused by the client (in Input, and in
// OnResult, which prints no accuracy) having allocated less than twice
// the payload: the shape is checked before the array is decoded, and the
// array is refused at its first parameter past the shape's, before
// anything is allocated for it.
func TestHostilePayloadCostsLittleMemory(t *testing.T) {
	const size = 8 << 20
	// A model as large as the payload allows, for the secure sum's
	// length: 1 parameter in 16 of the array's elements.
	features := size/paramBytes - 1
	for name, tc := range map[string]struct {
		payload []byte
		length  int
		want    string
	}{
		"small shape, long array": {hostilePayload(`{"task":"mlp","features":2,"hidden":2`, size), 10, "more than a mlp model of 2 features and 2 hidden units takes"},
		"shape of another length": {hostilePayload(`{"task":"mlp","features":2,"hidden":2`, size), 1 << 20, "has 9 parameters, the round's secure sum 1048576 coordinates"},
		"array past the shape":    {hostilePayload(fmt.Sprintf(`{"task":"logreg","features":%d`, features), size), features + 2, fmt.Sprintf("more than the %d parameters of its shape", features+1)},
		"legacy logreg":           {hostilePayload(`{"task":"logreg"`, size), features + 2, fmt.Sprintf("more than the %d parameters of its shape", features+1)},
	} {
		require.GreaterOrEqual(t, len(tc.payload), size-200, name)
		c := &clientTask{path: "shard.csv", stdout: io.Discard,
			shard: &labelledShard{path: "shard.csv", x: [][]float64{{1, 0}, {-1, 0.5}}, y: []int{1, 0}}}
		var err error
		alloc := totalAlloc(func() { _, err = c.input(context.Background(), 1, tc.payload, tc.length) })
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
		t.Logf("%s: input allocated %d bytes for a payload of %d", name, alloc, len(tc.payload))
		assert.Less(t, alloc, uint64(2*len(tc.payload)), "%s: input", name)

		var out bytes.Buffer
		c.stdout, c.length = &out, tc.length
		alloc = totalAlloc(func() { c.onResult(1, []int{0, 1}, tc.payload) })
		assert.Equal(t, "round 1: done, 2 clients in the sum\n", out.String(), name)
		assert.Less(t, alloc, uint64(2*len(tc.payload)), "%s: onResult", name)
	}
}

// TestHonestPayloadDecodes: a model the size of the round's secure sum
// decodes to the server's parameters, bit for bit, allocating less than
// twice its payload; a model one parameter short or long, or with an
// element that is not a number, is refused.
func TestHonestPayloadDecodes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	task := trainTask{Task: "mlp", Features: 100, Hidden: 1000, Clip: 1, Scale: 1000, MaxAbs: 1001, LocalLR: 0.5, LocalEpochs: 1, Batch: 2}
	task.Model = make([]float64, 1000*102+1)
	for i := range task.Model {
		task.Model[i] = r.NormFloat64() * 1e-3
	}
	payload, err := json.Marshal(&task)
	require.NoError(t, err)
	var got *trainTask
	var ok bool
	alloc := totalAlloc(func() { got, ok, err = decodeTrainTask(payload, len(task.Model)+1) })
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, task, *got)
	t.Logf("decoding a payload of %d bytes allocated %d", len(payload), alloc)
	assert.Less(t, alloc, uint64(2*len(payload)))

	model := func(m string) []byte {
		return fmt.Appendf(nil, `{"task":"logreg","features":2,"model":%s,"clip":1,"scale":1000,"max_abs":1001,"local_lr":0.5,"local_epochs":1,"batch":2}`, m)
	}
	for m, want := range map[string]string{
		"[0.5, -1,2e-3]":     "",
		" [ 0.5 , -1 , 2 ] ": "",
		"[0.5,-1]":           "has 3 parameters, the round's model 2",
		"[0.5,-1,2,3]":       "more than the 3 parameters of its shape",
		`[0.5,"x",2]`:        "parameter 1 of the model is not a number",
		"[0.5,[1],2]":        "parameter 1 of the model is not a number",
		"[0.5,-1,1e400]":     "parameter 2 of the model",
		`{"a":1}`:            "the model is not an array of numbers",
		"null":               "has 3 parameters, the round's model 0",
		"[]":                 "has 3 parameters, the round's model 0",
	} {
		got, ok, err := decodeTrainTask(model(m), 4)
		if want == "" {
			require.NoError(t, err, m)
			assert.True(t, ok, m)
			assert.Len(t, got.Model, 3, m)
			continue
		}
		assert.ErrorContains(t, err, want, m)
	}
	_, _, err = decodeTrainTask(model("[0.5,-1,2"), 4)
	assert.ErrorContains(t, err, "invalid character", "invalid JSON is refused before any decoding")
}

// TestMLPFlagsBoundedByDownload: --dim and --hidden that make an mlp
// larger than a client downloads are refused at the command line, naming
// both flags, before any model is allocated; the largest accepted shape's
// payload fits a client's default download limit.
func TestMLPFlagsBoundedByDownload(t *testing.T) {
	base := []string{"fed", "server", "--tls", t.TempDir(), "--clients", "3", "--rounds", "1", "--task", "mlp"}
	// With 4096 hidden units, 2045 features is the largest --dim
	// whose model (4096*(2045+2)+1 parameters) fits.
	edge := (maxParams-1)/maxHidden - 2
	for _, tc := range []struct {
		dim, hidden int
		ok          bool
	}{
		{maxFeatures, maxHidden, false},
		{edge + 1, maxHidden, false},
		{edge, maxHidden, true},
		{maxFeatures, 7, true},
	} {
		var out, errb bytes.Buffer
		args := append(slices.Clone(base), "--dim", fmt.Sprint(tc.dim), "--hidden", fmt.Sprint(tc.hidden))
		f, code := parseFedServer(args[2:], &errb)
		if tc.ok {
			require.NotNil(t, f, "%q: %s", args, errb.String())
			continue
		}
		require.Nil(t, f, "%q: the model would be allocated", args)
		assert.Equal(t, 2, code)
		assert.Equal(t, 2, run(args, &out, &errb), "%q", args)
		assert.Contains(t, errb.String(), fmt.Sprintf("--dim %d and --hidden %d make an mlp of %d parameters", tc.dim, tc.hidden, tc.hidden*(tc.dim+2)+1), "%q", args)
	}
	assert.LessOrEqual(t, paramBytes*maxParams+payloadSlack, transport.DefaultMaxDownloadSize)
	assert.Equal(t, 8388480, maxParams, "examples/federated-grpc/README.md states the bound")

	// newTrainServer checks the shape before it allocates the model, for
	// flags that did not come from the command line.
	f, code := parseFedServer([]string{"--tls", "x", "--clients", "3", "--rounds", "1", "--task", "mlp", "--dim", "2"}, io.Discard)
	require.NotNil(t, f, "exit %d", code)
	f.dim, f.hidden = 4096, 4096 // 16.8 million parameters, 134 MB
	var err error
	alloc := totalAlloc(func() { _, err = newTrainServer(f, nil) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mlp model of 4096 features and 4096 hidden units has 16785409 parameters, more than the")
	assert.Less(t, alloc, uint64(1<<20), "the model was allocated before its shape was checked")
}

// TestRefusedCheckpointKeepsEpoch: a server started with the --state of
// the same task but another model shape is refused without touching the
// checkpoint: its start count (epoch), round and state are as they were;
// the right shape's start advances the epoch.
func TestRefusedCheckpointKeepsEpoch(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	require.NoError(t, os.MkdirAll(state, 0o700))
	path := filepath.Join(state, checkpointFile)
	base := []string{"fed", "server", "--tls", filepath.Join(dir, "tls"), "--clients", "2", "--rounds", "3", "--task", "mlp", "--state", state}
	saved := mlpState(t, 2, 8)
	for name, args := range map[string][]string{
		"other hidden": {"--dim", "2", "--hidden", "4"},
		"other dim":    {"--dim", "3", "--hidden", "8"},
		"other noise":  {"--dim", "2", "--hidden", "8", "--noise", "1"},
	} {
		for _, round := range []uint64{1, 3} {
			require.NoError(t, transport.WriteCheckpoint(path, &transport.Checkpoint{Round: round, Epoch: 5, State: saved}))
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			var out, errb bytes.Buffer
			assert.Equal(t, 1, run(append(slices.Clone(base), args...), &out, &errb), "%s, round %d", name, round)
			assert.Contains(t, errb.String(), path, name)
			assert.True(t, strings.Contains(errb.String(), "restart with"), "%s: %s", name, errb.String())
			ck, err := transport.ReadCheckpoint(path)
			require.NoError(t, err)
			assert.Equal(t, uint32(5), ck.Epoch, "%s, round %d: the refused start advanced the epoch", name, round)
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, before, after, "%s, round %d: the checkpoint file changed", name, round)
		}
	}
	require.NoError(t, transport.WriteCheckpoint(path, &transport.Checkpoint{Round: 3, Epoch: 5, State: saved}))
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(append(slices.Clone(base), "--dim", "2", "--hidden", "8"), &out, &errb), errb.String())
	ck, err := transport.ReadCheckpoint(path)
	require.NoError(t, err)
	assert.Equal(t, uint32(6), ck.Epoch)
}
