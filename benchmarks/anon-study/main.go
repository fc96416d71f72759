// Command anon-study runs the study of package anonstudy; see its documentation, or
// run with -h for the flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/privml/privml/benchmarks/internal/anonstudy"
)

func main() {
	if err := anonstudy.Main(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "anon-study:", err)
		os.Exit(1)
	}
}
