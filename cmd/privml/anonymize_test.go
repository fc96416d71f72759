package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const adultSlice = "../../anonymize/testdata/adult_1000.data"

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"anonymize"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAnonymizeAdultPreset(t *testing.T) {
	dir := t.TempDir()
	outFile := filepath.Join(dir, "out.csv")
	repFile := filepath.Join(dir, "report.json")
	code, stdout, stderr := runCLI(t, "--preset", "adult", "--in", adultSlice, "--out", outFile, "--k", "10",
		"--l", "2", "--t", "0.3", "--report", repFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "verified") {
		t.Errorf("stdout %q", stdout)
	}
	data, err := os.ReadFile(repFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"rows_in", "rows_out", "suppressed_rows", "equivalence_classes", "k_min", "l_min", "t_max",
		"ncp_percent", "discernibility", "cavg", "algorithm_ms", "total_ms", "verified"} {
		if _, ok := rep[f]; !ok {
			t.Errorf("report lacks %q", f)
		}
	}
	if rep["rows_in"].(float64) != 922 || rep["k_min"].(float64) < 10 || rep["l_min"].(float64) < 2 ||
		rep["t_max"].(float64) > 0.3 || rep["verified"] != true {
		t.Errorf("report %s", data)
	}
	out, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(out), "\n"); lines != 923 {
		t.Errorf("output has %d lines, want 923", lines)
	}
}

func TestAnonymizeOptimalWithHierarchies(t *testing.T) {
	dir := t.TempDir()
	td := "../../anonymize/testdata/"
	args := []string{"--in", td + "arx_adult_500.csv", "--delimiter", ";", "--out", filepath.Join(dir, "o.csv"),
		"--report", filepath.Join(dir, "r.json"), "--algorithm", "optimal", "--k", "5", "--sensitive", "occupation",
		"--qi", "age,education,marital-status,native-country,race,salary-class,sex,workclass"}
	for _, a := range []string{"age", "education", "marital-status", "native-country", "race", "salary-class", "sex", "workclass"} {
		args = append(args, "--hierarchy", a+"="+td+"adult_hierarchy_"+a+".csv")
	}
	code, _, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "r.json"))
	json.Unmarshal(data, &rep)
	if rep["lattice_node"] == nil || rep["nodes_checked"].(float64) < 1 || rep["k_min"].(float64) < 5 {
		t.Errorf("report %s", data)
	}
}

func TestAnonymizeBadInput(t *testing.T) {
	dir := t.TempDir()
	ragged := filepath.Join(dir, "ragged.csv")
	os.WriteFile(ragged, []byte("a,b\n1,2\n3\n"), 0o600)
	badHier := filepath.Join(dir, "sex.csv")
	os.WriteFile(badHier, []byte("Male;*\n"), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown column", []string{"--preset", "adult", "--in", adultSlice, "--k", "5", "--qi", "age,height"}, 1, `no column "height"`},
		{"k below 2", []string{"--preset", "adult", "--in", adultSlice, "--k", "1"}, 1, "k = 1, must be at least 2"},
		{"k above rows", []string{"--preset", "adult", "--in", adultSlice, "--k", "5000"}, 1, "larger than the table"},
		{"value missing from hierarchy", []string{"--preset", "adult", "--in", adultSlice, "--k", "5",
			"--ordinal", "workclass", "--hierarchy", "sex=" + badHier}, 1, `value "Female" is not in hierarchy`},
		{"ragged row", []string{"--in", ragged, "--k", "2", "--qi", "a"}, 1, "ragged.csv:3: row has 1 fields, want 2"},
		{"unsatisfiable", []string{"--preset", "adult", "--in", adultSlice, "--k", "5", "--l", "3"}, 1, "cannot be satisfied"},
		{"missing k", []string{"--preset", "adult", "--in", adultSlice}, 2, "--k is required"},
		{"bad algorithm", []string{"--preset", "adult", "--in", adultSlice, "--k", "5", "--algorithm", "magic"}, 2, "--algorithm"},
		{"bad preset", []string{"--preset", "nope", "--in", adultSlice, "--k", "5"}, 2, "unknown preset"},
	}
	for _, c := range cases {
		out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".csv")
		code, _, stderr := runCLI(t, append(c.args, "--out", out, "--report", out+".json")...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", c.name, code, stderr, c.code, c.msg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output file left behind", c.name)
		}
		if _, err := os.Stat(out + ".json"); err == nil {
			t.Errorf("%s: report left behind", c.name)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestAnonymizePseudonymize(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("name,age,zip,disease\n")
	for i := 0; i < 40; i++ {
		b.WriteString("person" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "," + []string{"30", "31", "45", "46"}[i%4] + ",8166" + string(rune('0'+i%3)) + ",flu\n")
	}
	os.WriteFile(in, []byte(b.String()), 0o600)
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600)
	out := filepath.Join(dir, "out.csv")
	code, _, stderr := runCLI(t, "--in", in, "--out", out, "--k", "4", "--qi", "age,zip", "--pseudonymize", "name", "--key-file", key)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(out)
	if strings.Contains(string(data), "person") {
		t.Fatal("identifier left in clear")
	}
	code, _, stderr = runCLI(t, "--in", in, "--out", out+"2", "--k", "4", "--qi", "age,zip", "--pseudonymize", "name")
	if code != 2 || !strings.Contains(stderr, "--key-file") {
		t.Fatalf("pseudonymize without key: exit %d %q", code, stderr)
	}
}

// BenchmarkAnonymizeAdult runs the whole command in-process on the full
// adult.data (set PRIVML_DATASETS; skipped when missing).
func BenchmarkAnonymizeAdult(b *testing.B) {
	dir := os.Getenv("PRIVML_DATASETS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "datasets")
	}
	in := filepath.Join(dir, "adult", "adult.data")
	if _, err := os.Stat(in); err != nil {
		b.Skipf("%s not found (set PRIVML_DATASETS)", in)
	}
	out := filepath.Join(b.TempDir(), "out.csv")
	for b.Loop() {
		var so, se bytes.Buffer
		if code := run([]string{"anonymize", "--preset", "adult", "--in", in, "--out", out, "--k", "10", "--report", out + ".json"}, &so, &se); code != 0 {
			b.Fatal(se.String())
		}
	}
}

func TestAnonymizeModelFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args  []string
		field string
	}{
		{[]string{"--l", "1.5", "--l-kind", "entropy"}, "l_min"},
		{[]string{"--l", "2", "--l-kind", "recursive", "--c", "4"}, "recursive_c"},
		{[]string{"--t", "0.2", "--t-kind", "ordered"}, "t_max"},
		{[]string{"--missing-rows", "keep"}, "rows_in"},
	} {
		rep := filepath.Join(dir, "r.json")
		args := append([]string{"--preset", "adult", "--in", adultSlice, "--out", filepath.Join(dir, "o.csv"), "--k", "5", "--report", rep}, c.args...)
		code, _, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		var m map[string]any
		data, _ := os.ReadFile(rep)
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m[c.field]; !ok {
			t.Errorf("%v: report lacks %s", c.args, c.field)
		}
		if c.args[0] == "--missing-rows" && m["rows_in"].(float64) != 1000 {
			t.Errorf("keep missing: rows_in %v, want 1000", m["rows_in"])
		}
	}
}
