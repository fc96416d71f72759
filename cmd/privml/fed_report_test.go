package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runFedCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"fed"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestFedSimulateHelpExitsZero(t *testing.T) {
	for _, h := range []string{"-h", "--help", "-help"} {
		code, _, stderr := runFedCLI("simulate", h)
		assert.Equal(t, 0, code, "privml fed simulate %s", h)
		assert.Contains(t, stderr, "-clients", "privml fed simulate %s prints the flags", h)
	}
	code, _, _ := runFedCLI("-h")
	assert.Equal(t, 0, code)
}

// TestFedSimulateReportsDropouts checks the JSON report: one entry per
// dropped client with the round it went silent in, in_sum true exactly for
// those that had sent their masked input, and inputs_in_sum the number of
// clients minus the others.
func TestFedSimulateReportsDropouts(t *testing.T) {
	for _, threat := range []string{"semi-honest", "malicious"} {
		code, stdout, stderr := runFedCLI("simulate", "--clients", "40", "--dim", "20", "--dropout", "0.2", "--threat", threat, "--seed", "3", "--json")
		require.Equal(t, 0, code, "stderr: %s", stderr)
		var rep struct {
			Correct     bool `json:"correct"`
			Clients     int  `json:"clients"`
			Dropped     int  `json:"dropped"`
			InputsInSum int  `json:"inputs_in_sum"`
			Survivors   int  `json:"survivors"`
			Dropouts    []struct {
				Client int    `json:"client"`
				Round  string `json:"round"`
				InSum  bool   `json:"in_sum"`
			} `json:"dropouts"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
		require.True(t, rep.Correct)
		require.Equal(t, 8, rep.Dropped)
		require.Len(t, rep.Dropouts, 8)
		out := 0
		seen := map[int]bool{}
		rounds := map[string]bool{}
		for _, d := range rep.Dropouts {
			assert.False(t, seen[d.Client], "client %d listed twice", d.Client)
			seen[d.Client] = true
			rounds[d.Round] = true
			sent := d.Round == "Unmasking" || d.Round == "ConsistencyCheck"
			assert.Equal(t, sent, d.InSum, "%s: client %d dropped at %s", threat, d.Client, d.Round)
			assert.Contains(t, []string{"AdvertiseKeys", "ShareKeys", "MaskedInputCollection", "ConsistencyCheck", "Unmasking"}, d.Round)
			if threat == "semi-honest" {
				assert.NotEqual(t, "ConsistencyCheck", d.Round)
			}
			if !d.InSum {
				out++
			}
		}
		assert.Greater(t, len(rounds), 1, "seed 3 spreads the dropouts over several rounds")
		assert.Equal(t, rep.Clients-out, rep.InputsInSum)
		assert.Equal(t, rep.Survivors, rep.InputsInSum)
	}
}

// TestFedSimulateTextNamesDropoutRounds checks that the text report names
// each dropped client under its round and the number of inputs summed.
func TestFedSimulateTextNamesDropoutRounds(t *testing.T) {
	args := []string{"simulate", "--clients", "30", "--dim", "10", "--dropout", "0.2", "--seed", "5"}
	code, text, stderr := runFedCLI(args...)
	require.Equal(t, 0, code, stderr)
	code, js, _ := runFedCLI(append(args, "--json")...)
	require.Equal(t, 0, code)
	var rep struct {
		InputsInSum int `json:"inputs_in_sum"`
		Dropouts    []struct {
			Client int    `json:"client"`
			Round  string `json:"round"`
		} `json:"dropouts"`
	}
	require.NoError(t, json.Unmarshal([]byte(js), &rep))
	// Same seed, same dropouts: every client appears on its round's line.
	lines := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		if m := regexp.MustCompile(`before sending their (\w+) message .*: (.*)$`).FindStringSubmatch(l); m != nil {
			lines[m[1]] = m[2]
		}
	}
	require.NotEmpty(t, lines, text)
	for _, d := range rep.Dropouts {
		ids := strings.Split(lines[d.Round], ", ")
		assert.Contains(t, ids, strconv.Itoa(d.Client), "client %d under %s:\n%s", d.Client, d.Round, text)
	}
	assert.Contains(t, text, "inputs in the sum: "+strconv.Itoa(rep.InputsInSum)+" of 30")
}

func fakeMeminfo(t *testing.T, content string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meminfo")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	old := memInfoPath
	memInfoPath = path
	t.Cleanup(func() { memInfoPath = old })
}

// TestFedSimulateRefusesTooMuchMemory runs a simulation that would
// allocate hundreds of megabytes on a machine said to have 64 MiB
// available: it must be refused with both figures named, before the
// vectors (or even the identities) are allocated.
func TestFedSimulateRefusesTooMuchMemory(t *testing.T) {
	fakeMeminfo(t, "MemTotal:       8000000 kB\nMemFree:         100000 kB\nMemAvailable:      65536 kB\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, stdout, stderr := runFedCLI("simulate", "--clients", "500", "--dim", "5000000", "--threat", "malicious")
	runtime.ReadMemStats(&after)
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	// 5,000,000 coordinates at (4*8 + 3*4 + 2*4) * 1.5 = 78 bytes, the
	// runtime's 16 MiB, and 2 KiB per client and neighbour.
	assert.Contains(t, stderr, "(78 bytes per coordinate")
	m := regexp.MustCompile(`needs about ([0-9.]+) MiB of memory`).FindStringSubmatch(stderr)
	require.NotNil(t, m, stderr)
	need, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	assert.InDelta(t, 5e6*78/(1<<20)+16+500*50*2048.0/(1<<20), need, 500*50*2048.0/(1<<20), "degree up to 100")
	assert.Contains(t, stderr, "more than the 64.0 MiB available (MemAvailable in ")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "allocated before refusing")

	// Without MemAvailable (old kernels), MemTotal is the bound.
	fakeMeminfo(t, "MemTotal:          65536 kB\n")
	code, _, stderr = runFedCLI("simulate", "--clients", "10", "--dim", "2000000", "--bits", "40")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "available (MemTotal in ")

	// Enough memory: the same reading lets a small run through.
	code, _, stderr = runFedCLI("simulate", "--clients", "10", "--dim", "100", "--dropout", "0")
	assert.Equal(t, 0, code, stderr)

	// An unreadable file gives no figure: the check stands aside.
	memInfoPath = filepath.Join(t.TempDir(), "absent")
	code, _, stderr = runFedCLI("simulate", "--clients", "10", "--dim", "100", "--dropout", "0")
	assert.Equal(t, 0, code, stderr)
}

func TestMemAvailableParsing(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		content, field string
		bytes          uint64
		ok             bool
	}{
		{"MemTotal: 2048 kB\nMemAvailable: 1024 kB\n", "MemAvailable", 1 << 20, true},
		{"MemTotal: 2048 kB\n", "MemTotal", 2 << 20, true},
		{"MemAvailable: lots kB\nMemTotal: 4 kB\n", "MemTotal", 4096, true},
		{"MemAvailable: 12 MB\n", "", 0, false},
		{"", "", 0, false},
	} {
		path := filepath.Join(dir, "m")
		require.NoError(t, os.WriteFile(path, []byte(c.content), 0o600))
		b, field, ok := memAvailable(path)
		assert.Equal(t, c.ok, ok, "%q", c.content)
		assert.Equal(t, c.field, field, "%q", c.content)
		assert.Equal(t, c.bytes, b, "%q", c.content)
	}
}
