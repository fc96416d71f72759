package main

// The logistic-regression task of "privml fed server/client": the model of
// examples/federated (internal/fedmodels.LogReg) trained with federated
// averaging over secure aggregation, client-level DP noise added by the
// server to the unmasked sum, and a federated.ServerOptimizer.

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/privml/privml/dp"
	"github.com/privml/privml/federated"
	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/internal/fedmodels"
)

// logRegTask is what the server sends with each round (the application
// payload) and checkpoints: the global model, the local training
// settings, the codec, and the accountant's state (the rounds whose noisy
// aggregate was released).
type logRegTask struct {
	Task        string    `json:"task"` // "logreg"
	Model       []float64 `json:"model"`
	Clip        float64   `json:"clip"`  // L2 bound of a client's update
	Scale       float64   `json:"scale"` // the codec's integers per unit
	MaxAbs      int64     `json:"max_abs"`
	LocalLR     float64   `json:"local_lr"`
	LocalEpochs int       `json:"local_epochs"`
	Batch       int       `json:"batch"`
	Noise       float64   `json:"noise_multiplier"`
	Delta       float64   `json:"delta"`
	DPRounds    int       `json:"dp_rounds"`
}

// logRegServer runs the task on the server side.
type logRegServer struct {
	task  logRegTask
	opt   federated.ServerOptimizer
	codec *federated.Codec
	smp   *dp.Sampler
}

// newLogRegServer builds the task from the flags, or restores it from a
// checkpoint's state: the model and the number of DP rounds carry over, so
// a restarted server's epsilon never resets. (A stateful optimizer's
// moments, FedAvgM's or FedAdam's, start again from zero.)
func newLogRegServer(f *fedServerFlags, state []byte) (*logRegServer, error) {
	opt, err := federated.NewServerOptimizer(f.optimizer, federated.WithServerLearningRate(f.serverLR))
	if err != nil {
		return nil, err
	}
	codec, err := federated.NewCodec(f.updateClip, f.bits, f.clients)
	if err != nil {
		return nil, err
	}
	s := &logRegServer{opt: opt, codec: codec, smp: dp.NewSampler()}
	s.task = logRegTask{
		Task: "logreg", Model: fedmodels.LogReg{D: f.dim}.Init(nil), Clip: codec.Clip, Scale: codec.Scale, MaxAbs: codec.MaxAbs,
		LocalLR: f.localLR, LocalEpochs: f.localEpochs, Batch: f.batch, Noise: f.noise, Delta: f.delta,
	}
	if len(state) > 0 {
		var prev logRegTask
		if err := json.Unmarshal(state, &prev); err != nil || prev.Task != "logreg" || len(prev.Model) != f.dim+1 || prev.DPRounds < 0 {
			return nil, fmt.Errorf("the checkpoint's state is not a logistic-regression model of %d features", f.dim)
		}
		if prev.Noise != f.noise || prev.Delta != f.delta {
			return nil, fmt.Errorf("the checkpoint was made with --noise %v --delta %v; restart with the same values", prev.Noise, prev.Delta)
		}
		s.task.Model, s.task.DPRounds = prev.Model, prev.DPRounds
	}
	return s, nil
}

func (s *logRegServer) payload(uint64) ([]byte, error) { return json.Marshal(&s.task) }

// epsilon is the client-level epsilon spent so far (every client takes
// part in every round: sampling rate 1), +Inf without noise.
func (s *logRegServer) epsilon() (float64, error) {
	if s.task.Noise == 0 {
		return math.Inf(1), nil
	}
	if s.task.DPRounds == 0 {
		return 0, nil
	}
	return federated.Epsilon(1, s.task.Noise, s.task.DPRounds, s.task.Delta)
}

// apply decodes a round's sum of clipped updates, adds Gaussian noise of
// standard deviation Noise*Clip (one client changes the sum by at most
// Clip in L2), averages over the survivors and takes an optimizer step.
func (s *logRegServer) apply(main []int64, survivors int) error {
	if len(main) != len(s.task.Model) || survivors < 1 {
		return fmt.Errorf("a sum of %d coordinates over %d clients for a model of %d", len(main), survivors, len(s.task.Model))
	}
	sum := make([]float64, len(s.task.Model))
	s.codec.Decode(sum, main)
	if s.task.Noise > 0 {
		if err := s.smp.AddGaussian(sum, s.task.Noise*s.task.Clip); err != nil {
			return err
		}
	}
	for j := range sum {
		sum[j] /= float64(survivors)
	}
	if err := s.opt.Step(s.task.Model, sum); err != nil {
		return err
	}
	s.task.DPRounds++
	return nil
}

// logRegShard is a client's labelled rows: features, then a 0/1 label in
// the last column.
type logRegShard struct {
	x [][]float64
	y []int
}

// readLabelled reads a CSV file with a header row, numeric feature
// columns and a last column of 0/1 labels.
func readLabelled(path string) (*logRegShard, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the header: %v", path, err)
	}
	if len(header) < 2 {
		return nil, fmt.Errorf("%s: want feature columns and a label column, found %d columns", path, len(header))
	}
	sh := &logRegShard{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		row := make([]float64, len(rec)-1)
		for j, field := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: line %d, column %q: %q is not a finite number", path, line, header[j], field)
			}
			if j < len(row) {
				row[j] = v
			} else if v != 0 && v != 1 {
				return nil, fmt.Errorf("%s: line %d, label column %q: %q, want 0 or 1", path, line, header[j], field)
			} else {
				sh.y = append(sh.y, int(v))
			}
		}
		sh.x = append(sh.x, row)
	}
	if len(sh.x) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return sh, nil
}

// decodeLogRegTask parses a round's payload; ok is false for another task.
func decodeLogRegTask(payload []byte) (*logRegTask, bool, error) {
	if len(payload) == 0 {
		return nil, false, nil
	}
	var t logRegTask
	if err := json.Unmarshal(payload, &t); err != nil {
		return nil, false, fmt.Errorf("the round's model payload: %v", err)
	}
	if t.Task != "logreg" {
		return nil, false, nil
	}
	if !(t.Clip > 0) || !(t.Scale > 0) || t.MaxAbs < 1 || !(t.LocalLR > 0) || t.LocalEpochs < 1 || t.LocalEpochs > 1000 || t.Batch < 1 {
		return nil, false, fmt.Errorf("the round's training settings are out of range")
	}
	return &t, true, nil
}

// train runs local SGD on the shard from the task's model and returns
// the encoded update (clipped, scaled, stochastically rounded) followed
// by the side coordinate 1 (this client's count).
func (sh *logRegShard) train(t *logRegTask, length int) ([]int64, error) {
	d := len(t.Model) - 1
	if length != len(t.Model)+1 || len(sh.x[0]) != d {
		return nil, fmt.Errorf("the server's model has %d features, the shard %d", d, len(sh.x[0]))
	}
	m := fedmodels.LogReg{D: d}
	p := append([]float64(nil), t.Model...)
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	order := make([]int, len(sh.x))
	for i := range order {
		order[i] = i
	}
	g := make([]float64, len(p))
	for range t.LocalEpochs {
		r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for lo := 0; lo < len(order); lo += t.Batch {
			hi := min(lo+t.Batch, len(order))
			clear(g)
			for _, i := range order[lo:hi] {
				m.AddGrad(g, p, sh.x[i], sh.y[i])
			}
			for j := range p {
				p[j] -= t.LocalLR / float64(hi-lo) * g[j]
			}
		}
	}
	for j := range p {
		p[j] -= t.Model[j]
	}
	codec := &federated.Codec{Clip: t.Clip, Scale: t.Scale, MaxAbs: t.MaxAbs}
	out := make([]int64, len(p), len(p)+1)
	if _, err := codec.Encode(out, p, r); err != nil {
		return nil, err
	}
	return append(out, 1), nil
}

// accuracy is the fraction of the shard's rows the model classifies right.
func (sh *logRegShard) accuracy(model []float64) float64 {
	m := fedmodels.LogReg{D: len(model) - 1}
	ok := 0
	for i, x := range sh.x {
		if (m.Prob(model, x) >= 0.5) == (sh.y[i] == 1) {
			ok++
		}
	}
	return float64(ok) / float64(len(sh.x))
}

// onRound is the logreg task's ServerConfig.OnRound: it applies the
// round's aggregate, checkpoints the model with the accountant's state,
// prints the round and returns the new model for the clients.
func (s *logRegServer) onRound(f *fedServerFlags, ck *transport.Checkpoint, stdout io.Writer) func(*transport.RoundReport) ([]byte, error) {
	return func(rep *transport.RoundReport) ([]byte, error) {
		line := &fedRoundLine{Round: rep.Round, Present: rep.Present, Dropouts: len(rep.DroppedAt), MS: rep.Duration.Milliseconds()}
		if rep.Err != nil {
			line.Error = rep.Err.Error()
		} else {
			line.Survivors = rep.Result.Survivors
			line.Rows = rep.Result.Side()[0]
			if err := s.apply(rep.Result.Main(), len(line.Survivors)); err != nil {
				return nil, err
			}
		}
		if s.task.Noise > 0 {
			eps, err := s.epsilon()
			if err != nil {
				return nil, err
			}
			line.Epsilon = &eps
		}
		line.Model = s.task.Model
		state, err := json.Marshal(&s.task)
		if err != nil {
			return nil, err
		}
		ck.Round, ck.State = rep.Round, state
		if f.stateDir != "" {
			if err := transport.WriteCheckpoint(filepath.Join(f.stateDir, checkpointFile), ck); err != nil {
				return nil, err
			}
		}
		printRound(stdout, line, f.asJSON, f.clients)
		return state, nil
	}
}

func l2norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
