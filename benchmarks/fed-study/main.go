// Command fed-study runs the study of package fedstudy (DP-FedAvg accuracy
// against ε); until package federated has training rounds it prints that
// it is skipped and exits 0.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/privml/privml/benchmarks/internal/fedstudy"
	"github.com/privml/privml/benchmarks/internal/study"
)

func main() {
	err := fedstudy.Main(os.Args[1:], os.Stdout)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, study.ErrSkipped):
		fmt.Println(err)
	default:
		fmt.Fprintln(os.Stderr, "fed-study:", err)
		os.Exit(1)
	}
}
