package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runDPCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"dp"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestDpInfiniteEpsilonSameInBothModes: an infinite epsilon is an error with
// exit status 1 in text mode as with --json, says why for the accountant
// that was run, and never prints an order 0.
func TestDpInfiniteEpsilonSameInBothModes(t *testing.T) {
	for _, c := range []struct {
		args     []string
		want     string
		mustNot  string
		acctName string
	}{
		{[]string{"epsilon", "--sampling-rate", "1", "--noise-multiplier", "1e-200", "--steps", "1", "--delta", "1e-5"},
			"no RDP order", "mass", "rdp"},
		{[]string{"epsilon", "--sampling-rate", "1", "--noise-multiplier", "1", "--steps", "1", "--delta", "1e-20", "--accountant", "pld", "--interval", "1e-3"},
			"infinite privacy loss exceeds delta", "RDP order", "pld"},
	} {
		for _, json := range []bool{false, true} {
			args := c.args
			if json {
				args = append(append([]string{}, args...), "--json")
			}
			code, out, errs := runDPCmd(t, args...)
			assert.Equal(t, 1, code, "%s json=%v: exit status", c.acctName, json)
			assert.Empty(t, out, "%s json=%v: stdout", c.acctName, json)
			assert.Contains(t, errs, "epsilon is infinite", "%s json=%v", c.acctName, json)
			assert.Contains(t, errs, c.want, "%s json=%v", c.acctName, json)
			assert.NotContains(t, errs, c.mustNot, "%s json=%v", c.acctName, json)
			assert.NotContains(t, errs, "order 0", "%s json=%v", c.acctName, json)
		}
	}
}

// TestDpFlagErrors: bad --interval and --orders values are refused with a
// message in the user's terms (flag names, positions counted from 1).
func TestDpFlagErrors(t *testing.T) {
	base := []string{"epsilon", "--sampling-rate", "0.01", "--noise-multiplier", "1", "--steps", "10", "--delta", "1e-5"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	for _, c := range []struct {
		args    []string
		want    []string
		mustNot []string
	}{
		{with("--accountant", "pld", "--interval", "0"), []string{"--interval = 0"}, nil},
		{with("--accountant", "pld", "--interval", "-1e-3"), []string{"--interval = -0.001"}, nil},
		{with("--accountant", "pld", "--interval", "NaN"), []string{"--interval = NaN"}, nil},
		{with("--orders", "0.5"), []string{"--orders entry 1", "0.5", "> 1"}, []string{"order 0 ", "order 0=", "accounting:"}},
		{with("--orders", "2,3,1"), []string{"--orders entry 3", "order 1,"}, []string{"accounting:"}},
		{with("--orders", "2,x"), []string{"--orders entry 2", `"x"`}, nil},
	} {
		code, out, errs := runDPCmd(t, c.args...)
		assert.Equal(t, 2, code, "%v", c.args)
		assert.Empty(t, out, "%v", c.args)
		for _, w := range c.want {
			assert.Contains(t, errs, w, "%v", c.args)
		}
		for _, w := range c.mustNot {
			assert.NotContains(t, errs, w, "%v", c.args)
		}
	}
}

// TestDpPLDGridErrorNamesFlag: a PLD grid too large for the interval names
// --interval, not the library's field.
func TestDpPLDGridErrorNamesFlag(t *testing.T) {
	code, out, errs := runDPCmd(t, "epsilon", "--sampling-rate", "0.5", "--noise-multiplier", "1", "--steps", "50", "--delta", "1e-5", "--accountant", "pld", "--interval", "1e-7")
	require.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errs, "--interval 1e-07")
	assert.Contains(t, errs, "use a larger --interval")
	assert.NotContains(t, errs, "PLDConfig")
}
