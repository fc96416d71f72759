package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/privml/privml"

// allowed lists, for each package prefix (longest match wins), the privml
// package prefixes its files may import. A package may always import its
// own subpackages and packages under internal/ (Go already enforces who may
// see internal/), except where the rule says otherwise.
var allowed = []struct {
	pkg     string
	imports []string
}{
	{"internal", []string{"internal"}},
	// The example models of the federated main job and its benchmarks sit
	// above package federated (they implement its Client); nothing in
	// federated imports them.
	{"internal/fedmodels", []string{"federated", "internal"}},
	// The conv net of the HE example and study is trained here and exported
	// as an he.Model; nothing in he imports it.
	{"internal/convnet", []string{"he", "internal"}},
	// he's ONNX parsing, its reference evaluator and test-model generator
	// import each other and nothing of he.
	{"he/internal", []string{"he/internal", "internal"}},
	// The encrypted-inference service is a thin gRPC adapter over he.
	{"he/heservice", []string{"he", "internal"}},
	// The nested Beam module runs anonymize's Mondrian inside pipelines.
	{"beam", []string{"beam", "anonymize", "internal"}},
	{"dp", []string{"internal"}},
	{"dp/accounting", []string{"dp", "internal"}},
	{"dp/dpsgd", []string{"dp", "internal"}},
	{"he", []string{"internal"}},
	{"anonymize", []string{"internal"}},
	{"federated", []string{"federated", "dp", "internal"}},
	{"cmd", []string{""}},
	{"examples", []string{""}},
	{"benchmarks", []string{""}},
}

// forbiddenEverywhere may be imported by no package outside itself.
var forbiddenEverywhere = []string{"cmd", "examples", "benchmarks"}

func under(p, prefix string) bool {
	return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

func rule(pkg string) []string {
	best, bestLen := []string(nil), -1
	for _, r := range allowed {
		if under(pkg, r.pkg) && len(r.pkg) > bestLen {
			best, bestLen = r.imports, len(r.pkg)
		}
	}
	return best
}

func TestImportRules(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		ok := rule(pkg)
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if !under(ip, module) {
				continue
			}
			target := strings.TrimPrefix(strings.TrimPrefix(ip, module), "/")
			if under(target, pkg) {
				continue // own subpackage
			}
			for _, fb := range forbiddenEverywhere {
				if under(target, fb) && !under(pkg, fb) {
					t.Errorf("%s imports %s: nothing may import %s/", p, ip, fb)
				}
			}
			permitted := false
			for _, a := range ok {
				if under(target, a) {
					permitted = true
				}
			}
			if ok == nil {
				t.Errorf("%s: package %s has no import rule in archtest; add one (and to DESIGN.md)", p, pkg)
			} else if !permitted {
				t.Errorf("%s imports %s; package %s may import only %v", p, ip, pkg, ok)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d Go files; is the walk rooted at the module?", checked)
	}
}

func TestRuleLookup(t *testing.T) {
	cases := map[string]string{
		"dp":                   "internal",
		"dp/accounting":        "dp",
		"federated/secagg/sim": "federated",
		"internal/vec":         "internal",
	}
	for pkg, want := range cases {
		r := rule(pkg)
		if len(r) == 0 || r[0] != want {
			t.Errorf("rule(%q) = %v, want first %q", pkg, r, want)
		}
	}
	if rule("unknown/pkg") != nil {
		t.Errorf("rule for an unknown package should be nil")
	}
}
