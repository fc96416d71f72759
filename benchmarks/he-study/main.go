// Command he-study runs the study of package hestudy (CKKS inference
// precision and cost per preset); see its documentation, or run with -h.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/privml/privml/benchmarks/internal/hestudy"
)

func main() {
	if err := hestudy.Main(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "he-study:", err)
		os.Exit(1)
	}
}
