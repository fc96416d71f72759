package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun runs the example and checks each round's sum was exact.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, 8, 500, 2); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	if strings.Count(s, "sum equals the plain sum: true") != 2 {
		t.Fatalf("want two exact rounds:\n%s", s)
	}
}
