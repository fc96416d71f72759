package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestFedSimulateJSON(t *testing.T) {
	for _, args := range [][]string{
		{"fed", "simulate", "--clients", "20", "--dim", "100", "--dropout", "0.1", "--json"},
		{"fed", "simulate", "--clients", "12", "--dim", "50", "--dropout", "0.1", "--threat", "malicious", "--bits", "40", "--json"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d, stderr %s, stdout %s", args, code, errb.String(), out.String())
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("%v: output is not one JSON object: %v\n%s", args, err, out.String())
		}
		for _, f := range []string{"correct", "k", "t", "client_ms", "server_ms", "bytes_up_per_client", "bytes_down_per_client"} {
			if _, ok := m[f]; !ok {
				t.Fatalf("%v: JSON lacks %q: %s", args, f, out.String())
			}
		}
		if m["correct"] != true {
			t.Fatalf("%v: correct = %v", args, m["correct"])
		}
		if k, tt := m["k"].(float64), m["t"].(float64); tt < 2 || tt > k+1 {
			t.Fatalf("%v: k=%v t=%v", args, k, tt)
		}
		if m["bytes_up_per_client"].(float64) <= 0 || m["server_ms"].(float64) <= 0 {
			t.Fatalf("%v: no traffic or time measured: %s", args, out.String())
		}
	}
}

func TestFedSimulateText(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"fed", "simulate", "--clients", "5", "--dim", "10", "--dropout", "0"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"k=", "t=", "MaskedInputCollection", "bytes per client", "correct: true"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFedSimulateRejectsBadArguments(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"fed", "simulate", "--threat", "paranoid"}, "threat"},
		{[]string{"fed", "simulate", "--bits", "70"}, "Bits"},
		{[]string{"fed", "simulate", "--clients", "1000", "--bits", "8"}, "modulus too small"},
		{[]string{"fed", "frobnicate"}, "unknown subcommand"},
		{[]string{"fed", "simulate", "--clients", "1"}, "NumClients"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != 2 {
			t.Fatalf("%v: exit %d, want 2", c.args, code)
		}
		if !strings.Contains(errb.String(), c.msg) {
			t.Fatalf("%v: stderr %q lacks %q", c.args, errb.String(), c.msg)
		}
	}
}
