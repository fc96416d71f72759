package anonymize_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/privml/privml/anonymize"
)

func ExampleMondrian() {
	csv := `age,zip,disease
31,81667,flu
33,81669,cold
35,81671,flu
52,81733,cancer
55,81735,flu
58,81737,cold
`
	t, err := anonymize.ReadCSV(strings.NewReader(csv), anonymize.CSVOptions{})
	if err != nil {
		panic(err)
	}
	spec := anonymize.Spec{
		QIs:       []anonymize.QI{{Column: "age", Kind: anonymize.Numeric}, {Column: "zip", Kind: anonymize.Numeric}},
		Sensitive: "disease",
		K:         3,
		L:         &anonymize.LDiversity{Kind: anonymize.DistinctL, L: 2},
	}
	res, err := anonymize.Mondrian(t, spec, nil)
	if err != nil {
		panic(err)
	}
	rep, err := anonymize.Verify(t, res.Output, spec)
	if err != nil {
		panic(err)
	}
	res.Output.WriteCSV(os.Stdout, ',')
	fmt.Printf("k=%d l=%d NCP=%.1f%%\n", rep.KMin, rep.LDistinct, rep.NCP)
	// Output:
	// age,zip,disease
	// [31..35],[81667..81671],flu
	// [31..35],[81667..81671],cold
	// [31..35],[81667..81671],flu
	// [52..58],[81733..81737],cancer
	// [52..58],[81733..81737],flu
	// [52..58],[81733..81737],cold
	// k=3 l=2 NCP=12.1%
}

func ExampleMaskingHierarchy() {
	h, err := anonymize.MaskingHierarchy("zip", []string{"81667", "81675"}, 2, '*')
	if err != nil {
		panic(err)
	}
	for l := 0; l < h.Height(); l++ {
		g, _ := h.Generalize("81667", l)
		fmt.Println(l, g)
	}
	// Output:
	// 0 81667
	// 1 8166*
	// 2 816**
	// 3 *
}

func ExamplePseudonymizer() {
	// The key comes from the caller's secret store; never a constant.
	key := make([]byte, 32)
	if _, err := randRead(key); err != nil {
		panic(err)
	}
	p, err := anonymize.NewPseudonymizer(key)
	if err != nil {
		panic(err)
	}
	a := p.Pseudonym("email", "alice@example.org")
	fmt.Println(len(a), a == p.Pseudonym("email", "alice@example.org"), a == p.Pseudonym("customer", "alice@example.org"))
	// Output: 32 true false
}

func ExampleOptimal() {
	csv := "age,sex\n31,m\n34,f\n38,m\n36,f\n"
	t, _ := anonymize.ReadCSV(strings.NewReader(csv), anonymize.CSVOptions{})
	ages, _ := anonymize.IntervalHierarchy("age", []string{"31", "34", "36", "38"}, anonymize.IntervalSpec{Widths: []float64{5, 10}})
	sex, _ := anonymize.NewHierarchy("sex", [][]string{{"m", "*"}, {"f", "*"}})
	spec := anonymize.Spec{K: 2, QIs: []anonymize.QI{
		{Column: "age", Kind: anonymize.Hierarchical, Hierarchy: ages},
		{Column: "sex", Kind: anonymize.Hierarchical, Hierarchy: sex},
	}}
	res, err := anonymize.Optimal(t, spec, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("levels", res.Node)
	res.Output.WriteCSV(os.Stdout, ',')
	// Output:
	// levels [1 1]
	// age,sex
	// "[30, 35[",*
	// "[30, 35[",*
	// "[35, 40[",*
	// "[35, 40[",*
}
