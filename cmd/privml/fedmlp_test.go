package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated"
	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/internal/fedmodels"
	"github.com/privml/privml/internal/mtls"
)

// ringPoint is point k of a fixed low-discrepancy sequence in [-2, 2]^2,
// labelled 1 inside the circle of radius 1.3: a boundary no linear model
// draws.
func ringPoint(k int) (x1, x2 float64, y int) {
	x1 = 4*math.Mod(float64(k)*0.6180339887, 1) - 2
	x2 = 4*math.Mod(float64(k)*0.7548776662, 1) - 2
	if x1*x1+x2*x2 < 1.69 {
		y = 1
	}
	return x1, x2, y
}

// writeRingShard writes rows points from index first as a labelled CSV
// shard with the given number of feature columns (extra columns are 0).
func writeRingShard(t *testing.T, path string, first, rows, features int) *labelledShard {
	t.Helper()
	var b strings.Builder
	for j := range features {
		fmt.Fprintf(&b, "x%d,", j+1)
	}
	b.WriteString("y\n")
	for k := first; k < first+rows; k++ {
		x1, x2, y := ringPoint(k)
		fmt.Fprintf(&b, "%.6f,%.6f,", x1, x2)
		for range features - 2 {
			b.WriteString("0,")
		}
		fmt.Fprintf(&b, "%d\n", y)
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	sh, err := readLabelled(path)
	require.NoError(t, err)
	return sh
}

// mlpFederation is the server of a trained task and its clients in one
// process, over mutual TLS on 127.0.0.1, built by the command's own
// functions (flags, task, hooks); only the processes are missing.
type mlpFederation struct {
	t      *testing.T
	dir    string
	tr     *trainServer
	srv    *transport.Server
	addr   string
	mu     sync.Mutex
	before map[uint64][]float64              // the model each round started from
	report map[uint64]*transport.RoundReport // each round's report
	inputs map[uint64]map[int][]int64        // each client's encoded update, per round
	runErr map[int]error                     // each client's Run error
	wg     sync.WaitGroup
	out    bytes.Buffer
}

func newMLPFederation(t *testing.T, n int, serverArgs ...string) *mlpFederation {
	fed := &mlpFederation{t: t, dir: t.TempDir(), before: map[uint64][]float64{}, report: map[uint64]*transport.RoundReport{},
		inputs: map[uint64]map[int][]int64{}, runErr: map[int]error{}}
	tlsDir := filepath.Join(fed.dir, "tls")
	require.NoError(t, mtls.WriteDevPKI(tlsDir, mtls.DevPKI{Clients: n}))
	f, code := parseFedServer(append([]string{"--tls", tlsDir, "--clients", fmt.Sprint(n), "--dim", "2", "--task", "mlp"}, serverArgs...), io.Discard)
	require.NotNil(t, f, "exit %d", code)
	f.insecureSeed = 7
	cfg, ck, err := fedServerConfig(f)
	require.NoError(t, err)
	fed.tr, err = configureTrain(f, &cfg, ck, &fed.out)
	require.NoError(t, err)
	apply := cfg.OnRound
	cfg.OnRound = func(rep *transport.RoundReport) ([]byte, error) {
		fed.mu.Lock()
		fed.before[rep.Round] = slices.Clone(fed.tr.task.Model)
		fed.report[rep.Round] = rep
		fed.mu.Unlock()
		return apply(rep)
	}
	cfg.Logger = discardLog()
	fed.srv, err = transport.NewServer(cfg)
	require.NoError(t, err)
	tlsConf, err := mtls.LoadServerConfig(tlsDir)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fed.addr = ln.Addr().String()
	g := transport.NewGRPCServer(fed.srv, tlsConf, transport.Limits{})
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	return fed
}

// client starts client id on the shard at path; silentAt, when set,
// makes it go silent at that round's masked input.
func (fed *mlpFederation) client(ctx context.Context, id int, path string, silentAt uint64) {
	t := fed.t
	cf, code := parseFedClient([]string{"--server", fed.addr, "--tls", filepath.Join(fed.dir, "tls"), "--id", fmt.Sprint(id), "--data", path, "--retry-for", "30s"}, io.Discard)
	require.NotNil(t, cf, "exit %d", code)
	cc, err := fedClientConfig(cf, io.Discard)
	require.NoError(t, err)
	cc.Logger = discardLog()
	task, err := newClientTask(cf.data, cf.scale, cf.clip, io.Discard)
	require.NoError(t, err)
	task.rng = rand.New(rand.NewPCG(uint64(id)+1, 9))
	cc.Input = func(ctx context.Context, round uint64, payload []byte, length int) ([]int64, error) {
		x, err := task.input(ctx, round, payload, length)
		if err == nil {
			fed.mu.Lock()
			if fed.inputs[round] == nil {
				fed.inputs[round] = map[int][]int64{}
			}
			fed.inputs[round][id] = slices.Clone(x)
			fed.mu.Unlock()
		}
		return x, err
	}
	cc.OnResult = task.onResult
	cc.BeforeStage = func(r uint64, st transport.Stage) error {
		if r == silentAt && st == transport.StageMaskedInput {
			return errors.New("silent")
		}
		return nil
	}
	c, err := transport.NewClient(cc)
	require.NoError(t, err)
	fed.wg.Add(1)
	go func() {
		defer fed.wg.Done()
		defer c.Close()
		err := c.Run(ctx)
		fed.mu.Lock()
		fed.runErr[id] = err
		fed.mu.Unlock()
	}()
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestMLPTaskOverTransport trains the mlp task (the one-hidden-layer
// network of examples/federated) with the command's server and client
// code over gRPC and mutual TLS: 4 clients, 4 rounds, client 3 silent at
// the masked input of round 2. Each round's secure sum must equal the
// plain sum of the survivors' encoded updates, the new model must be the
// old one plus their decoded mean (FedAvg, rate 1, no noise), and the
// final model must classify a held-out shard of the ring data far better
// than the initial one. Seeds are fixed (initial model, shuffles,
// stochastic rounding), so the run is deterministic but for which
// clients survive, which the checks read from the report.
func TestMLPTaskOverTransport(t *testing.T) {
	const n, rounds, rows = 4, 4, 80
	fed := newMLPFederation(t, n, "--rounds", fmt.Sprint(rounds), "--hidden", "8", "--local-epochs", "5", "--local-lr", "0.5",
		"--update-clip", "10", "--dropout", "0.3", "--stage-timeout", "3s", "--start-timeout", "10s")
	held := writeRingShard(t, filepath.Join(fed.dir, "held-out.csv"), 10_000, 400, 2)
	m := fedmodels.MLP{D: 2, H: 8}
	initAcc := held.accuracy(m, fed.tr.task.Model)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for id := range n {
		path := filepath.Join(fed.dir, fmt.Sprintf("shard-%d.csv", id))
		writeRingShard(t, path, 1+id*rows, rows, 2)
		silent := uint64(0)
		if id == 3 {
			silent = 2
		}
		fed.client(ctx, id, path, silent)
	}
	require.NoError(t, fed.srv.Run(ctx))
	fed.wg.Wait()
	for id := range n {
		assert.NoError(t, fed.runErr[id], "client %d", id)
	}

	codec := &federated.Codec{Clip: fed.tr.task.Clip, Scale: fed.tr.task.Scale, MaxAbs: fed.tr.task.MaxAbs}
	for r := uint64(1); r <= rounds; r++ {
		rep := fed.report[r]
		require.NotNil(t, rep, "round %d", r)
		require.NoError(t, rep.Err, "round %d", r)
		surv := rep.Result.Survivors
		if r == 2 {
			assert.Equal(t, []int{0, 1, 2}, surv, "client 3 went silent in round 2")
			require.Contains(t, fed.inputs[2], 3, "client 3 computed its update before going silent")
		} else {
			assert.Len(t, surv, n, "round %d", r)
		}
		want := make([]int64, m.Shape().Size())
		for _, id := range surv {
			x := fed.inputs[r][id]
			require.Len(t, x, len(want)+1)
			for j := range want {
				want[j] += x[j]
			}
			assert.Equal(t, int64(1), x[len(want)])
		}
		assert.Equal(t, want, rep.Result.Main(), "round %d: the secure sum is the plain sum of the survivors' updates", r)
		assert.Equal(t, []int64{int64(len(surv))}, rep.Result.Side(), "round %d", r)

		next := fed.tr.task.Model
		if r < rounds {
			next = fed.before[r+1]
		}
		mean := make([]float64, len(want))
		codec.Decode(mean, want)
		for j := range mean {
			assert.InDelta(t, fed.before[r][j]+mean[j]/float64(len(surv)), next[j], 1e-12, "round %d parameter %d", r, j)
		}
	}
	// The majority class is what a constant (and nearly what a linear)
	// classifier reaches on the ring.
	majority := 0.0
	for _, y := range held.y {
		majority += float64(1-y) / float64(len(held.y))
	}
	final := held.accuracy(m, fed.tr.task.Model)
	t.Logf("held-out accuracy: initial %.3f, after %d rounds %.3f, majority class %.3f", initAcc, rounds, final, majority)
	assert.Greater(t, final, majority+0.1)
	assert.Greater(t, final, initAcc+0.2)
	// The server printed one line per round with the model's norm.
	assert.Equal(t, rounds, strings.Count(fed.out.String(), "model norm"), fed.out.String())
}

// TestMLPTaskShapeMismatch: a client whose shard has another number of
// feature columns than the server's model stops with an error that names
// both shapes and the file (wrapping transport.ErrConfig, so it does not
// retry every round), and the round goes on without it.
func TestMLPTaskShapeMismatch(t *testing.T) {
	const n = 3
	fed := newMLPFederation(t, n, "--rounds", "1", "--hidden", "8", "--dropout", "0.4", "--stage-timeout", "3s", "--start-timeout", "10s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wide string
	for id := range n {
		path := filepath.Join(fed.dir, fmt.Sprintf("shard-%d.csv", id))
		features := 2
		if id == 2 {
			features, wide = 3, path
		}
		writeRingShard(t, path, 1+id*40, 40, features)
		fed.client(ctx, id, path, 0)
	}
	require.NoError(t, fed.srv.Run(ctx))
	fed.wg.Wait()
	assert.NoError(t, fed.runErr[0])
	assert.NoError(t, fed.runErr[1])
	err := fed.runErr[2]
	require.ErrorIs(t, err, transport.ErrConfig)
	for _, want := range []string{"mlp model of 2 features and 8 hidden units", wide, "3 feature columns"} {
		assert.Contains(t, err.Error(), want)
	}
	rep := fed.report[1]
	require.NoError(t, rep.Err)
	assert.Equal(t, []int{0, 1}, rep.Result.Survivors)
	assert.NotContains(t, fed.inputs[1], 2, "no update was computed from the mismatched shard")
}

// TestTrainTaskRestoreRefusesOtherShape: a checkpoint is restored only
// into the task, feature count and hidden width it was made with; a
// logistic-regression checkpoint from before the features field restores.
func TestTrainTaskRestoreRefusesOtherShape(t *testing.T) {
	flags := func(args ...string) *fedServerFlags {
		f, code := parseFedServer(append([]string{"--tls", "x", "--clients", "3", "--rounds", "2"}, args...), io.Discard)
		require.NotNil(t, f, "exit %d", code)
		return f
	}
	mlp8, err := newTrainServer(flags("--dim", "2", "--task", "mlp", "--hidden", "8"), nil)
	require.NoError(t, err)
	mlp8.task.DPRounds = 3
	state, err := json.Marshal(&mlp8.task)
	require.NoError(t, err)

	back, err := newTrainServer(flags("--dim", "2", "--task", "mlp", "--hidden", "8"), state)
	require.NoError(t, err)
	assert.Equal(t, mlp8.task.Model, back.task.Model)
	assert.Equal(t, 3, back.task.DPRounds)
	for name, args := range map[string][]string{
		"other hidden": {"--dim", "2", "--task", "mlp", "--hidden", "4"},
		"other dim":    {"--dim", "3", "--task", "mlp", "--hidden", "8"},
		"other task":   {"--dim", "2", "--task", "logreg"},
	} {
		_, err := newTrainServer(flags(args...), state)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "restart with the --task, --dim and --hidden", name)
	}
	old := []byte(`{"task":"logreg","model":[0.5,-1,0.25],"clip":1,"scale":1000,"max_abs":1001,"local_lr":0.5,"local_epochs":1,"batch":16,"noise_multiplier":0,"delta":1e-5,"dp_rounds":2}`)
	lr, err := newTrainServer(flags("--dim", "2", "--task", "logreg"), old)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.5, -1, 0.25}, lr.task.Model)
	assert.Equal(t, 2, lr.task.DPRounds)
}

// TestDecodeTrainTaskRefusesBadShapes: a payload whose parameters do not
// fit the shape it names, an unknown task or a non-finite parameter is
// refused with what is wrong.
func TestDecodeTrainTaskRefusesBadShapes(t *testing.T) {
	base := trainTask{Task: "mlp", Features: 2, Hidden: 2, Model: make([]float64, 9), Clip: 1, Scale: 1000, MaxAbs: 1001, LocalLR: 0.5, LocalEpochs: 1, Batch: 2}
	good, err := json.Marshal(&base)
	require.NoError(t, err)
	task, ok, err := decodeTrainTask(good, 10)
	require.NoError(t, err)
	require.True(t, ok)
	sh := &labelledShard{path: "s.csv", x: [][]float64{{1, 0}, {-1, 0.5}}, y: []int{1, 0}}
	out, err := sh.train(task, 10, nil)
	require.NoError(t, err)
	assert.Len(t, out, 10)
	_, err = sh.train(task, 9, nil)
	assert.ErrorContains(t, err, "needs 10")

	for name, tc := range map[string]struct {
		mod  func(*trainTask)
		want string
	}{
		"short model":  {func(t *trainTask) { t.Model = t.Model[:8] }, "mlp model of 2 features and 2 hidden units has 9 parameters, the round's model 8"},
		"no hidden":    {func(t *trainTask) { t.Hidden = 0 }, "hidden units are out of range"},
		"huge hidden":  {func(t *trainTask) { t.Hidden = 1 << 20 }, "hidden units are out of range"},
		"no features":  {func(t *trainTask) { t.Features = -1 }, "features are out of range"},
		"unknown task": {func(t *trainTask) { t.Task = "cnn" }, `unknown task "cnn"`},
		"logreg shape": {func(t *trainTask) { t.Task = "logreg" }, "logreg model of 2 features has 3 parameters"},
	} {
		bad := base
		bad.Model = slices.Clone(base.Model)
		tc.mod(&bad)
		b, err := json.Marshal(&bad)
		require.NoError(t, err)
		_, ok, err := decodeTrainTask(b, 10)
		assert.False(t, ok, name)
		assert.ErrorContains(t, err, tc.want, name)
	}
	nan := strings.Replace(string(good), `"model":[0,`, `"model":[1e999,`, 1)
	_, _, err = decodeTrainTask([]byte(nan), 10)
	assert.Error(t, err, "an overflowing parameter")
}

// TestFedServerRefusesOtherTasksCheckpoint: a server given the --state of
// a federation that ran another task (or another model shape) stops with
// an error naming both, even when that federation's rounds are all done,
// and leaves the checkpoint's rounds and state as they were.
func TestFedServerRefusesOtherTasksCheckpoint(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	require.NoError(t, os.MkdirAll(state, 0o700))
	path := filepath.Join(state, checkpointFile)
	base := []string{"fed", "server", "--tls", filepath.Join(dir, "tls"), "--clients", "2", "--rounds", "3", "--dim", "2", "--state", state}
	for name, tc := range map[string]struct {
		state []byte
		args  []string
		want  string
	}{
		"mean state, logreg server": {[]byte(`{"round":3,"survivors":[0,1],"rows":3}`), []string{"--task", "logreg"}, "made by --task mean, not logreg"},
		"logreg state, mean server": {[]byte(`{"task":"logreg","features":2,"model":[0,0,0]}`), nil, "made by --task logreg, not mean"},
		"logreg state, mlp server":  {[]byte(`{"task":"logreg","features":2,"model":[0,0,0]}`), []string{"--task", "mlp"}, "made by --task logreg, not mlp"},
		"mlp state, other hidden":   {mlpState(t, 2, 8), []string{"--task", "mlp", "--hidden", "4"}, "restart with the --task, --dim and --hidden"},
	} {
		require.NoError(t, transport.WriteCheckpoint(path, &transport.Checkpoint{Round: 3, Epoch: 1, State: tc.state}))
		var out, errb bytes.Buffer
		code := run(append(slices.Clone(base), tc.args...), &out, &errb)
		assert.Equal(t, 1, code, name)
		assert.Contains(t, errb.String(), tc.want, name)
		assert.NotContains(t, out.String(), "already completed", name)
		ck, err := transport.ReadCheckpoint(path)
		require.NoError(t, err)
		assert.Equal(t, uint64(3), ck.Round, name)
		assert.Equal(t, tc.state, ck.State, name)
	}
	// The same task's finished federation is reported as done.
	require.NoError(t, transport.WriteCheckpoint(path, &transport.Checkpoint{Round: 3, Epoch: 1, State: mlpState(t, 2, 8)}))
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(append(slices.Clone(base), "--task", "mlp", "--hidden", "8"), &out, &errb), errb.String())
	assert.Contains(t, out.String(), "all 3 rounds already completed")
}

func mlpState(t *testing.T, d, h int) []byte {
	f, code := parseFedServer([]string{"--tls", "x", "--clients", "2", "--rounds", "3", "--dim", fmt.Sprint(d), "--task", "mlp", "--hidden", fmt.Sprint(h)}, io.Discard)
	require.NotNil(t, f, "exit %d", code)
	s, err := newTrainServer(f, nil)
	require.NoError(t, err)
	b, err := json.Marshal(&s.task)
	require.NoError(t, err)
	return b
}

// TestFedServerTaskFlags: an unknown --task, or a --hidden or --dim out of
// a trained task's range, is refused at the command line with the flag's
// name.
func TestFedServerTaskFlags(t *testing.T) {
	base := []string{"fed", "server", "--tls", t.TempDir(), "--clients", "3", "--rounds", "1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dim", "2", "--task", "cnn"}, `--task "cnn", want mean, logreg or mlp`},
		{[]string{"--dim", "2", "--task", "mlp", "--hidden", "0"}, "--hidden 0, want 1 to 4096"},
		{[]string{"--dim", "2", "--task", "mlp", "--hidden", "5000"}, "--hidden 5000"},
		{[]string{"--dim", "2000000", "--task", "logreg"}, "--dim 2000000, a trained task takes at most 1048576 features"},
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, run(append(slices.Clone(base), tc.args...), &out, &errb), "%q", tc.args)
		assert.Contains(t, errb.String(), tc.want, "%q", tc.args)
	}
}
