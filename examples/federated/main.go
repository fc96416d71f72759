// Command federated trains a logistic regression on the UCI Adult census
// data (embedded in the repository) across several hundred simulated
// clients that never share their rows: every round samples clients, each
// trains locally, their updates are added up with SecAgg+ (package
// federated/secagg: the server sees only the sum) and protected by
// client-level differential privacy. It prints, per round, the clients
// sampled, the dropouts, the test accuracy and the epsilon spent, and at
// the end the same model trained centrally without privacy.
//
// Usage:
//
//	go run ./examples/federated [-clients 500] [-rounds 40] [-clients-per-round 100]
//	    [-dropout 0.1] [-epsilon 8] [-delta 1e-5] [-dp none|central|distributed]
//	    [-strategy fedavg] [-bits 20] [-clip 1] [-adaptive] [-alpha 0] [-model logreg|mlp]
//	    [-over-select 0.3] [-latency 2s] [-deadline 5s] [-threat semi-honest|malicious]
//	    [-insecure-seed N] [-json]
//
// With -dp distributed (the default) every client adds discrete Gaussian
// noise to its encoded update before masking (Kairouz, Liu and Steinke
// 2021), so the server never sees a noiseless sum; -dp central is
// DP-FedAvg (the server adds the noise after unmasking); -dp none trains
// without DP but still with secure aggregation. -alpha > 0 splits the data
// non-IID (Dirichlet over labels). -insecure-seed makes the run repeatable
// bit for bit (and its noise and masks predictable: a simulation only).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/privml/privml/federated"
	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/internal/dataset"
	"github.com/privml/privml/internal/fedmodels"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "examples/federated:", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	clients, rounds, perRound int
	dropout, epsilon, delta   float64
	strategy, dpMode, model   string
	bits                      uint
	clip, serverLR, alpha     float64
	localEpochs, batch        int
	localLR                   float64
	seed                      uint64
	json                      bool
	overSelect                float64
	latency, deadline         time.Duration
	adaptive                  bool
	threat                    string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("federated", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.clients, "clients", 500, "number of simulated clients")
	fs.IntVar(&o.rounds, "rounds", 40, "number of rounds")
	fs.IntVar(&o.perRound, "clients-per-round", 100, "expected clients sampled per round (Poisson sampling)")
	fs.Float64Var(&o.dropout, "dropout", 0.1, "probability that a sampled client drops out")
	fs.Float64Var(&o.epsilon, "epsilon", 8, "client-level epsilon after all rounds (DP modes)")
	fs.Float64Var(&o.delta, "delta", 1e-5, "delta of the client-level guarantee")
	fs.StringVar(&o.strategy, "strategy", "fedavg", "server optimizer: fedavg, fedavgm, fedadam, fedyogi or fedadagrad")
	fs.StringVar(&o.dpMode, "dp", "distributed", "client-level DP: none, central or distributed")
	fs.StringVar(&o.model, "model", "logreg", "logreg or mlp")
	fs.UintVar(&o.bits, "bits", 0, "bits of the secure sum (default 20 with distributed DP, else 32)")
	fs.Float64Var(&o.clip, "clip", 1, "L2 bound of a client's update")
	fs.Float64Var(&o.serverLR, "server-lr", 0, "server learning rate (0: the strategy's default, 1 for fedavg and fedavgm)")
	fs.Float64Var(&o.alpha, "alpha", 0, "Dirichlet alpha of a non-IID split (0: IID)")
	fs.IntVar(&o.localEpochs, "local-epochs", 2, "local SGD epochs")
	fs.IntVar(&o.batch, "batch", 16, "local minibatch size")
	fs.Float64Var(&o.localLR, "lr", 0.5, "local SGD learning rate")
	fs.Uint64Var(&o.seed, "insecure-seed", 0, "seed for a repeatable simulation (0: crypto/rand)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the progress")
	fs.Float64Var(&o.overSelect, "over-select", 0, "extra fraction of clients sampled for stragglers (the first clients-per-round reports are used)")
	fs.DurationVar(&o.latency, "latency", 0, "mean simulated client latency (exponential; 0: none)")
	fs.DurationVar(&o.deadline, "deadline", 0, "round deadline: later clients are dropouts (0: none)")
	fs.StringVar(&o.threat, "threat", "semi-honest", "secure-aggregation threat model: semi-honest or malicious (signed adverts, consistency round)")
	fs.BoolVar(&o.adaptive, "adaptive", false, "adaptive clipping toward the median update norm (DP modes)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.clients < 2:
		return nil, fmt.Errorf("-clients = %d, want at least 2", o.clients)
	case o.rounds < 1:
		return nil, fmt.Errorf("-rounds = %d, want at least 1", o.rounds)
	case o.perRound < 2 || o.perRound > o.clients:
		return nil, fmt.Errorf("-clients-per-round = %d, want 2 to -clients = %d", o.perRound, o.clients)
	case !(o.dropout >= 0 && o.dropout < 1):
		return nil, fmt.Errorf("-dropout = %v, want [0, 1)", o.dropout)
	case o.threat != "semi-honest" && o.threat != "malicious":
		return nil, fmt.Errorf("-threat = %q, want semi-honest or malicious", o.threat)
	case !(o.overSelect >= 0) || o.latency < 0 || o.deadline < 0:
		return nil, fmt.Errorf("-over-select, -latency and -deadline must not be negative")
	case o.localEpochs < 1 || o.batch < 1:
		return nil, fmt.Errorf("-local-epochs and -batch must be at least 1")
	}
	return o, nil
}

// newOptimizer maps -strategy to a server optimizer; a zero -server-lr
// keeps the strategy's own default learning rate.
func newOptimizer(name string, lr float64) (federated.ServerOptimizer, error) {
	var opts []federated.OptimizerOption
	if lr != 0 {
		opts = append(opts, federated.WithServerLearningRate(lr))
	}
	opt, err := federated.NewServerOptimizer(name, opts...)
	if err != nil {
		return nil, fmt.Errorf("-strategy %s: %w", name, err)
	}
	return opt, nil
}

// data is the prepared Adult split.
type data struct {
	train, test *dataset.Dataset
}

// loadAdult prepares the Adult split (see fedmodels.AdultSplit).
func loadAdult() (*data, error) {
	train, test, err := fedmodels.AdultSplit()
	if err != nil {
		return nil, err
	}
	return &data{train: train, test: test}, nil
}

func newModel(name string, d int) (fedmodels.Model, error) {
	switch name {
	case "logreg":
		return fedmodels.LogReg{D: d}, nil
	case "mlp":
		return fedmodels.MLP{D: d, H: 16}, nil
	}
	return nil, fmt.Errorf("-model = %q, want logreg or mlp", name)
}

// summary is the -json output.
type summary struct {
	Rounds            int          `json:"rounds"`
	Clients           int          `json:"clients"`
	ClientsPerRound   int          `json:"clients_per_round"`
	DPMode            string       `json:"dp_mode"`
	SecureAggregation bool         `json:"secure_aggregation"`
	Epsilon           *float64     `json:"epsilon"`
	Delta             float64      `json:"delta"`
	DeltaTail         float64      `json:"delta_tail,omitempty"`
	ServerEpsilon     *float64     `json:"server_epsilon,omitempty"`
	MostInSums        int          `json:"most_in_sums,omitempty"`
	Accountant        string       `json:"accountant,omitempty"`
	NoiseMultiplier   float64      `json:"noise_multiplier,omitempty"`
	SamplingRate      float64      `json:"sampling_rate"`
	Bits              uint         `json:"bits"`
	Strategy          string       `json:"strategy"`
	Model             string       `json:"model"`
	FinalAccuracy     float64      `json:"final_accuracy"`
	BaselineAccuracy  float64      `json:"baseline_accuracy"`
	DropoutsTotal     int          `json:"dropouts_total"`
	SkippedRounds     int          `json:"skipped_rounds"`
	WallMS            int64        `json:"wall_ms"`
	History           []roundPoint `json:"history"`
}

type roundPoint struct {
	Round    int      `json:"round"`
	Sampled  int      `json:"sampled"`
	Dropouts int      `json:"dropouts"`
	Accuracy float64  `json:"accuracy"`
	Epsilon  *float64 `json:"epsilon"`
	Clipped  *float64 `json:"clipped"` // null with DP unless -adaptive (see federated.RoundReport)
}

func run(args []string, stdout io.Writer) error {
	start := time.Now()
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	mode, err := federated.ParseDPMode(o.dpMode)
	if err != nil {
		return err
	}
	opt, err := newOptimizer(o.strategy, o.serverLR)
	if err != nil {
		return err
	}
	d, err := loadAdult()
	if err != nil {
		return err
	}
	model, err := newModel(o.model, d.train.Cols)
	if err != nil {
		return err
	}
	progress := stdout
	if o.json {
		progress = io.Discard
	}
	srv, sum, err := setUp(o, mode, opt, d, model)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "Adult: %d training rows over %d clients, %d test rows; %s with %d parameters\n",
		d.train.Rows, o.clients, d.test.Rows, o.model, model.Shape().Size())
	fmt.Fprintf(progress, "%d rounds, sampling rate q = %.4g (Poisson), DP %s, secure aggregation (SecAgg+, %s) at %d bits, strategy %s\n",
		o.rounds, sum.SamplingRate, mode, o.threat, sum.Bits, opt.Name())
	if mode != federated.DPNone {
		fmt.Fprintf(progress, "noise multiplier z = %.4g for epsilon <= %g at delta = %g; accountant: %s\n",
			sum.NoiseMultiplier, o.epsilon, o.delta, federated.AccountantName)
	}
	if err := train(o, srv, sum, d, model, progress); err != nil {
		return err
	}
	sum.BaselineAccuracy = baseline(o, d, model)
	sum.WallMS = time.Since(start).Milliseconds()
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	fmt.Fprintf(stdout, "federated accuracy %.4f; the same model trained centrally without privacy: %.4f; difference %+.2f points\n",
		sum.FinalAccuracy, sum.BaselineAccuracy, 100*(sum.FinalAccuracy-sum.BaselineAccuracy))
	if sum.Epsilon != nil {
		tail := ""
		if sum.DeltaTail > 0 {
			tail = fmt.Sprintf(" (+%.2g for modular clipping)", sum.DeltaTail)
		}
		fmt.Fprintf(stdout, "client-level epsilon %.4g at delta %g%s (%s); every round through secure aggregation: %v; %d dropouts; %.1fs\n",
			*sum.Epsilon, sum.Delta, tail, sum.Accountant, sum.SecureAggregation, sum.DropoutsTotal, float64(sum.WallMS)/1000)
		if sum.ServerEpsilon != nil {
			fmt.Fprintf(stdout, "against the server, which knows who took part (no amplification by sampling): epsilon %.4g for the client in the most sums (%d)\n",
				*sum.ServerEpsilon, sum.MostInSums)
		}
	} else {
		fmt.Fprintf(stdout, "no DP; every round through secure aggregation: %v; %d dropouts; %.1fs\n", sum.SecureAggregation, sum.DropoutsTotal, float64(sum.WallMS)/1000)
	}
	return nil
}

// setUp splits the data among the clients and configures the server.
func setUp(o *options, mode federated.DPMode, opt federated.ServerOptimizer, d *data, model fedmodels.Model) (*federated.Server, *summary, error) {
	var seed *[32]byte
	r := rand.New(rand.NewPCG(o.seed, 7))
	if o.seed != 0 {
		seed = new([32]byte)
		for i := range seed {
			seed[i] = byte(r.Uint32())
		}
	} else {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	var parts [][]int
	var err error
	if o.alpha > 0 {
		parts, err = federated.SplitDirichlet(d.train.Y, 2, o.clients, o.alpha, r)
	} else {
		parts, err = federated.SplitIID(d.train.Rows, o.clients, r)
	}
	if err != nil {
		return nil, nil, err
	}
	clients := fedmodels.Clients(model, d.train, parts, fedmodels.SGD{Epochs: o.localEpochs, Batch: o.batch, LR: o.localLR})
	maxRows := 1
	for _, p := range parts {
		maxRows = max(maxRows, len(p))
	}
	sum := &summary{Rounds: o.rounds, Clients: o.clients, ClientsPerRound: o.perRound, DPMode: mode.String(),
		Delta: o.delta, Strategy: opt.Name(), Model: o.model}
	threat := secagg.SemiHonest
	if o.threat == "malicious" {
		threat = secagg.Malicious
	}
	cfg := federated.Config{
		Shape: model.Shape(), ClientsPerRound: o.perRound, Clip: o.clip, Optimizer: opt,
		Availability: federated.Simulated(o.dropout, o.latency), OverSelect: o.overSelect, Deadline: o.deadline, Secure: &federated.SecureConfig{Bits: o.bits, DropoutRate: sessionDropout(o), MaxWeight: float64(maxRows), Threat: threat},
		InsecureSeed: seed, MinReports: max(2, int(float64(o.perRound)*(1-o.dropout)*0.7)),
	}
	q := min(1, float64(o.perRound)*(1+o.overSelect)/float64(o.clients))
	sum.SamplingRate = q
	if mode != federated.DPNone {
		z, err := federated.NoiseForEpsilon(o.epsilon, q, o.rounds, o.delta)
		if err != nil {
			return nil, nil, err
		}
		cfg.DP = federated.DPConfig{Mode: mode, NoiseMultiplier: z, Delta: o.delta}
		if o.adaptive {
			// Andrew et al. 2021's defaults: median, rate 0.2, σ_b = K/20.
			cfg.DP.Adaptive = &federated.AdaptiveClipping{TargetQuantile: 0.5, LearningRate: 0.2,
				IndicatorNoise: max(float64(o.perRound)/20, z/2+0.01)}
		}
		sum.NoiseMultiplier, sum.Accountant = z, federated.AccountantName
	}
	sum.Bits = o.bits
	if sum.Bits == 0 {
		sum.Bits = 32
		if mode == federated.DPDistributed {
			sum.Bits = 20
		}
	}
	srv, err := federated.NewServer(cfg, clients, model.Init(r))
	return srv, sum, err
}

// sessionDropout is the expected fraction of a secure-aggregation
// session's clients that send no input: dropouts before the input (three
// of the four drop steps), late clients, the over-selected ones not
// needed; plus a margin of 0.05.
func sessionDropout(o *options) float64 {
	late := 0.0
	if o.deadline > 0 && o.latency > 0 {
		late = math.Exp(-float64(o.deadline) / float64(o.latency))
	}
	send := (1 - 0.75*o.dropout) * (1 - late)
	used := min(send, 1/(1+o.overSelect))
	return min(0.9, 1-used+0.05)
}

func train(o *options, srv *federated.Server, sum *summary, d *data, model fedmodels.Model, w io.Writer) error {
	sum.SecureAggregation = true
	for range o.rounds {
		rep, err := srv.Round()
		if err != nil {
			return err
		}
		acc := fedmodels.Accuracy(model, srv.Model(), d.test)
		pt := roundPoint{Round: rep.Round, Sampled: rep.Sampled, Dropouts: rep.Dropouts, Accuracy: acc}
		clipped := "clipped n/a"
		if !math.IsNaN(rep.Clipped) {
			c := rep.Clipped
			pt.Clipped = &c
			clipped = fmt.Sprintf("%3.0f%% clipped", 100*c)
		}
		if rep.Accountant != "" {
			e := rep.Epsilon
			pt.Epsilon, sum.Epsilon, sum.Accountant = &e, &e, rep.Accountant
			sum.DeltaTail = rep.TailDelta
			if rep.MostInSums > 0 {
				se := rep.ServerEpsilon
				sum.ServerEpsilon, sum.MostInSums = &se, rep.MostInSums
			}
		}
		sum.History = append(sum.History, pt)
		sum.DropoutsTotal += rep.Dropouts
		if rep.Skipped {
			sum.SkippedRounds++
		} else if !rep.Secure {
			sum.SecureAggregation = false
		}
		sum.FinalAccuracy = acc
		line := fmt.Sprintf("round %3d: %3d sampled, %2d dropouts (%d late), %3d in the secure sum, %s, test accuracy %.4f",
			rep.Round, rep.Sampled, rep.Dropouts, rep.Late, rep.Reports, clipped, acc)
		if o.adaptive {
			line += fmt.Sprintf(", clip %.3g", rep.Clip)
		}
		if pt.Epsilon != nil {
			line += fmt.Sprintf(", epsilon %.3f", *pt.Epsilon)
		}
		if rep.Skipped {
			line += " (skipped: " + rep.SkipReason + ")"
		}
		fmt.Fprintln(w, line)
	}
	if math.IsNaN(sum.FinalAccuracy) {
		return errors.New("training diverged")
	}
	return nil
}

// baseline trains the same model centrally on all training rows, without
// privacy.
func baseline(o *options, d *data, model fedmodels.Model) float64 {
	p := fedmodels.Baseline(model, d.train, rand.New(rand.NewPCG(o.seed, 11)))
	return fedmodels.Accuracy(model, p, d.test)
}
