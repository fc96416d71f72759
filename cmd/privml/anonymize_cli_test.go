package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smallCSV is a table with header that a --qi age,zip --k 2 run anonymizes.
const smallCSV = "age,zip,disease\n30,81661,flu\n31,81662,cold\n45,81663,flu\n46,81664,cold\n50,81665,flu\n52,81666,cold\n"

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// assertNoTemp fails if a temporary output file is left in dir.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp-", "temporary file left behind")
	}
}

func TestAnonymizeRefusesCollidingPaths(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, smallCSV)
	hier := filepath.Join(dir, "zip.csv")
	writeFile(t, hier, "81661;8166*;*\n81662;8166*;*\n81663;8166*;*\n81664;8166*;*\n81665;8166*;*\n81666;8166*;*\n")
	key := filepath.Join(dir, "key")
	writeFile(t, key, "0123456789abcdef0123456789abcdef")
	link := filepath.Join(dir, "link.csv")
	require.NoError(t, os.Symlink(in, link))
	hard := filepath.Join(dir, "hard.csv")
	require.NoError(t, os.Link(in, hard))
	dotted := filepath.Join(dir, ".", "sub", "..", "in.csv")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	out := filepath.Join(dir, "out.csv")
	writeFile(t, out, "previous output\n")
	base := func(extra ...string) []string {
		return append([]string{"--qi", "age,zip", "--k", "2"}, extra...)
	}
	cases := []struct {
		name  string
		args  []string
		flags []string // the two flags the message must name
	}{
		{"report is in", base("--in", in, "--out", filepath.Join(dir, "o1.csv"), "--report", in), []string{"--in", "--report"}},
		{"report is out", base("--in", in, "--out", out, "--report", out), []string{"--out", "--report"}},
		{"out is in", base("--in", in, "--out", in), []string{"--in", "--out"}},
		{"out is a link to in", base("--in", in, "--out", link), []string{"--in", "--out"}},
		{"report is a hard link to in", base("--in", in, "--out", filepath.Join(dir, "o2.csv"), "--report", hard), []string{"--in", "--report"}},
		{"report is in, spelled differently", base("--in", in, "--out", filepath.Join(dir, "o3.csv"), "--report", dotted), []string{"--in", "--report"}},
		{"report is a hierarchy", base("--in", in, "--out", filepath.Join(dir, "o4.csv"), "--hierarchy", "zip="+hier, "--report", hier), []string{"--report", "--hierarchy zip"}},
		{"out is the key file", base("--in", in, "--out", key, "--pseudonymize", "disease", "--key-file", key), []string{"--out", "--key-file"}},
		{"hierarchy is in", base("--in", in, "--out", filepath.Join(dir, "o5.csv"), "--hierarchy", "zip="+in), []string{"--in", "--hierarchy zip"}},
	}
	for _, c := range cases {
		code, stdout, stderr := runCLI(t, c.args...)
		assert.Equal(t, 2, code, "%s: %s", c.name, stderr)
		assert.Empty(t, stdout, c.name)
		assert.Contains(t, stderr, "name the same file", c.name)
		for _, f := range c.flags {
			assert.Contains(t, stderr, f+" ", c.name)
		}
		// Refused before any work: not even the kinds of the QIs were chosen.
		assert.NotContains(t, stderr, "QI age", c.name)
	}
	assert.Equal(t, smallCSV, readFile(t, in), "input changed")
	assert.Equal(t, "previous output\n", readFile(t, out), "output changed")
	assert.Equal(t, "0123456789abcdef0123456789abcdef", readFile(t, key), "key changed")
	for _, o := range []string{"o1.csv", "o2.csv", "o3.csv", "o4.csv", "o5.csv"} {
		assert.NoFileExists(t, filepath.Join(dir, o))
	}
	assertNoTemp(t, dir)
}

func TestAnonymizeChecksOutputFoldersFirst(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, smallCSV)
	notDir := filepath.Join(dir, "plain")
	writeFile(t, notDir, "x")
	good := filepath.Join(dir, "good.csv")
	cases := []struct {
		name, out, report, msg string
	}{
		{"missing folder", filepath.Join(dir, "nope", "o.csv"), "", "nope"},
		{"report in a missing folder", good, filepath.Join(dir, "nope", "r.json"), "nope"},
		{"folder is a file", filepath.Join(notDir, "o.csv"), "", "is not a folder"},
		{"out is a folder", dir, "", "is a folder"},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases, struct{ name, out, report, msg string }{"unwritable folder", "/proc/o.csv", "", "cannot write in folder /proc"})
	}
	for _, c := range cases {
		args := []string{"--in", in, "--out", c.out, "--qi", "age,zip", "--k", "2"}
		if c.report != "" {
			args = append(args, "--report", c.report)
		}
		code, _, stderr := runCLI(t, args...)
		assert.Equal(t, 1, code, "%s: %s", c.name, stderr)
		assert.Contains(t, stderr, c.msg, c.name)
		// The user's path is named, and no temporary file.
		flagPath := c.out
		if c.report != "" {
			flagPath = c.report
		}
		assert.Contains(t, stderr, flagPath, c.name)
		assert.NotContains(t, stderr, ".tmp-", c.name)
		assert.NotContains(t, stderr, "QI age", "%s: the check must come before loading", c.name)
	}
	assert.NoFileExists(t, good)
	assertNoTemp(t, dir)
}

func TestAnonymizeFailureKeepsOldOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, smallCSV)
	out := filepath.Join(dir, "out.csv")
	rep := filepath.Join(dir, "r.json")
	writeFile(t, out, "old output\n")
	writeFile(t, rep, "old report\n")
	// Unsatisfiable: 3 distinct diseases do not exist.
	code, _, stderr := runCLI(t, "--in", in, "--out", out, "--report", rep, "--qi", "age,zip", "--k", "2", "--sensitive", "disease", "--l", "3")
	assert.Equal(t, 1, code, stderr)
	assert.Equal(t, "old output\n", readFile(t, out))
	assert.Equal(t, "old report\n", readFile(t, rep))
	assertNoTemp(t, dir)
	// A symbolic link as output is followed: the file it points to is
	// replaced, the link kept.
	target := filepath.Join(dir, "target.csv")
	writeFile(t, target, "old\n")
	link := filepath.Join(dir, "link.csv")
	require.NoError(t, os.Symlink(target, link))
	code, _, stderr = runCLI(t, "--in", in, "--out", link, "--qi", "age,zip", "--k", "2")
	require.Equal(t, 0, code, stderr)
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "link replaced by a file")
	assert.Contains(t, readFile(t, target), "age,zip,disease")
	assertNoTemp(t, dir)
}

// readOutput parses a CSV output with header.
func readOutput(t *testing.T, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return all[0], all[1:]
}

type cliReport struct {
	QIs []struct {
		Column, Kind string
		ChosenBy     string `json:"chosen_by"`
		Values       int
		Order        []string
	}
	Cut            string
	NCP            float64  `json:"ncp_percent"`
	DroppedColumns []string `json:"dropped_columns"`
	KeptColumns    []string `json:"kept_columns"`
	DependentKept  []string `json:"dependent_columns_kept"`
	KMin           int      `json:"k_min"`
}

func readReport(t *testing.T, path string) cliReport {
	t.Helper()
	var r cliReport
	require.NoError(t, json.Unmarshal([]byte(readFile(t, path)), &r))
	return r
}

// TestAnonymizeAdultPresetReleasesNoDependentColumn is the Adult case: the
// preset used to keep education, one to one with the generalized QI
// education-num, so grouping the k = 10 output by the QIs plus education
// gave classes of one row.
func TestAnonymizeAdultPresetReleasesNoDependentColumn(t *testing.T) {
	dir := t.TempDir()
	out, rep := filepath.Join(dir, "o.csv"), filepath.Join(dir, "r.json")
	code, _, stderr := runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", out, "--k", "10", "--report", rep)
	require.Equal(t, 0, code, stderr)
	header, rows := readOutput(t, out)
	assert.NotContains(t, header, "education")
	r := readReport(t, rep)
	qis := []string{}
	for _, q := range r.QIs {
		qis = append(qis, q.Column)
	}
	assert.Equal(t, []string{"age", "workclass", "education-num", "marital-status", "occupation", "race", "sex", "native-country"}, qis)
	assert.Equal(t, []string{"salary"}, r.KeptColumns)
	assert.ElementsMatch(t, []string{"fnlwgt", "education", "relationship", "capital-gain", "capital-loss", "hours-per-week"}, r.DroppedColumns)
	// Every class of the QIs has at least k rows, and no column outside the
	// QIs maps one to one onto the original value of a QI.
	isQI := map[string]bool{}
	for _, q := range qis {
		isQI[q] = true
	}
	classes := map[string]int{}
	for _, row := range rows {
		var key []string
		for j, h := range header {
			if isQI[h] {
				key = append(key, row[j])
			}
		}
		classes[strings.Join(key, "\x00")]++
	}
	for _, n := range classes {
		assert.GreaterOrEqual(t, n, 10)
	}
	orig := readAdultSlice(t)
	for j, h := range header {
		if isQI[h] {
			continue
		}
		for _, q := range qis {
			assert.False(t, oneToOne(column(rows, j), orig[q]), "output column %s maps one to one onto %s", h, q)
		}
	}
	// Keeping education by hand is refused, naming it, before any output.
	out2 := filepath.Join(dir, "o2.csv")
	code, _, stderr = runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", out2, "--k", "10", "--drop", "fnlwgt")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "education ↔ education-num")
	assert.Contains(t, stderr, "--drop education")
	assert.Contains(t, stderr, "--keep-dependent")
	assert.NoFileExists(t, out2)
	// The explicit choice releases it and says so in the report.
	code, _, stderr = runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", out2, "--k", "10", "--drop", "fnlwgt", "--keep-dependent", "--report", rep)
	require.Equal(t, 0, code, stderr)
	r = readReport(t, rep)
	assert.Contains(t, r.KeptColumns, "education")
	require.Len(t, r.DependentKept, 1)
	assert.Contains(t, r.DependentKept[0], "education ↔ education-num")
	// --drop may repeat --identifiers.
	code, _, stderr = runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", out2, "--k", "10", "--identifiers", "education", "--report", rep)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, readReport(t, rep).DroppedColumns, "education")
	// --drop of a QI is a usage error.
	code, _, stderr = runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", out2, "--k", "10", "--drop", "age")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "quasi-identifier")
	assertNoTemp(t, dir)
}

// readAdultSlice returns the columns of the Adult test slice without the
// rows holding "?", as the preset reads it.
func readAdultSlice(t *testing.T) map[string][]string {
	t.Helper()
	names := []string{"age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
		"relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "salary"}
	cols := map[string][]string{}
	for _, line := range strings.Split(readFile(t, adultSlice), "\n") {
		if strings.TrimSpace(line) == "" || strings.Contains(line, "?") {
			continue
		}
		f := strings.Split(line, ",")
		require.Len(t, f, len(names))
		for j, n := range names {
			cols[n] = append(cols[n], strings.TrimSpace(f[j]))
		}
	}
	return cols
}

func column(rows [][]string, j int) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[j]
	}
	return out
}

// oneToOne reports whether a and b (aligned rows) determine each other.
func oneToOne(a, b []string) bool {
	ab, ba := map[string]string{}, map[string]string{}
	for i := range a {
		if v, ok := ab[a[i]]; ok && v != b[i] {
			return false
		}
		if v, ok := ba[b[i]]; ok && v != a[i] {
			return false
		}
		ab[a[i]], ba[b[i]] = b[i], a[i]
	}
	return len(ab) > 1
}

func TestAnonymizeKindsAreStrictAndReported(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	// "12abc" made fmt.Sscan call the column numeric, and the run then
	// failed on it; it is ordinal. code is all numbers (1e3 included).
	writeFile(t, in, "code,room,size\n1e3,12abc,10\n7,12,11\n8,14,12\n9,12abc,13\n7,12,14\n8,14,15\n")
	out, rep := filepath.Join(dir, "o.csv"), filepath.Join(dir, "r.json")
	code, _, stderr := runCLI(t, "--in", in, "--out", out, "--report", rep, "--qi", "code,room", "--k", "2")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "QI code: numeric")
	assert.Contains(t, stderr, `QI room: ordinal, 3 values, categories in order of first appearance (recorded in the report) (detected: value "12abc" is not a number)`)
	r := readReport(t, rep)
	require.Len(t, r.QIs, 2)
	assert.Equal(t, "numeric", r.QIs[0].Kind)
	assert.Equal(t, "detected: every value is a finite number", r.QIs[0].ChosenBy)
	assert.Nil(t, r.QIs[0].Order)
	assert.Equal(t, "ordinal", r.QIs[1].Kind)
	assert.Equal(t, []string{"12abc", "12", "14"}, r.QIs[1].Order)
	// Inf and NaN parse as floats but are no finite numbers.
	writeFile(t, in, "x\nInf\n1\nNaN\n2\n")
	code, _, stderr = runCLI(t, "--in", in, "--out", out, "--qi", "x", "--k", "2")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, `QI x: ordinal`)
	assert.Contains(t, stderr, `value "Inf" is not a number`)
}

func TestAnonymizeInputHygiene(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bom.csv")
	writeFile(t, in, "\ufeff"+smallCSV)
	out := filepath.Join(dir, "o.csv")
	code, _, stderr := runCLI(t, "--in", in, "--out", out, "--qi", "age,zip", "--k", "2")
	require.Equal(t, 0, code, stderr)
	header, _ := readOutput(t, out)
	assert.Equal(t, []string{"age", "zip", "disease"}, header)
	// No error says "anonymize: anonymize:".
	ragged := filepath.Join(dir, "ragged.csv")
	writeFile(t, ragged, "a,b\n1,2\n3\n")
	dup := filepath.Join(dir, "dup.csv")
	writeFile(t, dup, "a,a\n1,2\n")
	for _, args := range [][]string{
		{"--in", ragged, "--qi", "a", "--k", "2"},
		{"--in", dup, "--qi", "a", "--k", "2"},
		{"--in", in, "--qi", "age,height", "--k", "2"},
		{"--in", in, "--qi", "age", "--k", "20"},
		{"--in", in, "--qi", "age", "--k", "2", "--numeric", "disease,age", "--qi", "age,disease"},
		{"--in", in, "--qi", "age", "--k", "2", "--hierarchy", "age=" + ragged},
		{"--in", in, "--qi", "age", "--k", "2", "--drop", "nope"},
	} {
		code, _, stderr := runCLI(t, append(args, "--out", out+".x")...)
		assert.NotEqual(t, 0, code, "%v", args)
		assert.NotContains(t, stderr, "anonymize: anonymize:", "%v", args)
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			assert.Equal(t, 1, strings.Count(line, "anonymize:"), "%v: %s", args, line)
		}
	}
	assertNoTemp(t, dir)
}

func TestAnonymizeCutFlag(t *testing.T) {
	dir := t.TempDir()
	out, rep := filepath.Join(dir, "o.csv"), filepath.Join(dir, "r.json")
	ncp := map[string]float64{}
	for _, cut := range []string{"best", "median"} {
		code, _, stderr := runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", out, "--k", "10", "--report", rep, "--cut", cut)
		require.Equal(t, 0, code, stderr)
		r := readReport(t, rep)
		assert.Equal(t, cut, r.Cut)
		assert.GreaterOrEqual(t, r.KMin, 10)
		ncp[cut] = r.NCP
	}
	assert.Less(t, ncp["best"], ncp["median"], "on Adult the best cut loses less than the median cut")
	code, _, stderr := runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", out, "--k", "10", "--cut", "mean")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--cut must be best or median")
	code, _, stderr = runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", out, "--k", "10", "--cut", "median", "--algorithm", "optimal")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--cut applies to --algorithm mondrian only")
}
