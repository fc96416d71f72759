package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"time"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
)

func init() {
	register("fed", "federated learning: simulate a secure-aggregation round", runFed)
}

func runFed(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: privml fed simulate --clients N --dim D --dropout P [--threat semi-honest|malicious] [--bits B] [--json]")
		printFedCommands(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "simulate":
		return fedSimulate(args[1:], stdout, stderr)
	}
	if sub, ok := fedCommands[args[0]]; ok {
		return sub.run(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "privml fed: unknown subcommand %q (want simulate%s)\n", args[0], fedCommandList())
	return 2
}

// fedSimReport is the --json output of "privml fed simulate".
type fedSimReport struct {
	Correct            bool               `json:"correct"`
	Error              string             `json:"error,omitempty"`
	Clients            int                `json:"clients"`
	Dim                int                `json:"dim"`
	Bits               uint               `json:"bits"`
	Threat             string             `json:"threat"`
	DropoutRate        float64            `json:"dropout"`
	CorruptRate        float64            `json:"corrupt"`
	K                  int                `json:"k"`
	T                  int                `json:"t"`
	Dropped            int                `json:"dropped"`
	Survivors          int                `json:"survivors"`
	ClientMS           float64            `json:"client_ms"`
	ServerMS           float64            `json:"server_ms"`
	ClientCPUMS        float64            `json:"client_cpu_ms"`
	ServerCPUMS        float64            `json:"server_cpu_ms"`
	ClientMSByRound    map[string]float64 `json:"client_ms_by_round"`
	ServerMSByRound    map[string]float64 `json:"server_ms_by_round"`
	BytesUpPerClient   float64            `json:"bytes_up_per_client"`
	BytesDownPerClient float64            `json:"bytes_down_per_client"`
}

func fedSimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("privml fed simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("clients", 100, "number of clients")
	dim := fs.Int("dim", 1000, "vector length")
	dropout := fs.Float64("dropout", 0.05, "fraction of clients that drop out, each at a random round")
	threat := fs.String("threat", "semi-honest", "threat model: semi-honest or malicious")
	bits := fs.Uint("bits", 32, "modulus bits B (sums in Z_2^B), 8 to 62")
	corrupt := fs.Float64("corrupt", 0.05, "fraction of clients assumed to collude with the server (drives k and t)")
	seed := fs.Uint64("seed", 1, "seed of the simulated inputs and dropouts (key material always comes from crypto/rand)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "privml fed simulate: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg := secagg.Config{NumClients: *n, Dim: *dim, Bits: *bits, DropoutRate: *dropout, CorruptRate: *corrupt}
	opts := sim.Options{}
	switch *threat {
	case "semi-honest":
	case "malicious":
		cfg.Threat = secagg.Malicious
		if *n >= 2 && *n <= secagg.MaxClients {
			pub, priv, err := sim.NewIdentities(*n, nil)
			if err != nil {
				fmt.Fprintln(stderr, "privml fed simulate:", err)
				return 1
			}
			cfg.Identities, opts.Identities = pub, priv
		}
	default:
		fmt.Fprintf(stderr, "privml fed simulate: --threat %q, want semi-honest or malicious\n", *threat)
		return 2
	}
	var sb [32]byte
	if _, err := rand.Read(sb[:]); err != nil {
		fmt.Fprintln(stderr, "privml fed simulate:", err)
		return 1
	}
	cfg.SessionSeed = sb
	p, err := secagg.NewParams(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "privml fed simulate:", err)
		return 2
	}
	pc := p.Config()

	// Dropouts: round(P*n) clients, each at a round drawn uniformly among
	// those in which clients send.
	rng := mrand.New(mrand.NewPCG(*seed, 0x5eca66))
	rounds := []secagg.Round{secagg.RoundAdvertise, secagg.RoundShareKeys, secagg.RoundMaskedInput, secagg.RoundUnmask}
	if cfg.Threat == secagg.Malicious {
		rounds = append(rounds, secagg.RoundConsistency)
	}
	nDrop := int(*dropout*float64(*n) + 0.5)
	opts.Drop = map[secagg.Round][]int{}
	for _, id := range rng.Perm(*n)[:nDrop] {
		rd := rounds[rng.IntN(len(rounds))]
		opts.Drop[rd] = append(opts.Drop[rd], id)
	}
	lim := pc.MaxAbs
	inputs := func(client int, dst []int64) {
		r := mrand.New(mrand.NewPCG(*seed, uint64(client)+1))
		for j := range dst {
			dst[j] = int64(r.Uint64N(2*lim+1)) - int64(lim)
		}
	}
	start := time.Now()
	rep, err := sim.Run(p, inputs, opts)
	if err != nil {
		fmt.Fprintln(stderr, "privml fed simulate:", err)
		return 1
	}
	wall := time.Since(start)

	out := fedSimReport{
		Correct: rep.Correct, Clients: *n, Dim: *dim, Bits: p.Bits(), Threat: pc.Threat.String(),
		DropoutRate: *dropout, CorruptRate: *corrupt, K: p.Degree(), T: p.Threshold(), Dropped: nDrop,
		ClientMSByRound: map[string]float64{}, ServerMSByRound: map[string]float64{},
	}
	if rep.Err != nil {
		out.Error = rep.Err.Error()
	}
	if rep.Result != nil {
		out.Survivors = len(rep.Result.Survivors)
	}
	for rd, d := range rep.ClientTime {
		out.ClientMSByRound[rd.String()] = fedMS(d)
		out.ClientMS += fedMS(d)
	}
	for rd, d := range rep.ServerTime {
		out.ServerMSByRound[rd.String()] = fedMS(d)
		out.ServerMS += fedMS(d)
	}
	for _, d := range rep.ClientCPU {
		out.ClientCPUMS += fedMS(d)
	}
	for _, d := range rep.ServerCPU {
		out.ServerCPUMS += fedMS(d)
	}
	var up, down, active int
	for i := range rep.BytesUp {
		if rep.BytesUp[i] > 0 {
			up += rep.BytesUp[i]
			down += rep.BytesDown[i]
			active++
		}
	}
	if active > 0 {
		out.BytesUpPerClient = float64(up) / float64(active)
		out.BytesDownPerClient = float64(down) / float64(active)
	}
	for _, v := range []*float64{&out.ClientMS, &out.ServerMS, &out.ClientCPUMS, &out.ServerCPUMS, &out.BytesUpPerClient, &out.BytesDownPerClient} {
		*v = math.Round(*v*1000) / 1000
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(stderr, "privml fed simulate:", err)
			return 1
		}
	} else {
		fmt.Fprintf(stdout, "secure aggregation: %d clients, dim %d, B=%d, %s server, k=%d, t=%d\n", out.Clients, out.Dim, out.Bits, out.Threat, out.K, out.T)
		fmt.Fprintf(stdout, "dropped %d clients; %d inputs in the sum\n", out.Dropped, out.Survivors)
		fmt.Fprintf(stdout, "%-24s %12s %12s   (wall clock; client = mean per client)\n", "round", "client ms", "server ms")
		for _, rd := range []secagg.Round{secagg.RoundAdvertise, secagg.RoundShareKeys, secagg.RoundMaskedInput, secagg.RoundConsistency, secagg.RoundUnmask} {
			c, okc := out.ClientMSByRound[rd.String()]
			s, oks := out.ServerMSByRound[rd.String()]
			if okc || oks {
				fmt.Fprintf(stdout, "%-24s %12.3f %12.3f\n", rd, c, s)
			}
		}
		fmt.Fprintf(stdout, "%-24s %12.3f %12.3f\n", "total (wall)", out.ClientMS, out.ServerMS)
		fmt.Fprintf(stdout, "%-24s %12.3f %12.3f\n", "total (CPU)", out.ClientCPUMS, out.ServerCPUMS)
		fmt.Fprintf(stdout, "bytes per client: %.0f up, %.0f down\n", out.BytesUpPerClient, out.BytesDownPerClient)
		fmt.Fprintf(stdout, "wall time %v (all clients simulated in one process)\n", wall.Round(time.Millisecond))
		if rep.Err != nil {
			fmt.Fprintf(stdout, "aborted: %v\n", rep.Err)
		}
		fmt.Fprintf(stdout, "correct: %v\n", out.Correct)
	}
	if !out.Correct {
		if rep.Err != nil && errors.Is(rep.Err, secagg.ErrTooFewClients) {
			return 1
		}
		return 1
	}
	return 0
}

func fedMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
