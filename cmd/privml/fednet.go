package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/transport"
	pb "github.com/privml/privml/federated/transport/transportpb"
	"github.com/privml/privml/internal/mtls"
)

// The network commands run the federated mean task: each client's input is
// the fixed-point sum of the numeric columns of its CSV shard, with its row
// count as a side coordinate; the server prints the mean of every column
// over the survivors of each round. (Training rounds plug into the same
// OnRound and Input hooks.)

func init() {
	registerFed("server", "run a federation server over gRPC with mutual TLS", fedServer)
	registerFed("client", "run a federation client that dials the server", fedClient)
}

// checkpointFile is the server's checkpoint inside --state.
const checkpointFile = "server.ckpt"

type fedServerFlags struct {
	listen, tlsDir, stateDir, threat string
	beacon, task, optimizer          string
	clients, dim, localEpochs, batch int
	hidden                           int
	serverLR, updateClip, noise      float64
	delta, localLR                   float64
	rounds                           uint64
	bits                             uint
	scale, dropout                   float64
	stageTimeout, startTimeout       time.Duration
	linger                           time.Duration
	asJSON                           bool
	// insecureSeed, when not 0, seeds the initial model (tests only; no
	// flag sets it).
	insecureSeed uint64
}

func parseFedServer(args []string, stderr io.Writer) (*fedServerFlags, int) {
	f := &fedServerFlags{}
	fs := flag.NewFlagSet("privml fed server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:7400", "address to listen on, host:port")
	fs.StringVar(&f.tlsDir, "tls", "", "directory with ca.crt, server.crt, server.key (from privml fed certs; required)")
	fs.IntVar(&f.clients, "clients", 0, "number of clients on the roster, ids 0 to N-1 (required)")
	fs.Uint64Var(&f.rounds, "rounds", 0, "number of rounds to run (required)")
	fs.StringVar(&f.stateDir, "state", "", "directory for the checkpoint; a restarted server resumes after the last completed round")
	fs.IntVar(&f.dim, "dim", 0, "number of numeric columns in the clients' CSV files (required)")
	fs.UintVar(&f.bits, "bits", 48, "modulus bits of the secure sum, 8 to 62")
	fs.Float64Var(&f.scale, "scale", 1000, "fixed-point scale of the values")
	fs.Float64Var(&f.dropout, "dropout", 0.1, "expected fraction of clients that drop out (drives the neighbourhood size)")
	fs.StringVar(&f.threat, "threat", "semi-honest", "threat model: semi-honest or malicious (identities from the client certificates)")
	fs.StringVar(&f.beacon, "beacon", "", "public randomness beacon value fixed in advance, the same for the server and every client; the malicious model's session seeds derive from it (required with --threat malicious)")
	fs.StringVar(&f.task, "task", "mean", "mean (column sums and means of the shards), logreg (federated logistic regression on the shards' features, last column the 0/1 label) or mlp (a one-hidden-layer tanh network on the same data)")
	fs.IntVar(&f.hidden, "hidden", 16, fmt.Sprintf("mlp: hidden units, 1 to %d; the model's hidden*(dim+2)+1 parameters must fit a client's download (at most %d)", maxHidden, maxParams))
	fs.StringVar(&f.optimizer, "optimizer", "fedavg", "logreg, mlp: server optimizer (fedavg, fedavgm, fedadam, fedyogi, fedadagrad)")
	fs.Float64Var(&f.serverLR, "server-lr", 1, "logreg, mlp: server learning rate")
	fs.Float64Var(&f.updateClip, "update-clip", 1, "logreg, mlp: L2 bound of each client's model update")
	fs.Float64Var(&f.noise, "noise", 0, "logreg, mlp: noise multiplier of the server's Gaussian noise (standard deviation noise*update-clip); 0 for none")
	fs.Float64Var(&f.delta, "delta", 1e-5, "logreg, mlp: delta of the reported client-level epsilon")
	fs.Float64Var(&f.localLR, "local-lr", 0.5, "logreg, mlp: clients' SGD learning rate")
	fs.IntVar(&f.localEpochs, "local-epochs", 1, "logreg, mlp: clients' local epochs per round")
	fs.IntVar(&f.batch, "batch", 16, "logreg, mlp: clients' minibatch size")
	fs.DurationVar(&f.stageTimeout, "stage-timeout", 30*time.Second, "deadline of each stage; silent clients count as dropped")
	fs.DurationVar(&f.startTimeout, "start-timeout", time.Minute, "how long each round waits for every client to be present")
	fs.DurationVar(&f.linger, "linger", 3*time.Second, "how long to keep serving after the last round, so clients learn it ended")
	fs.BoolVar(&f.asJSON, "json", false, "JSON logs on stderr and one JSON object per round on stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	switch {
	case fs.NArg() != 0:
		fmt.Fprintf(stderr, "privml fed server: unexpected arguments %q\n", fs.Args())
	case f.tlsDir == "" || f.clients < 2 || f.rounds < 1 || f.dim < 1:
		fmt.Fprintln(stderr, "privml fed server: --tls DIR, --clients N (at least 2), --rounds R (at least 1) and --dim D are required")
	case f.threat != "semi-honest" && f.threat != "malicious":
		fmt.Fprintf(stderr, "privml fed server: --threat %q, want semi-honest or malicious\n", f.threat)
	case f.threat == "malicious" && f.beacon == "":
		fmt.Fprintln(stderr, "privml fed server: --threat malicious needs --beacon, a value the clients know too (the server must not choose the session seeds)")
	case f.task != "mean" && !slices.Contains(trainTasks, f.task):
		fmt.Fprintf(stderr, "privml fed server: --task %q, want mean, logreg or mlp\n", f.task)
	case f.task == "mlp" && (f.hidden < 1 || f.hidden > maxHidden):
		fmt.Fprintf(stderr, "privml fed server: --hidden %d, want 1 to %d\n", f.hidden, maxHidden)
	case f.task != "mean" && f.dim > maxFeatures:
		fmt.Fprintf(stderr, "privml fed server: --dim %d, a trained task takes at most %d features\n", f.dim, maxFeatures)
	case f.task == "mlp" && f.hidden*(f.dim+2)+1 > maxParams:
		// hidden*dim weights, hidden biases and output weights, one
		// output bias: within int, as both flags are in range.
		fmt.Fprintf(stderr, "privml fed server: --dim %d and --hidden %d make an mlp of %d parameters; a client downloads at most %d (%d MiB at %d bytes a parameter): lower --dim or --hidden\n",
			f.dim, f.hidden, f.hidden*(f.dim+2)+1, maxParams, transport.DefaultMaxDownloadSize>>20, paramBytes)
	case !(f.noise >= 0) || math.IsInf(f.noise, 0) || !(f.delta > 0 && f.delta < 1) || !(f.localLR > 0) || f.localEpochs < 1 || f.batch < 1:
		fmt.Fprintln(stderr, "privml fed server: --noise must be >= 0, --delta in (0, 1), --local-lr > 0, --local-epochs and --batch >= 1")
	case !(f.scale > 0) || math.IsInf(f.scale, 0):
		fmt.Fprintf(stderr, "privml fed server: --scale %v, want a positive number\n", f.scale)
	default:
		return f, -1
	}
	return nil, 2
}

// fedRoundLine is the per-round report of "privml fed server" (-json).
type fedRoundLine struct {
	Round     uint64    `json:"round"`
	Present   int       `json:"present"`
	Survivors []int     `json:"survivors"`
	Dropouts  int       `json:"dropouts"`
	Error     string    `json:"error,omitempty"`
	MS        int64     `json:"round_ms"`
	Epsilon   *float64  `json:"epsilon"` // null: no DP noise (the mean task, or --noise 0)
	Sum       []int64   `json:"sum,omitempty"`
	Rows      int64     `json:"rows"`
	Mean      []float64 `json:"mean,omitempty"`
	Model     []float64 `json:"model,omitempty"` // logreg, mlp: the global model after the round
}

func fedServer(args []string, stdout, stderr io.Writer) int {
	f, code := parseFedServer(args, stderr)
	if f == nil {
		return code
	}
	log := newLogger(stderr, f.asJSON)
	cfg, ck, err := fedServerConfig(f)
	if err != nil {
		fmt.Fprintf(stderr, "privml fed server: %v\n", err)
		return 1
	}
	// A trained task's checkpoint must have this shape even when every
	// round is done (fedServerConfig checked the task).
	if f.task != "mean" {
		if _, err := configureTrain(f, &cfg, ck, stdout); err != nil {
			fmt.Fprintf(stderr, "privml fed server: %v\n", err)
			return 1
		}
	}
	if cfg.FirstRound > f.rounds {
		fmt.Fprintf(stdout, "all %d rounds already completed (checkpoint in %s)\n", f.rounds, f.stateDir)
		return 0
	}
	cfg.Logger = log
	if f.task != "mean" {
		return serveFederation(f, cfg, log, stderr)
	}
	cfg.OnRound = func(rep *transport.RoundReport) ([]byte, error) {
		line := roundLine(rep, f.scale)
		ck.Round, ck.State = rep.Round, nil
		if b, err := json.Marshal(line); err == nil && rep.Err == nil {
			ck.State = b
		}
		if f.stateDir != "" {
			if err := transport.WriteCheckpoint(filepath.Join(f.stateDir, checkpointFile), ck); err != nil {
				return nil, err
			}
		}
		printRound(stdout, line, f.asJSON, f.clients)
		// The mean task's clients need nothing back but the survivors.
		return nil, nil
	}
	return serveFederation(f, cfg, log, stderr)
}

// checkpointTask names the task whose state a checkpoint holds: a trained
// task's name, "mean" for the mean task's state (the last round's
// report), or "" for none (a start before any round).
func checkpointTask(state []byte) string {
	if len(state) == 0 {
		return ""
	}
	var t struct {
		Task string `json:"task"`
	}
	if json.Unmarshal(state, &t) == nil && t.Task != "" {
		return t.Task
	}
	return "mean"
}

// fedServerConfig builds the server's configuration and reads (and
// advances) its checkpoint.
func fedServerConfig(f *fedServerFlags) (transport.ServerConfig, *transport.Checkpoint, error) {
	cfg := transport.ServerConfig{
		Secagg:       secagg.Config{NumClients: f.clients, Dim: f.dim, SideDim: 1, Bits: f.bits, DropoutRate: f.dropout},
		LastRound:    f.rounds,
		StageTimeout: f.stageTimeout,
		StartTimeout: f.startTimeout,
	}
	if f.threat == "malicious" {
		roster, err := mtls.LoadRoster(f.tlsDir, f.clients)
		if err != nil {
			return cfg, nil, err
		}
		cfg.Secagg.Threat, cfg.Secagg.Identities = secagg.Malicious, roster
		cfg.Secagg.CorruptRate = 0.05
		// Each client derives the same seeds from --beacon and refuses
		// any other.
		cfg.SessionSeed = transport.BeaconSeeds([]byte(f.beacon), roster)
	}
	ck := &transport.Checkpoint{}
	if f.stateDir != "" {
		if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
			return cfg, nil, err
		}
		path := filepath.Join(f.stateDir, checkpointFile)
		prev, err := transport.ReadCheckpoint(path)
		if err != nil {
			return cfg, nil, err
		}
		if prev != nil {
			ck = prev
		}
		// The checkpoint must be of this task, or a server pointed at
		// another task's --state would take that task's rounds for its
		// own.
		got := checkpointTask(ck.State)
		if got == "" && ck.Round > 0 {
			got = "mean" // whose state is empty after an aborted round; a trained task's never is
		}
		if got != "" && got != f.task {
			return cfg, nil, fmt.Errorf("the checkpoint %s was made by --task %s, not %s; give another --state directory or the same task", path, got, f.task)
		}
		if f.task != "mean" {
			// A trained task's state must restore into the flags'
			// shape before the start is recorded.
			tr, err := prepareTrainServer(f, nil)
			if err != nil {
				return cfg, nil, err
			}
			if len(ck.State) > 0 {
				if err := tr.restore(ck.State); err != nil {
					return cfg, nil, fmt.Errorf("%s: %w", path, err)
				}
			}
		}
		if ck.Epoch == math.MaxUint32 {
			// A wrap would make the secagg Sequences of earlier starts
			// come round again.
			return cfg, nil, fmt.Errorf("%s: %w: the start count is at its maximum", path, transport.ErrCheckpoint)
		}
		ck.Epoch++
		// Record the start before any round, so that a crash in the
		// next round still advances the epoch (and the Sequence).
		if err := transport.WriteCheckpoint(path, ck); err != nil {
			return cfg, nil, err
		}
	}
	cfg.FirstRound, cfg.Epoch = ck.Round+1, ck.Epoch
	return cfg, ck, nil
}

func roundLine(rep *transport.RoundReport, scale float64) *fedRoundLine {
	line := &fedRoundLine{Round: rep.Round, Present: rep.Present, Dropouts: len(rep.DroppedAt), MS: rep.Duration.Milliseconds()}
	if rep.Err != nil {
		line.Error = rep.Err.Error()
		return line
	}
	line.Survivors = rep.Result.Survivors
	line.Sum = rep.Result.Main()
	line.Rows = rep.Result.Side()[0]
	if line.Rows > 0 {
		for _, v := range line.Sum {
			line.Mean = append(line.Mean, float64(v)/scale/float64(line.Rows))
		}
	}
	return line
}

func printRound(w io.Writer, l *fedRoundLine, asJSON bool, n int) {
	if asJSON {
		b, _ := json.Marshal(l)
		fmt.Fprintln(w, string(b))
		return
	}
	if l.Error != "" {
		fmt.Fprintf(w, "round %d: aborted (%d dropouts): %s\n", l.Round, l.Dropouts, l.Error)
		return
	}
	if l.Model != nil {
		eps := "n/a (no DP noise)"
		if l.Epsilon != nil {
			eps = strconv.FormatFloat(*l.Epsilon, 'g', 4, 64)
		}
		fmt.Fprintf(w, "round %d: %d/%d clients in the sum, %d dropouts, %d ms, epsilon %s, model norm %.4g\n",
			l.Round, len(l.Survivors), n, l.Dropouts, l.MS, eps, l2norm(l.Model))
		return
	}
	show := l.Mean
	if len(show) > 4 {
		show = show[:4]
	}
	fmt.Fprintf(w, "round %d: %d/%d clients in the sum, %d dropouts, %d ms, epsilon n/a (no DP noise), rows %d, mean %.4g\n",
		l.Round, len(l.Survivors), n, l.Dropouts, l.MS, l.Rows, show)
}

// serveFederation listens, runs the rounds and shuts down cleanly on
// SIGINT/SIGTERM or when the rounds are done.
func serveFederation(f *fedServerFlags, cfg transport.ServerConfig, log *slog.Logger, stderr io.Writer) int {
	tlsConf, err := mtls.LoadServerConfig(f.tlsDir)
	if err != nil {
		fmt.Fprintf(stderr, "privml fed server: %v\n", err)
		return 1
	}
	srv, err := transport.NewServer(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "privml fed server: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		fmt.Fprintf(stderr, "privml fed server: %v\n", err)
		return 1
	}
	lis := transport.LimitListener(ln, 4*f.clients+16)
	g := transport.NewGRPCServer(srv, tlsConf, transport.Limits{MaxConnections: 4*f.clients + 16})
	go func() { _ = g.Serve(lis) }()
	log.Info("listening", "addr", ln.Addr().String(), "clients", f.clients, "first_round", cfg.FirstRound, "last_round", cfg.LastRound)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runErr := srv.Run(ctx)
	if runErr == nil {
		select { // let clients learn that the federation ended
		case <-time.After(f.linger):
		case <-ctx.Done():
		}
	}
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.Stop()
	}
	switch {
	case runErr == nil:
		return 0
	case ctx.Err() != nil:
		log.Info("shut down on signal")
		return 0
	}
	fmt.Fprintf(stderr, "privml fed server: %v\n", runErr)
	return 1
}

func newLogger(w io.Writer, asJSON bool) *slog.Logger {
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

type fedClientFlags struct {
	server, tlsDir, data, serverName, crashAt string
	beacon, stateDir                          string
	id, roster                                int
	scale, clip                               float64
	retryFor                                  time.Duration
	asJSON                                    bool
}

func parseFedClient(args []string, stderr io.Writer) (*fedClientFlags, int) {
	f := &fedClientFlags{}
	fs := flag.NewFlagSet("privml fed client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.server, "server", "127.0.0.1:7400", "server address, host:port")
	fs.StringVar(&f.tlsDir, "tls", "", "directory with ca.crt and client-<id>.crt/.key (required)")
	fs.IntVar(&f.id, "id", -1, "this client's id, as in its certificate (required)")
	fs.StringVar(&f.data, "data", "", "CSV file with a header row and numeric columns: this client's shard (required)")
	fs.StringVar(&f.serverName, "server-name", "", "name to verify in the server's certificate (default: the host of --server)")
	fs.IntVar(&f.roster, "roster", 0, "number of clients whose certificates in --tls form the roster; required for the malicious threat model")
	fs.StringVar(&f.beacon, "beacon", "", "public randomness beacon value fixed in advance, as given to the server; with --roster, the client derives each round's session seed from it and refuses any other")
	fs.StringVar(&f.stateDir, "state", "", "directory where the client records the last session it took part in, so that a restarted client cannot be replayed an earlier one")
	fs.Float64Var(&f.scale, "scale", 1000, "fixed-point scale of the values (as the server's)")
	fs.Float64Var(&f.clip, "clip", 1e6, "values are clipped to [-clip, clip]")
	fs.DurationVar(&f.retryFor, "retry-for", 2*time.Minute, "give up when the server stays unreachable this long")
	fs.StringVar(&f.crashAt, "crash-at", "", "testing aid: ROUND:STAGE (advertise, share_keys, masked_input, unmask) at which the process exits abruptly, as if killed")
	fs.BoolVar(&f.asJSON, "json", false, "JSON logs")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	switch {
	case fs.NArg() != 0:
		fmt.Fprintf(stderr, "privml fed client: unexpected arguments %q\n", fs.Args())
	case f.tlsDir == "" || f.id < 0 || f.data == "":
		fmt.Fprintln(stderr, "privml fed client: --tls DIR, --id I and --data FILE are required")
	case (f.roster > 0) != (f.beacon != ""):
		fmt.Fprintln(stderr, "privml fed client: --roster N and --beacon VALUE go together (the malicious threat model needs both)")
	case !(f.scale > 0) || !(f.clip > 0) || math.IsInf(f.scale*f.clip, 0):
		fmt.Fprintln(stderr, "privml fed client: --scale and --clip must be positive and finite")
	default:
		return f, -1
	}
	return nil, 2
}

func fedClient(args []string, stdout, stderr io.Writer) int {
	f, code := parseFedClient(args, stderr)
	if f == nil {
		return code
	}
	task, err := newClientTask(f.data, f.scale, f.clip, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "privml fed client: %v\n", err)
		return 1
	}
	cfg, err := fedClientConfig(f, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "privml fed client: %v\n", err)
		return 1
	}
	cfg.Input, cfg.OnResult = task.input, task.onResult
	c, err := transport.NewClient(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "privml fed client: %v\n", err)
		return 1
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "privml fed client: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "client %d: took part in %d rounds\n", f.id, c.Rounds())
	return 0
}

func fedClientConfig(f *fedClientFlags, stderr io.Writer) (transport.ClientConfig, error) {
	name := f.serverName
	if name == "" {
		host, _, err := net.SplitHostPort(f.server)
		if err != nil {
			return transport.ClientConfig{}, fmt.Errorf("--server %q: %v", f.server, err)
		}
		name = host
	}
	tlsConf, err := mtls.LoadClientConfig(f.tlsDir, f.id, name)
	if err != nil {
		return transport.ClientConfig{}, err
	}
	cfg := transport.ClientConfig{Addr: f.server, TLS: tlsConf, ID: f.id, RetryFor: f.retryFor, Logger: newLogger(stderr, f.asJSON)}
	if f.roster > 0 {
		if cfg.Roster, err = mtls.LoadRoster(f.tlsDir, f.roster); err != nil {
			return cfg, err
		}
		if cfg.Identity, err = mtls.LoadIdentity(f.tlsDir, f.id); err != nil {
			return cfg, err
		}
		cfg.SessionSeed = transport.BeaconSeeds([]byte(f.beacon), cfg.Roster)
	}
	if f.stateDir != "" {
		if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
			return cfg, err
		}
		cfg.Sequences = secagg.FileSequenceStore{Path: filepath.Join(f.stateDir, fmt.Sprintf("client-%d.sequence", f.id))}
	}
	if f.crashAt != "" {
		round, stage, err := parseCrashAt(f.crashAt)
		if err != nil {
			return cfg, err
		}
		cfg.BeforeStage = func(r uint64, s transport.Stage) error {
			if r == round && s == stage {
				os.Exit(3)
			}
			return nil
		}
	}
	return cfg, nil
}

func parseCrashAt(s string) (uint64, transport.Stage, error) {
	r, st, ok := strings.Cut(s, ":")
	round, err := strconv.ParseUint(r, 10, 64)
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("--crash-at %q, want ROUND:STAGE", s)
	}
	stage, ok := pb.Stage_value["STAGE_"+strings.ToUpper(st)]
	if !ok || stage < int32(pb.Stage_STAGE_ADVERTISE) {
		return 0, 0, fmt.Errorf("--crash-at %q: unknown stage %q", s, st)
	}
	return round, transport.Stage(stage), nil
}

// readShard returns the fixed-point column sums of a CSV file (header
// row, then numeric rows) and its number of rows.
func readShard(path string, scale, clip float64) ([]int64, int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	header, err := r.Read()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: cannot read the header: %v", path, err)
	}
	sums := make([]int64, len(header))
	var rows int64
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %v", path, err)
		}
		for j, field := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
			if err != nil || math.IsNaN(v) {
				return nil, 0, fmt.Errorf("%s: line %d, column %q: %q is not a number", path, line, header[j], field)
			}
			v = math.Max(-clip, math.Min(clip, v))
			sums[j] += int64(math.Round(v * scale))
		}
		rows++
	}
	return sums, rows, nil
}
