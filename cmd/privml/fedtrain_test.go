package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated"
	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/internal/fedmodels"
	"github.com/privml/privml/internal/mtls"
)

// logRegSetup writes the PKI and n labelled CSV shards (two features, the
// label 1 when x1 + 0.5*x2 > 0.2), and returns every row for evaluation.
func logRegSetup(t *testing.T, dir string, n, rows int) *labelledShard {
	require.NoError(t, mtls.WriteDevPKI(filepath.Join(dir, "tls"), mtls.DevPKI{Clients: n}))
	all := &labelledShard{}
	for id := range n {
		var b strings.Builder
		b.WriteString("x1,x2,y\n")
		for r := range rows {
			// A fixed low-discrepancy sequence in [-2, 2]^2.
			k := float64(id*rows + r + 1)
			x1 := 4*math.Mod(k*0.6180339887, 1) - 2
			x2 := 4*math.Mod(k*0.7548776662, 1) - 2
			y := 0
			if x1+0.5*x2 > 0.2 {
				y = 1
			}
			fmt.Fprintf(&b, "%.6f,%.6f,%d\n", x1, x2, y)
		}
		path := filepath.Join(dir, fmt.Sprintf("shard-%d.csv", id))
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
		sh, err := readLabelled(path)
		require.NoError(t, err)
		all.x, all.y = append(all.x, sh.x...), append(all.y, sh.y...)
	}
	return all
}

// TestMultiProcessLogReg trains the logistic-regression task across one
// server and 5 client processes with client-level DP noise, kills the
// server (SIGKILL) after round 2 of 4 and restarts it from its
// checkpoint: the model and the accountant's state carry over (epsilon
// after round 3 is that of 3 rounds, never reset), and the final model
// classifies the pooled data well.
func TestMultiProcessLogReg(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const n, rounds, z, delta = 5, 4, 0.3, 1e-5
	p := newProcs(t)
	all := logRegSetup(t, p.dir, n, 40)
	addr := freeAddr(t)
	state := filepath.Join(p.dir, "state")
	args := []string{"--task", "logreg", "--noise", fmt.Sprint(z), "--delta", fmt.Sprint(delta), "--state", state, "--dropout", "0.3"}
	srv := p.server(addr, n, 2, rounds, args...)
	lines := readRounds(t, srv)
	p.run(srv)
	clients := make([]*exec.Cmd, n)
	for id := range n {
		clients[id] = p.client(addr, id)
		p.run(clients[id])
	}
	check := func(l fedRoundLine, r uint64) {
		t.Helper()
		require.Empty(t, l.Error)
		assert.Equal(t, r, l.Round)
		assert.Len(t, l.Survivors, n)
		require.NotNil(t, l.Epsilon)
		want, err := federated.Epsilon(1, z, int(r), delta)
		require.NoError(t, err)
		assert.InDelta(t, want, *l.Epsilon, 1e-9*want, "epsilon after round %d", r)
		require.Len(t, l.Model, 3)
	}
	var last fedRoundLine
	for r := uint64(1); r <= 2; r++ {
		last = next(t, lines, 40*time.Second)
		check(last, r)
	}
	require.NoError(t, srv.Process.Signal(syscall.SIGKILL))
	_ = srv.Wait()
	ck, err := transport.ReadCheckpoint(filepath.Join(state, checkpointFile))
	require.NoError(t, err)
	var saved trainTask
	require.NoError(t, json.Unmarshal(ck.State, &saved))
	assert.Equal(t, 2, saved.DPRounds)
	assert.Equal(t, last.Model, saved.Model)

	srv2 := p.server(addr, n, 2, rounds, args...)
	lines2 := readRounds(t, srv2)
	p.run(srv2)
	for r := uint64(3); r <= rounds; r++ {
		last = next(t, lines2, 40*time.Second)
		check(last, r)
	}
	require.NoError(t, srv2.Wait())
	for id, c := range clients {
		assert.NoError(t, c.Wait(), "client %d", id)
	}
	// The pooled data are separable by x1 + 0.5*x2 = 0.2; four noisy
	// rounds of one local epoch reach well above chance (half the rows);
	// the noise on the mean update is 0.06 per coordinate (0.3 x clip 1 / 5
	// clients), small against the steps.
	acc := all.accuracy(fedmodels.LogReg{D: 2}, last.Model)
	t.Logf("model %v, accuracy %.3f on %d rows", last.Model, acc, len(all.x))
	assert.Greater(t, acc, 0.85, "model %v", last.Model)
	ck, err = transport.ReadCheckpoint(filepath.Join(state, checkpointFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(ck.State, &saved))
	assert.Equal(t, rounds, saved.DPRounds)
}

// TestReadLabelledRefusesBadRows: a label other than 0/1, a non-finite
// value, or a file without a label column is refused with its place.
func TestReadLabelledRefusesBadRows(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ body, want string }{
		"label 2":     {"a,y\n1,2\n", `line 2, label column "y"`},
		"inf":         {"a,y\n+Inf,1\n", `line 2, column "a"`},
		"one column":  {"y\n1\n", "found 1 columns"},
		"no rows":     {"a,y\n", "no rows"},
		"short row":   {"a,b,y\n1,0\n", "wrong number of fields"},
		"not numeric": {"a,y\n1,0\nx,1\n", `line 3, column "a"`},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".csv")
		require.NoError(t, os.WriteFile(path, []byte(tc.body), 0o600))
		_, err := readLabelled(path)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.Contains(t, err.Error(), path, name)
	}
}

// FuzzTrainTask decodes arbitrary round payloads and trains on them: a
// payload is refused or trained on, never a panic, and an update always
// has the length the round asks for, within the codec's bound.
func FuzzTrainTask(f *testing.F) {
	good, _ := json.Marshal(&trainTask{Task: "logreg", Model: []float64{0.1, -0.2, 0}, Clip: 1, Scale: 1000, MaxAbs: 1001,
		LocalLR: 0.5, LocalEpochs: 1, Batch: 2})
	f.Add(good, 4)
	mlp, _ := json.Marshal(&trainTask{Task: "mlp", Features: 2, Hidden: 2, Model: []float64{0.1, -0.2, 0.3, 0, 0, 0, 0.5, -0.5, 0}, Clip: 1, Scale: 1000, MaxAbs: 1001,
		LocalLR: 0.5, LocalEpochs: 1, Batch: 2})
	f.Add(mlp, 10)
	f.Add([]byte(`{"task":"logreg","model":[],"clip":1,"scale":1,"max_abs":1,"local_lr":1,"local_epochs":1,"batch":1}`), 1)
	f.Add([]byte(`{"task":"mean"}`), 3)
	f.Add([]byte(`{`), 3)
	sh := &labelledShard{x: [][]float64{{1, 0}, {-1, 0.5}, {0.3, -2}}, y: []int{1, 0, 1}}
	f.Fuzz(func(t *testing.T, payload []byte, length int) {
		task, ok, err := decodeTrainTask(payload, length)
		if err != nil || !ok {
			assert.Nil(t, task)
			return
		}
		require.Len(t, task.Model, length-1, "an accepted model fits the round's secure sum")
		if length < 1 || length > 1<<16 {
			return
		}
		out, err := sh.train(task, length, nil)
		if err != nil {
			return
		}
		require.Len(t, out, length)
		for _, v := range out[:length-1] {
			require.LessOrEqual(t, v, task.MaxAbs)
			require.GreaterOrEqual(t, v, -task.MaxAbs)
		}
		assert.Equal(t, int64(1), out[length-1])
	})
}
