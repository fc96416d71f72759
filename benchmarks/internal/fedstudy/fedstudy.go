// Package fedstudy is the study run by benchmarks/fed-study: DP-FedAvg
// test accuracy against client-level ε on Adult, with central Gaussian
// noise (a trusted server noises the sum) and with the distributed
// discrete Gaussian mechanism under secure aggregation at B bits (Kairouz,
// Liu and Steinke 2021; every client noises its own update before
// masking). It writes benchmarks/results/fed.md and fed.png.
//
//	go run ./benchmarks/fed-study [-quick] [-clients 500] [-per-round 100] [-rounds 20]
//	    [-dropout 0.1] [-bits 12,16,20] [-seed 1]
//
// The data are the embedded Adult rows (internal/fedmodels.AdultSplit:
// one-hot, standardised, 80/20 split), split IID over the clients; the
// model is logistic regression; each sampled client runs 2 local epochs of
// SGD (batch 16, learning rate 0.5) and the server applies FedAvg with
// learning rate 1. Clients are Poisson-sampled at q = per-round/clients
// and each drops out with the given probability at a random protocol
// step. For each ε the noise multiplier is federated.NoiseForEpsilon for
// the run's rounds at δ = 1e-5 (the RDP accountant of dp/accounting);
// updates are clipped to L2 norm 1. A bit width too small for the
// distributed noise is a configuration error of package federated and is
// reported as such. Runs are seeded (federated.Config.InsecureSeed): NOT
// private, a study only.
package fedstudy

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/privml/privml/benchmarks/internal/study"
	"github.com/privml/privml/federated"
	"github.com/privml/privml/internal/dataset"
	"github.com/privml/privml/internal/fedmodels"
)

const (
	delta = 1e-5
	clip  = 1.0
)

// settings are the sizes of a run.
type settings struct {
	clients, perRound, rounds int
	dropout                   float64
	bits                      []uint
	eps                       []float64
}

// Point is one federated training run.
type Point struct {
	Mode     string // "none", "central" or "distributed B=.."
	Epsilon  float64
	Z        float64
	Accuracy float64
	Failed   string // configuration refused (too few bits)
}

// Main runs the study with the command-line args, printing progress to out.
func Main(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fed-study", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "tiny settings: 40 clients, 10 per round, 3 rounds, epsilon 8, B = 20")
	fs.String("data", "", "unused: the study needs only embedded data")
	seed := fs.Uint64("seed", 1, "seed of the split, sampling, dropouts, training and noise (NOT private: study only)")
	dir := fs.String("out", study.ResultsDir(), "results folder")
	clients := fs.Int("clients", 500, "number of clients")
	perRound := fs.Int("per-round", 100, "expected clients per round (Poisson sampling)")
	rounds := fs.Int("rounds", 20, "rounds")
	dropout := fs.Float64("dropout", 0.1, "probability that a sampled client drops out")
	bits := fs.String("bits", "12,16,20", "field bits B of the distributed discrete-Gaussian runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s := settings{clients: *clients, perRound: *perRound, rounds: *rounds, dropout: *dropout, eps: []float64{1, 2, 4, 8}}
	var err error
	if s.bits, err = parseBits(*bits); err != nil {
		return err
	}
	if *quick {
		s = settings{clients: 40, perRound: 10, rounds: 3, dropout: *dropout, bits: []uint{20}, eps: []float64{8}}
	}
	switch {
	case s.clients < 2 || s.perRound < 2 || s.perRound > s.clients:
		return fmt.Errorf("-clients = %d, -per-round = %d: want 2 <= per-round <= clients", s.clients, s.perRound)
	case !(s.dropout >= 0 && s.dropout < 1):
		return fmt.Errorf("-dropout = %v, want in [0, 1)", s.dropout)
	case s.rounds < 1:
		return fmt.Errorf("-rounds = %d, want >= 1", s.rounds)
	}
	run, err := study.NewRun("fed", *dir, *seed, *quick, out)
	if err != nil {
		return err
	}
	train, test, err := fedmodels.AdultSplit()
	if err != nil {
		return err
	}
	run.Progress("Adult: %d training rows over %d clients, %d test rows; %d rounds, %d clients per round, dropout %g",
		train.Rows, s.clients, test.Rows, s.rounds, s.perRound, s.dropout)
	var pts []*Point
	add := func(p *Point, err error) error {
		if err != nil {
			return err
		}
		if p.Failed != "" {
			run.Progress("%-16s eps %g: refused: %s", p.Mode, p.Epsilon, p.Failed)
		} else {
			run.Progress("%-16s eps %g: z %.3f, test accuracy %.4f", p.Mode, p.Epsilon, p.Z, p.Accuracy)
		}
		pts = append(pts, p)
		return nil
	}
	if err := add(trainRun(s, train, test, *seed, federated.DPNone, 0, math.Inf(1))); err != nil {
		return err
	}
	for _, e := range s.eps {
		if err := add(trainRun(s, train, test, *seed, federated.DPCentral, 0, e)); err != nil {
			return err
		}
		for _, b := range s.bits {
			if err := add(trainRun(s, train, test, *seed, federated.DPDistributed, b, e)); err != nil {
				return err
			}
		}
	}
	return write(run, s, pts)
}

func parseBits(s string) ([]uint, error) {
	var out []uint
	for _, f := range strings.Split(s, ",") {
		b, err := strconv.ParseUint(strings.TrimSpace(f), 10, 8)
		if err != nil || b < 2 || b > 62 {
			return nil, fmt.Errorf("-bits: %q is not a bit width in 2..62", f)
		}
		out = append(out, uint(b))
	}
	return out, nil
}

// trainRun trains one federated model and returns its point; a
// configuration package federated refuses becomes a Failed point.
func trainRun(s settings, train, test *dataset.Dataset, seed uint64, mode federated.DPMode, bits uint, eps float64) (*Point, error) {
	p := &Point{Mode: mode.String(), Epsilon: eps}
	if mode == federated.DPDistributed {
		p.Mode = fmt.Sprintf("distributed B=%d", bits)
	}
	r := rand.New(rand.NewPCG(seed, 0x666564))
	var key [32]byte
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	parts, err := federated.SplitIID(train.Rows, s.clients, r)
	if err != nil {
		return nil, err
	}
	model := fedmodels.LogReg{D: train.Cols}
	clients := fedmodels.Clients(model, train, parts, fedmodels.SGD{Epochs: 2, Batch: 16, LR: 0.5})
	cfg := federated.Config{Shape: model.Shape(), ClientsPerRound: s.perRound, Clip: clip, InsecureSeed: &key,
		Availability: federated.Simulated(s.dropout, 0)}
	q := float64(s.perRound) / float64(s.clients)
	if mode != federated.DPNone {
		if p.Z, err = federated.NoiseForEpsilon(eps, q, s.rounds, delta); err != nil {
			return nil, err
		}
		cfg.DP = federated.DPConfig{Mode: mode, NoiseMultiplier: p.Z, Delta: delta}
	}
	if mode == federated.DPDistributed {
		cfg.Secure = &federated.SecureConfig{Bits: bits}
	}
	srv, err := federated.NewServer(cfg, clients, model.Init(r))
	if errors.Is(err, federated.ErrConfig) && mode == federated.DPDistributed {
		p.Failed = err.Error()
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	for range s.rounds {
		if _, err := srv.Round(); err != nil {
			return nil, fmt.Errorf("%s, epsilon %g: %w", p.Mode, eps, err)
		}
	}
	p.Accuracy = fedmodels.Accuracy(model, srv.Model(), test)
	return p, nil
}

func write(run *study.Run, s settings, pts []*Point) error {
	modes := []string{"central"}
	for _, b := range s.bits {
		modes = append(modes, fmt.Sprintf("distributed B=%d", b))
	}
	header := append([]string{"client-level ε (δ = 1e-5)", "z"}, modes...)
	t := &study.Table{Header: header}
	var none *Point
	cell := map[string]map[float64]*Point{}
	for _, p := range pts {
		if p.Mode == "none" {
			none = p
			continue
		}
		if cell[p.Mode] == nil {
			cell[p.Mode] = map[float64]*Point{}
		}
		cell[p.Mode][p.Epsilon] = p
	}
	series := map[string]plotter.XYs{}
	for _, e := range s.eps {
		row := []any{fmt.Sprint(e), fmt.Sprintf("%.3f", cell["central"][e].Z)}
		for _, m := range modes {
			p := cell[m][e]
			if p.Failed != "" {
				row = append(row, "refused: too few bits")
				continue
			}
			row = append(row, fmt.Sprintf("%.2f %%", 100*p.Accuracy))
			series[m] = append(series[m], plotter.XY{X: e, Y: 100 * p.Accuracy})
		}
		t.Add(row...)
	}
	if none != nil {
		row := []any{"∞ (no DP, no secure aggregation)", "0", fmt.Sprintf("%.2f %%", 100*none.Accuracy)}
		for range modes[1:] {
			row = append(row, "")
		}
		t.Add(row...)
	}
	var ss []study.Series
	for _, m := range modes {
		ss = append(ss, study.Series{Name: m, XY: series[m]})
	}
	if none != nil && len(s.eps) > 0 {
		ss = append(ss, study.Series{Name: "no DP", Dashed: true,
			XY: plotter.XYs{{X: s.eps[0], Y: 100 * none.Accuracy}, {X: s.eps[len(s.eps)-1], Y: 100 * none.Accuracy}}})
	}
	cmd := "go run ./benchmarks/fed-study"
	if run.Quick {
		cmd += " -quick"
	}
	notes := fmt.Sprintf(`Adult (embedded, one-hot, standardised), IID over %d clients; logistic regression; %d rounds,
Poisson sampling q = %.3g (%d clients per round expected), dropout %g per sampled client at a random
protocol step; 2 local epochs of SGD (batch 16, rate 0.5); FedAvg (server rate 1); updates clipped to L2
norm 1; noise multiplier z from federated.NoiseForEpsilon (RDP) for the whole run. Central: the server
noises the sum in the clear (trusted server). Distributed: SecAgg+ in process, each client adds discrete
Gaussian noise calibrated for the minimum number of survivors (package federated), so the sum carries at
least the central noise; fewer bits mean coarser rounding and more modular clipping. One seed per cell.`,
		s.clients, s.rounds, float64(s.perRound)/float64(s.clients), s.perRound, s.dropout)
	if _, err := run.WriteMarkdown("DP-FedAvg: test accuracy against client-level ε", cmd, study.Section{Table: t, Notes: notes}); err != nil {
		return err
	}
	_, err := run.WritePNG(".png", study.Plot{Title: "DP-FedAvg on Adult: accuracy against client-level epsilon",
		X: "client-level epsilon (log scale)", Y: "test accuracy %", LogX: true, XTicks: s.eps, LegendBottomRight: true, Series: ss})
	return err
}
