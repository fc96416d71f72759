package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// fedCommands are the "privml fed" subcommands that live in files of their
// own (fedcerts.go, fednet.go); each registers itself with registerFed
// from an init function.
var fedCommands = map[string]command{}

func registerFed(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	if _, dup := fedCommands[name]; dup {
		panic("privml: duplicate fed subcommand " + name)
	}
	fedCommands[name] = command{summary: summary, run: run}
}

// fedCommandList returns ", a, b" for the registered subcommands, sorted.
func fedCommandList() string {
	names := make([]string, 0, len(fedCommands))
	for n := range fedCommands {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return ""
	}
	return ", " + strings.Join(names, ", ")
}

// printFedCommands lists the registered subcommands with their summaries.
func printFedCommands(w io.Writer) {
	names := make([]string, 0, len(fedCommands))
	for n := range fedCommands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "       privml fed %s -h: %s\n", n, fedCommands[n].summary)
	}
}
