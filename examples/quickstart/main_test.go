package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun runs the quickstart and checks each pillar reported a correct
// result, not just that it printed something.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, 16); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"== dp", "== anonymize", "== federated/secagg", "== he",
		"verified: k=4, distinct l=3",
		"correct: true",
		"result released false",
		"16/16 decisions agree",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
