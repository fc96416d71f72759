package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/privml/privml/dp/accounting"
)

func init() {
	register("dp", "differential privacy: epsilon of DP-SGD, or the noise for a target epsilon", runDP)
}

const dpUsage = `usage:
  privml dp epsilon --sampling-rate Q --noise-multiplier S --steps T --delta D
                    [--accountant rdp|pld] [--conversion cks20|classic] [--orders A,B,...]
                    [--interval I] [--json]
  privml dp sigma   --epsilon E --delta D (--sampling-rate Q --steps T | --sensitivity L2)
                    [--accountant rdp|pld] [--conversion cks20|classic] [--orders A,B,...]
                    [--interval I] [--json]

epsilon: the epsilon after T steps of the Poisson-subsampled Gaussian (DP-SGD)
         with sampling rate Q and noise multiplier S, at delta D.
sigma:   the smallest noise multiplier reaching (E, D) after T such steps; or,
         with --sensitivity, the analytic-Gaussian sigma of one release.

The RDP accountant uses the default order grid 1.1..10.9 (step 0.1), 11..63,
128, 256, 512, 1024 (or --orders) and reports the optimal order; --conversion picks the
RDP-to-(epsilon, delta) conversion (default cks20). The PLD accountant's grid
interval defaults to 1e-4. Both neighbouring relations are add/remove-one.`

func runDP(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, dpUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "epsilon":
		return dpEpsilon(args[1:], stdout, stderr)
	case "sigma":
		return dpSigma(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "privml dp: unknown subcommand %q (want epsilon or sigma)\n", args[0])
	return 2
}

// dpFlags are the flags shared by both subcommands.
type dpFlags struct {
	fs          *flag.FlagSet
	q, sigma    float64
	eps, delta  float64
	sensitivity float64
	steps       int
	accountant  string
	conversion  string
	interval    float64
	orders      string
	json        bool
	set         map[string]bool
}

func newDPFlags(name string, stderr io.Writer) *dpFlags {
	f := &dpFlags{fs: flag.NewFlagSet("privml dp "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.Usage = func() { fmt.Fprintln(stderr, dpUsage) }
	f.fs.Float64Var(&f.q, "sampling-rate", math.NaN(), "Poisson sampling rate q in (0, 1]")
	f.fs.IntVar(&f.steps, "steps", 0, "number of steps T >= 1")
	f.fs.Float64Var(&f.delta, "delta", math.NaN(), "delta in (0, 1)")
	f.fs.StringVar(&f.accountant, "accountant", "rdp", "rdp or pld")
	f.fs.StringVar(&f.conversion, "conversion", "cks20", "RDP conversion: cks20 or classic")
	f.fs.Float64Var(&f.interval, "interval", 1e-4, "PLD grid interval")
	f.fs.StringVar(&f.orders, "orders", "", "RDP orders, comma-separated (default: the built-in grid)")
	f.fs.BoolVar(&f.json, "json", false, "print one JSON object")
	if name == "epsilon" {
		f.fs.Float64Var(&f.sigma, "noise-multiplier", math.NaN(), "noise standard deviation over the clipping norm")
	} else {
		f.fs.Float64Var(&f.eps, "epsilon", math.NaN(), "target epsilon > 0")
		f.fs.Float64Var(&f.sensitivity, "sensitivity", math.NaN(), "L2 sensitivity of a single Gaussian release")
	}
	return f
}

// parse parses args and checks the choices; it returns an exit status > 0
// on failure.
func (f *dpFlags) parse(args []string, stderr io.Writer) int {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return -1
		}
		return 2
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", f.fs.Name(), f.fs.Arg(0))
		return 2
	}
	f.set = map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if f.accountant != "rdp" && f.accountant != "pld" {
		fmt.Fprintf(stderr, "%s: --accountant = %q, want rdp or pld\n", f.fs.Name(), f.accountant)
		return 2
	}
	if f.conversion != "cks20" && f.conversion != "classic" {
		fmt.Fprintf(stderr, "%s: --conversion = %q, want cks20 or classic\n", f.fs.Name(), f.conversion)
		return 2
	}
	// The library reads a zero interval as "the default"; a user who types
	// --interval 0 means something else, so it is refused here.
	if !(f.interval > 0) || math.IsInf(f.interval, 0) {
		fmt.Fprintf(stderr, "%s: --interval = %g, want a finite grid interval > 0\n", f.fs.Name(), f.interval)
		return 2
	}
	return 0
}

func (f *dpFlags) require(stderr io.Writer, names ...string) int {
	for _, n := range names {
		if !f.set[n] {
			fmt.Fprintf(stderr, "%s: missing --%s\n", f.fs.Name(), n)
			return 2
		}
	}
	return 0
}

func (f *dpFlags) rdpConfig() (accounting.RDPConfig, error) {
	c := accounting.RDPConfig{}
	if f.conversion == "classic" {
		c.Conversion = accounting.ConversionClassic
	}
	if f.orders != "" {
		for i, part := range strings.Split(f.orders, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil {
				return c, flagError(fmt.Sprintf("--orders entry %d, %q, is not a number", i+1, part))
			}
			if !(v > 1) {
				return c, flagError(fmt.Sprintf("--orders entry %d is the order %s, want an order > 1", i+1, strings.TrimSpace(part)))
			}
			c.Orders = append(c.Orders, v)
		}
	}
	return c, nil
}

// dpReport is the --json output of both subcommands.
type dpReport struct {
	Epsilon         float64  `json:"epsilon"`
	Delta           float64  `json:"delta"`
	NoiseMultiplier float64  `json:"noise_multiplier"`
	Sigma           *float64 `json:"sigma,omitempty"`
	Sensitivity     *float64 `json:"sensitivity,omitempty"`
	SamplingRate    *float64 `json:"sampling_rate,omitempty"`
	Steps           int      `json:"steps,omitempty"`
	Accountant      string   `json:"accountant"`
	Conversion      string   `json:"conversion,omitempty"`
	Order           *float64 `json:"order,omitempty"`
	Interval        *float64 `json:"interval,omitempty"`
}

// report prints r (--json) or text. An infinite epsilon is no result: it
// is an error, with exit status 1, in both modes.
func (f *dpFlags) report(r dpReport, text string, stdout, stderr io.Writer) int {
	if math.IsInf(r.Epsilon, 1) || math.IsNaN(r.Epsilon) {
		why := "no RDP order of the grid gives a finite bound (try other --orders or --accountant pld)"
		if r.Accountant == "pld" {
			why = "the probability of an infinite privacy loss exceeds delta (the PLD accountant puts the tails it truncates there, so more noise may not help: try a larger --delta or --accountant rdp)"
		}
		fmt.Fprintf(stderr, "%s: epsilon is infinite at delta = %g: %s\n", f.fs.Name(), r.Delta, why)
		return 1
	}
	if !f.json {
		fmt.Fprintln(stdout, text)
		return 0
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(r); err != nil {
		fmt.Fprintf(stderr, "privml dp: %v\n", err)
		return 1
	}
	return 0
}

// flagError is a bad flag value found by the command itself (exit 2).
type flagError string

func (e flagError) Error() string { return string(e) }

func dpFail(stderr io.Writer, cmd string, err error) int {
	if fe, ok := errors.AsType[flagError](err); ok {
		fmt.Fprintf(stderr, "privml dp %s: %s\n", cmd, fe)
		return 2
	}
	if g, ok := errors.AsType[*accounting.GridSizeError](err); ok {
		fmt.Fprintf(stderr, "privml dp %s: the privacy loss distribution needs %.3g grid points at --interval %g (limit %d); use a larger --interval or --accountant rdp\n",
			cmd, g.Points, g.Interval, g.Limit)
		return 1
	}
	fmt.Fprintf(stderr, "privml dp %s: %v\n", cmd, err)
	if errors.Is(err, accounting.ErrInvalidParameter) {
		return 2
	}
	return 1
}

func dpEpsilon(args []string, stdout, stderr io.Writer) int {
	f := newDPFlags("epsilon", stderr)
	if rc := f.parse(args, stderr); rc != 0 {
		return max(rc, 0)
	}
	if rc := f.require(stderr, "sampling-rate", "noise-multiplier", "steps", "delta"); rc != 0 {
		return rc
	}
	r := dpReport{Delta: f.delta, NoiseMultiplier: f.sigma, SamplingRate: &f.q, Steps: f.steps, Accountant: f.accountant}
	var text string
	switch f.accountant {
	case "rdp":
		cfg, err := f.rdpConfig()
		if err != nil {
			return dpFail(stderr, "epsilon", err)
		}
		eps, order, err := accounting.PoissonGaussianEpsilon(f.q, f.sigma, f.steps, f.delta, cfg)
		if err != nil {
			return dpFail(stderr, "epsilon", err)
		}
		r.Epsilon, r.Order, r.Conversion = eps, &order, f.conversion
		text = fmt.Sprintf("epsilon = %.6g at delta = %g (RDP, %s conversion, optimal order %g)", eps, f.delta, f.conversion, order)
	case "pld":
		eps, err := accounting.PoissonGaussianEpsilonPLD(f.q, f.sigma, f.steps, f.delta, accounting.PLDConfig{Interval: f.interval})
		if err != nil {
			return dpFail(stderr, "epsilon", err)
		}
		r.Epsilon, r.Interval = eps, &f.interval
		text = fmt.Sprintf("epsilon = %.6g at delta = %g (PLD, grid interval %g, an upper bound)", eps, f.delta, f.interval)
	}
	return f.report(r, text, stdout, stderr)
}

func dpSigma(args []string, stdout, stderr io.Writer) int {
	f := newDPFlags("sigma", stderr)
	if rc := f.parse(args, stderr); rc != 0 {
		return max(rc, 0)
	}
	if rc := f.require(stderr, "epsilon", "delta"); rc != 0 {
		return rc
	}
	sampled := f.set["sampling-rate"] || f.set["steps"]
	if sampled == f.set["sensitivity"] {
		fmt.Fprintf(stderr, "%s: give either --sampling-rate and --steps, or --sensitivity\n", f.fs.Name())
		return 2
	}
	r := dpReport{Delta: f.delta, Accountant: f.accountant}
	var text string
	if !sampled {
		sigma, err := accounting.AnalyticGaussianSigma(f.eps, f.delta, f.sensitivity)
		if err != nil {
			return dpFail(stderr, "sigma", err)
		}
		r.Epsilon, r.NoiseMultiplier, r.Sigma, r.Sensitivity = f.eps, sigma/f.sensitivity, &sigma, &f.sensitivity
		r.Accountant = "analytic-gaussian"
		text = fmt.Sprintf("sigma = %.6g (noise multiplier %.6g) for one Gaussian release of L2 sensitivity %g at (%g, %g)-DP (analytic Gaussian, Balle and Wang 2018)",
			sigma, sigma/f.sensitivity, f.sensitivity, f.eps, f.delta)
		return f.report(r, text, stdout, stderr)
	}
	if rc := f.require(stderr, "sampling-rate", "steps"); rc != 0 {
		return rc
	}
	r.SamplingRate, r.Steps = &f.q, f.steps
	switch f.accountant {
	case "rdp":
		cfg, err := f.rdpConfig()
		if err != nil {
			return dpFail(stderr, "sigma", err)
		}
		s, eps, err := accounting.CalibratePoissonGaussian(f.eps, f.q, f.steps, f.delta, cfg)
		if err != nil {
			return dpFail(stderr, "sigma", err)
		}
		_, order, err := accounting.PoissonGaussianEpsilon(f.q, s, f.steps, f.delta, cfg)
		if err != nil {
			return dpFail(stderr, "sigma", err)
		}
		r.NoiseMultiplier, r.Epsilon, r.Order, r.Conversion = s, eps, &order, f.conversion
		text = fmt.Sprintf("noise multiplier = %.6g gives epsilon = %.6g <= %g at delta = %g (RDP, %s conversion, optimal order %g)", s, eps, f.eps, f.delta, f.conversion, order)
	case "pld":
		s, eps, err := accounting.CalibratePoissonGaussianPLD(f.eps, f.q, f.steps, f.delta, accounting.PLDConfig{Interval: f.interval})
		if err != nil {
			return dpFail(stderr, "sigma", err)
		}
		r.NoiseMultiplier, r.Epsilon, r.Interval = s, eps, &f.interval
		text = fmt.Sprintf("noise multiplier = %.6g gives epsilon = %.6g <= %g at delta = %g (PLD, grid interval %g)", s, eps, f.eps, f.delta, f.interval)
	}
	return f.report(r, text, stdout, stderr)
}
