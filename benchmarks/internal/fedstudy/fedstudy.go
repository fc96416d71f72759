// Package fedstudy is the study run by benchmarks/fed-study: DP-FedAvg
// accuracy against ε with central noise and with distributed
// discrete-Gaussian noise at B ∈ {12, 16, 20} bits. It needs the training
// rounds of package federated, which this tree does not have yet, so
// [Main] checks its flags and returns an error wrapping [study.ErrSkipped].
package fedstudy

import (
	"flag"
	"fmt"
	"io"

	"github.com/privml/privml/benchmarks/internal/study"
)

// Main parses the study's flags and reports that it is skipped.
func Main(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fed-study", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Bool("quick", false, "tiny settings")
	fs.String("data", "", "folder of the shared data sets")
	fs.Uint64("seed", 1, "seed")
	fs.String("out", study.ResultsDir(), "results folder")
	clients := fs.Int("clients", 100, "number of clients")
	perRound := fs.Int("per-round", 20, "clients per round")
	dropout := fs.Float64("dropout", 0.1, "fraction of the clients of a round that drop out")
	bits := fs.String("bits", "12,16,20", "field bits B of the distributed discrete-Gaussian runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *clients < 2 || *perRound < 2 || *perRound > *clients:
		return fmt.Errorf("-clients = %d, -per-round = %d: want 2 <= per-round <= clients", *clients, *perRound)
	case !(*dropout >= 0 && *dropout < 1):
		return fmt.Errorf("-dropout = %v, want in [0, 1)", *dropout)
	}
	_ = bits
	return fmt.Errorf("fed-study: %w: needs package federated rounds (DP-FedAvg training rounds), not in this tree yet", study.ErrSkipped)
}
