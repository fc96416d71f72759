package main

// The trained tasks of "privml fed server/client": the models of
// examples/federated (internal/fedmodels: logistic regression, and the MLP
// with one hidden layer of tanh units) trained with federated averaging
// over secure aggregation, client-level DP noise added by the server to
// the unmasked sum, and a federated.ServerOptimizer.

import (
	"bytes"
	"context"
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
	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/internal/fedmodels"
)

// Limits of a trained task's shape, checked on both sides: a payload
// beyond them is refused before anything is allocated for it.
const (
	maxHidden   = 4096
	maxFeatures = 1 << 20
	// paramBytes bounds the bytes a parameter takes in a round's payload:
	// encoding/json writes a float64 in at most 25 characters, then a
	// comma.
	paramBytes = 32
	// payloadSlack bounds the rest of the payload: the task, its shape
	// and the training settings.
	payloadSlack = 4096
	// maxParams is the largest model a client can download with the
	// default ClientConfig.MaxDownloadSize (its payload, at paramBytes a
	// parameter, and the rest of the round's configuration fit), and
	// whose secure sum (the parameters and a count) secagg can add.
	maxParams = min((transport.DefaultMaxDownloadSize-payloadSlack)/paramBytes, secagg.MaxLength-1)
)

// trainTask is what the server sends with each round (the application
// payload) and checkpoints: the model's kind and shape, the global
// parameters, the local training settings, the codec, and the
// accountant's state (the rounds whose noisy aggregate was released).
type trainTask struct {
	Task        string    `json:"task"`             // "logreg" or "mlp"
	Features    int       `json:"features"`         // input features (the shards' columns but the label)
	Hidden      int       `json:"hidden,omitempty"` // mlp: hidden units
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

// trainTasks are the --task values that train a model.
var trainTasks = []string{"logreg", "mlp"}

// model returns the task's model after checking its shape (see shape)
// and that the parameter vector fits it and is finite: a payload whose
// parameters do not fit its own shape is refused, never trained on.
func (t *trainTask) model() (fedmodels.Model, error) {
	if t.Task == "logreg" && t.Features == 0 {
		// Payloads and checkpoints written before the field was added.
		t.Features = len(t.Model) - 1
	}
	m, err := t.shape()
	if err != nil {
		return nil, err
	}
	if size := m.Shape().Size(); len(t.Model) != size {
		return nil, fmt.Errorf("the %s has %d parameters, the round's model %d", t.describe(), size, len(t.Model))
	}
	for j, v := range t.Model {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("parameter %d of the %s is %v", j, t.describe(), v)
		}
	}
	return m, nil
}

// shape returns the task's model after checking its kind, its shape's
// limits and that it has at most maxParams parameters, without looking
// at the parameters: what is known before any memory is spent on them.
func (t *trainTask) shape() (fedmodels.Model, error) {
	if t.Features < 1 || t.Features > maxFeatures {
		return nil, fmt.Errorf("the %s model's %d features are out of range (1 to %d)", t.Task, t.Features, maxFeatures)
	}
	var m fedmodels.Model
	switch t.Task {
	case "logreg":
		m = fedmodels.LogReg{D: t.Features}
	case "mlp":
		if t.Hidden < 1 || t.Hidden > maxHidden {
			return nil, fmt.Errorf("the mlp model's %d hidden units are out of range (1 to %d)", t.Hidden, maxHidden)
		}
		m = fedmodels.MLP{D: t.Features, H: t.Hidden}
	default:
		return nil, fmt.Errorf("unknown task %q (this program trains %s)", t.Task, strings.Join(trainTasks, " and "))
	}
	if size := m.Shape().Size(); size > maxParams {
		return nil, fmt.Errorf("the %s has %d parameters, more than the %d a client downloads", t.describe(), size, maxParams)
	}
	return m, nil
}

// describe names the task's model and shape, for errors.
func (t *trainTask) describe() string {
	if t.Task == "mlp" {
		return fmt.Sprintf("mlp model of %d features and %d hidden units", t.Features, t.Hidden)
	}
	return fmt.Sprintf("%s model of %d features", t.Task, t.Features)
}

// trainServer runs a trained task on the server side.
type trainServer struct {
	task  trainTask
	opt   federated.ServerOptimizer
	codec *federated.Codec
	smp   *dp.Sampler
}

// newTrainServer builds the task from the flags, or restores it from a
// checkpoint's state: the model and the number of DP rounds carry over,
// so a restarted server's epsilon never resets. (A stateful optimizer's
// moments, FedAvgM's or FedAdam's, start again from zero.)
func newTrainServer(f *fedServerFlags, state []byte) (*trainServer, error) {
	s, err := prepareTrainServer(f, state)
	if err != nil {
		return nil, err
	}
	if len(state) > 0 {
		return s, nil
	}
	if f.task == "mlp" {
		// The initial weights are public (every client receives them):
		// a seed from the default source suffices.
		src := rand.NewPCG(rand.Uint64(), rand.Uint64())
		if f.insecureSeed != 0 {
			src = rand.NewPCG(f.insecureSeed, 0)
		}
		s.task.Model = fedmodels.MLP{D: f.dim, H: f.hidden}.Init(rand.New(src))
	} else {
		s.task.Model = fedmodels.LogReg{D: f.dim}.Init(nil)
	}
	if _, err := s.task.model(); err != nil {
		return nil, err
	}
	return s, nil
}

// prepareTrainServer is newTrainServer but for a fresh model: it checks
// the flags' optimizer, codec and model shape and restores the
// checkpoint's state if any, so that its errors come before memory is
// spent on a new model or the checkpoint is written.
func prepareTrainServer(f *fedServerFlags, state []byte) (*trainServer, error) {
	opt, err := federated.NewServerOptimizer(f.optimizer, federated.WithServerLearningRate(f.serverLR))
	if err != nil {
		return nil, err
	}
	codec, err := federated.NewCodec(f.updateClip, f.bits, f.clients)
	if err != nil {
		return nil, err
	}
	s := &trainServer{opt: opt, codec: codec, smp: dp.NewSampler()}
	s.task = trainTask{
		Task: f.task, Features: f.dim, Clip: codec.Clip, Scale: codec.Scale, MaxAbs: codec.MaxAbs,
		LocalLR: f.localLR, LocalEpochs: f.localEpochs, Batch: f.batch, Noise: f.noise, Delta: f.delta,
	}
	if f.task == "mlp" {
		s.task.Hidden = f.hidden
	}
	if _, err := s.task.shape(); err != nil {
		return nil, err
	}
	if len(state) > 0 {
		if err := s.restore(state); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// configureTrain sets cfg up for the trained task of the flags, restored
// from the checkpoint's state if any: the round's payload is the task,
// the secure sum's main part the model update and its side coordinate
// the count of clients, and OnRound applies each round.
func configureTrain(f *fedServerFlags, cfg *transport.ServerConfig, ck *transport.Checkpoint, stdout io.Writer) (*trainServer, error) {
	tr, err := newTrainServer(f, ck.State)
	if err != nil {
		return nil, err
	}
	cfg.Secagg.Dim, cfg.Secagg.MaxAbs, cfg.Secagg.MaxSideAbs = len(tr.task.Model), uint64(tr.codec.MaxAbs), 1
	cfg.Model = tr.payload
	cfg.OnRound = tr.onRound(f, ck, stdout)
	return tr, nil
}

// restore takes the model and the accountant's state from a checkpoint
// made with the same task, shape and noise.
func (s *trainServer) restore(state []byte) error {
	var prev trainTask
	if err := json.Unmarshal(state, &prev); err != nil {
		return fmt.Errorf("the checkpoint's state is not a trained model: %v", err)
	}
	if _, err := prev.model(); err != nil || prev.Task != s.task.Task || prev.Features != s.task.Features || prev.Hidden != s.task.Hidden || prev.DPRounds < 0 {
		return fmt.Errorf("the checkpoint's state is not a %s; restart with the --task, --dim and --hidden it was made with", s.task.describe())
	}
	if prev.Noise != s.task.Noise || prev.Delta != s.task.Delta {
		return fmt.Errorf("the checkpoint was made with --noise %v --delta %v; restart with the same values", prev.Noise, prev.Delta)
	}
	s.task.Model, s.task.DPRounds = prev.Model, prev.DPRounds
	return nil
}

func (s *trainServer) payload(uint64) ([]byte, error) { return json.Marshal(&s.task) }

// epsilon is the client-level epsilon spent so far (every client takes
// part in every round: sampling rate 1), +Inf without noise.
func (s *trainServer) epsilon() (float64, error) {
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
func (s *trainServer) apply(main []int64, survivors int) error {
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

// labelledShard is a client's labelled rows: features, then a 0/1 label
// in the last column.
type labelledShard struct {
	path string
	x    [][]float64
	y    []int
}

// readLabelled reads a CSV file with a header row, numeric feature
// columns and a last column of 0/1 labels.
func readLabelled(path string) (*labelledShard, error) {
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
	sh := &labelledShard{path: path}
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

// decodeTrainTask parses a round's payload for a secure sum of length
// coordinates: ok is false for an empty payload (the mean task), and a
// payload naming a task this program does not train, or a model that
// does not fit its own shape or the sum, is an error. It decodes in two
// passes, so that a payload from a malicious server costs no more memory
// than the model the sum's length allows: first the shape alone
// (encoding/json skips the model's array without building it), which
// must fit the length, and the payload no longer than such a model's;
// then the whole, the model's array refused at its first parameter past
// the shape's.
func decodeTrainTask(payload []byte, length int) (*trainTask, bool, error) {
	if len(payload) == 0 {
		return nil, false, nil
	}
	var sh struct {
		Task     string `json:"task"`
		Features int    `json:"features"`
		Hidden   int    `json:"hidden"`
	}
	if err := json.Unmarshal(payload, &sh); err != nil {
		return nil, false, fmt.Errorf("the round's model payload: %v", err)
	}
	t := trainTask{Task: sh.Task, Features: sh.Features, Hidden: sh.Hidden}
	if t.Task == "logreg" && t.Features == 0 {
		// Payloads written before the field was added: the sum has
		// the parameters (features and a bias) and a count.
		t.Features = length - 2
	}
	m, err := t.shape()
	if err != nil {
		return nil, false, fmt.Errorf("the round's model payload: %v", err)
	}
	size := m.Shape().Size()
	if size+1 != length {
		return nil, false, fmt.Errorf("the round's model payload: the %s has %d parameters, the round's secure sum %d coordinates (want the parameters and a count)", t.describe(), size, length)
	}
	if len(payload) > paramBytes*size+payloadSlack {
		return nil, false, fmt.Errorf("the round's model payload: %d bytes, more than a %s takes (%d)", len(payload), t.describe(), paramBytes*size+payloadSlack)
	}
	checked := t
	full := struct {
		*trainTask
		Model boundedParams `json:"model"`
	}{&t, boundedParams{max: size}}
	if err := json.Unmarshal(payload, &full); err != nil {
		return nil, false, fmt.Errorf("the round's model payload: %v", err)
	}
	// The shape is the one checked (both readings decode the same
	// keys the same way; a legacy logreg payload's features come from
	// the length).
	t.Model, t.Task, t.Features, t.Hidden = full.Model.v, checked.Task, checked.Features, checked.Hidden
	if _, err := t.model(); err != nil {
		return nil, false, fmt.Errorf("the round's model payload: %v", err)
	}
	if !(t.Clip > 0) || !(t.Scale > 0) || t.MaxAbs < 1 || !(t.LocalLR > 0) || t.LocalEpochs < 1 || t.LocalEpochs > 1000 || t.Batch < 1 {
		return nil, false, fmt.Errorf("the round's training settings are out of range")
	}
	return &t, true, nil
}

// boundedParams decodes a JSON array of at most max numbers: it counts
// the elements before it allocates, and refuses a longer array, or an
// element that is not a number, with no memory spent on it.
type boundedParams struct {
	max int
	v   []float64
}

// UnmarshalJSON decodes raw, which encoding/json has checked is valid
// JSON (it validates the whole input before decoding any of it): so an
// element that begins like a number is a number, ending at the next
// comma or the closing bracket.
func (p *boundedParams) UnmarshalJSON(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		p.v = nil
		return nil
	}
	if len(raw) < 2 || raw[0] != '[' {
		return fmt.Errorf("the model is not an array of numbers")
	}
	n := 0
	for elem := range jsonElements(raw[1 : len(raw)-1]) {
		if n == p.max {
			return fmt.Errorf("the model has more than the %d parameters of its shape", p.max)
		}
		if c := elem[0]; c != '-' && (c < '0' || c > '9') {
			return fmt.Errorf("parameter %d of the model is not a number", n)
		}
		n++
	}
	p.v = make([]float64, 0, n)
	for elem := range jsonElements(raw[1 : len(raw)-1]) {
		v, err := strconv.ParseFloat(string(elem), 64)
		if err != nil {
			return fmt.Errorf("parameter %d of the model: %v", len(p.v), err)
		}
		p.v = append(p.v, v)
	}
	return nil
}

// jsonElements yields the comma-separated elements of the inside of a
// valid JSON array of numbers, trimmed of white space.
func jsonElements(body []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(bytes.TrimSpace(body)) > 0 {
			elem, rest, _ := bytes.Cut(body, []byte{','})
			if !yield(bytes.TrimSpace(elem)) {
				return
			}
			body = rest
		}
	}
}

// train runs local SGD on the shard from the task's model and returns
// the encoded update (clipped, scaled, stochastically rounded) followed
// by the side coordinate 1 (this client's count). r shuffles the rows and
// rounds the update; nil draws a fresh source. A shard whose number of
// features differs from the model's is refused with an error wrapping
// transport.ErrConfig: the client's data can never fit this federation,
// so the client stops rather than trying again each round.
func (sh *labelledShard) train(t *trainTask, length int, r *rand.Rand) ([]int64, error) {
	m, err := t.model()
	if err != nil {
		return nil, err
	}
	if len(sh.x[0]) != t.Features {
		return nil, fmt.Errorf("%w: the server's %s, %s has %d feature columns (and the label)", transport.ErrConfig, t.describe(), sh.path, len(sh.x[0]))
	}
	if length != len(t.Model)+1 {
		return nil, fmt.Errorf("the round's secure sum has %d coordinates, the server's %s needs %d", length, t.describe(), len(t.Model)+1)
	}
	p := append([]float64(nil), t.Model...)
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
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

// accuracy is the fraction of the shard's rows that model m with
// parameters p classifies right.
func (sh *labelledShard) accuracy(m fedmodels.Model, p []float64) float64 {
	ok := 0
	for i, x := range sh.x {
		if (m.Prob(p, x) >= 0.5) == (sh.y[i] == 1) {
			ok++
		}
	}
	return float64(ok) / float64(len(sh.x))
}

// onRound is a trained task's ServerConfig.OnRound: it applies the
// round's aggregate, checkpoints the model with the accountant's state,
// prints the round and returns the new model for the clients.
func (s *trainServer) onRound(f *fedServerFlags, ck *transport.Checkpoint, stdout io.Writer) func(*transport.RoundReport) ([]byte, error) {
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

// clientTask is a client's side of every task: the mean task's column
// sums, or local training of the model the server names in the round's
// payload (the client has no --task: the server's payload decides, and
// a shard that does not fit it is refused).
type clientTask struct {
	path  string
	sums  []int64
	rows  int64
	shard *labelledShard // read when the server first names a trained task
	// length is the secure sum's length of the last round the client
	// trained in: its result's model must fit it.
	length int
	stdout io.Writer
	// rng, when set, shuffles and rounds every local update (tests
	// only); nil draws a fresh source per round.
	rng *rand.Rand
}

// newClientTask reads the shard's column sums (the mean task).
func newClientTask(path string, scale, clip float64, stdout io.Writer) (*clientTask, error) {
	sums, rows, err := readShard(path, scale, clip)
	if err != nil {
		return nil, err
	}
	return &clientTask{path: path, sums: sums, rows: rows, stdout: stdout}, nil
}

// input is the ClientConfig.Input of the task. Errors that mean this
// client's data can never take part (a shard of the wrong width, or not
// labelled for a trained task) wrap transport.ErrConfig, which stops the
// client with the message.
func (c *clientTask) input(_ context.Context, _ uint64, payload []byte, length int) ([]int64, error) {
	task, ok, err := decodeTrainTask(payload, length)
	if err != nil {
		return nil, err
	}
	if ok {
		c.length = length
		if c.shard == nil {
			if c.shard, err = readLabelled(c.path); err != nil {
				return nil, fmt.Errorf("%w: the server trains the %s: %v", transport.ErrConfig, task.describe(), err)
			}
		}
		return c.shard.train(task, length, c.rng)
	}
	if length != len(c.sums)+1 {
		return nil, fmt.Errorf("%w: the server sums %d columns (its --dim), %s has %d", transport.ErrConfig, length-1, c.path, len(c.sums))
	}
	return append(append([]int64(nil), c.sums...), c.rows), nil
}

// onResult is the ClientConfig.OnResult of the task: it prints the round
// and, for a trained task, the new model's accuracy on the local shard.
// The result's model must fit the last round's secure sum, whose length
// the client accepted when it trained: so a malicious server's payload
// costs no more memory here than in input.
func (c *clientTask) onResult(round uint64, survivors []int, payload []byte) {
	if c.shard != nil && c.length > 0 {
		if task, ok, err := decodeTrainTask(payload, c.length); err == nil && ok && len(c.shard.x[0]) == task.Features {
			if m, err := task.model(); err == nil {
				fmt.Fprintf(c.stdout, "round %d: done, %d clients in the sum, accuracy on the local shard %.4f\n", round, len(survivors), c.shard.accuracy(m, task.Model))
				return
			}
		}
	}
	fmt.Fprintf(c.stdout, "round %d: done, %d clients in the sum\n", round, len(survivors))
}
