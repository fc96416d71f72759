package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMain runs main with a small setting (two epochs, seeded).
func TestMainSmall(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "out.png")
	old := os.Args
	defer func() { os.Args = old }()
	os.Args = []string{"dpsgd", "-epochs", "2", "-insecure-seed", "3", "-plot", plot}
	main()
	if fi, err := os.Stat(plot); err != nil || fi.Size() == 0 {
		t.Fatalf("plot not written: %v", err)
	}
}

// TestRunLearnsAndAccounts: after three epochs the model beats chance by far
// and epsilon grows every epoch.
func TestRunLearnsAndAccounts(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-epochs", "3", "-insecure-seed", "5"}, &out); err != nil {
		t.Fatal(err)
	}
	var prevEps float64
	var lastAcc float64
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		if _, err := strconv.Atoi(f[0]); err != nil {
			continue
		}
		acc, _ := strconv.ParseFloat(f[2], 64)
		eps, _ := strconv.ParseFloat(f[3], 64)
		if eps <= prevEps {
			t.Errorf("epsilon did not grow: %v after %v", eps, prevEps)
		}
		prevEps, lastAcc = eps, acc
		rows++
	}
	if rows != 3 {
		t.Fatalf("%d epoch rows in output:\n%s", rows, out.String())
	}
	if lastAcc < 0.6 {
		t.Errorf("test accuracy %v after 3 epochs (chance is 0.1)", lastAcc)
	}
	if !strings.Contains(out.String(), "not private") {
		t.Error("seeded run does not warn that it is not private")
	}
}

func TestBadFlags(t *testing.T) {
	if err := run([]string{"-epochs", "0"}, &bytes.Buffer{}); err == nil {
		t.Error("-epochs 0 accepted")
	}
	if err := run([]string{"-noise", "-1"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "noise multiplier = -1") {
		t.Errorf("-noise -1: %v", err)
	}
}
