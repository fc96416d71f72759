// Command audit runs the study of package auditstudy; see its documentation, or
// run with -h for the flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/privml/privml/benchmarks/internal/auditstudy"
)

func main() {
	if err := auditstudy.Main(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "audit:", err)
		os.Exit(1)
	}
}
