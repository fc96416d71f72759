// Command dpsgd-study runs the study of package dpsgdstudy; see its documentation, or
// run with -h for the flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/privml/privml/benchmarks/internal/dpsgdstudy"
)

func main() {
	if err := dpsgdstudy.Main(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "dpsgd-study:", err)
		os.Exit(1)
	}
}
