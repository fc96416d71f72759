// Command fed-study runs the study of package fedstudy (DP-FedAvg accuracy
// against client-level ε, central and distributed noise); see its
// documentation, or run with -h.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/privml/privml/benchmarks/internal/fedstudy"
)

func main() {
	if err := fedstudy.Main(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "fed-study:", err)
		os.Exit(1)
	}
}
