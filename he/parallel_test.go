package he

import (
	"bytes"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestParallelMatchesSequential evaluates the same ciphertexts with one
// and with two goroutines: batch mode must give identical ciphertexts,
// latency mode (whose giant-step groups are rescaled by P separately)
// the same values within 1e-6, also with a packed convolution.
func TestParallelMatchesSequential(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	cases := []struct {
		name  string
		sizes []int
		acts  []Activation
		mode  Mode
		depth int
	}{
		{"batch", []int{20, 12, 3}, []Activation{ActSquare, ActNone}, Batch, 3},
		{"latency", []int{100, 48, 3}, []Activation{ActSquare, ActNone}, Latency, 3},
		{"latency-sigmoid", []int{16, 40, 3}, []Activation{ActSigmoid, ActNone}, Latency, 6},
		{"latency-conv", []int{0}, []Activation{ActSquare, ActNone}, Latency, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m *Model
			opts := CompileOptions{Mode: tc.mode, Parameters: testParams(t, 11, tc.depth)}
			if tc.sizes[0] == 0 {
				opts.Conv = ConvDirect
				m = convModel(t, r, Conv2D{InChannels: 2, Height: 9, Width: 7, OutChannels: 3, Kernel: 3, Stride: 2, Padding: 1, Activation: ActSquare})
				tc.sizes[0] = m.InputDim
			} else {
				m = randModel(t, r, tc.sizes, tc.acts)
			}
			if tc.acts[0] == ActSigmoid {
				m.Layers[0].Degree = 15
				m.Layers[0].Interval = 4
			}
			xs := randSamples(r, 2, tc.sizes[0])
			plan, err := Compile(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			client, err := NewClient(plan.Parameters())
			if err != nil {
				t.Fatal(err)
			}
			keys, err := client.GenEvaluationKeys(plan)
			if err != nil {
				t.Fatal(err)
			}
			server, err := NewServer(plan, keys)
			if err != nil {
				t.Fatal(err)
			}
			cts, err := client.Encrypt(plan, xs)
			if err != nil {
				t.Fatal(err)
			}
			eval := func(procs int) ([]byte, [][]float64) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				// The same masks for the unused batch slots in both runs.
				server.maskRand = rand.NewChaCha8([32]byte{7})
				var raw bytes.Buffer
				var got [][]float64
				for _, ct := range cts {
					res, err := server.Evaluate(ct)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := res.WriteTo(&raw); err != nil {
						t.Fatal(err)
					}
					out, err := client.Decrypt(res)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, out...)
				}
				return raw.Bytes(), got
			}
			raw1, got1 := eval(1)
			raw2, got2 := eval(2)
			if tc.mode == Batch && !bytes.Equal(raw1, raw2) {
				t.Fatal("batch outputs differ between one and two goroutines")
			}
			for i := range got1 {
				for j := range got1[i] {
					if d := math.Abs(got1[i][j] - got2[i][j]); d > 1e-6 {
						t.Fatalf("sample %d output %d: %g with one goroutine, %g with two", i, j, got1[i][j], got2[i][j])
					}
				}
			}
			if e := maxErr(t, m, xs, got2); e > 2e-3 {
				t.Fatalf("max abs error %g > 2e-3", e)
			}
		})
	}
}

// TestFoldRounds checks that the rounds of foldRounds add the same
// rotations as the folds in sequence: the sums of all subsets of the
// steps, each once.
func TestFoldRounds(t *testing.T) {
	for n := range 8 {
		var steps []int
		for j := range n {
			steps = append(steps, 1<<(2*j+1))
		}
		want := map[int]int{0: 1}
		for _, a := range steps {
			next := map[int]int{}
			for r, c := range want {
				next[r] += c
				next[r+a] += c
			}
			want = next
		}
		got := map[int]int{0: 1}
		for _, round := range foldRounds(steps) {
			next := map[int]int{}
			for r, c := range got {
				next[r] += c
				for _, a := range round {
					next[r+a] += c
				}
			}
			got = next
		}
		if len(got) != len(want) {
			t.Fatalf("%d steps: %d distinct rotations, want %d", n, len(got), len(want))
		}
		for r, c := range want {
			if got[r] != c {
				t.Fatalf("%d steps: rotation %d added %d times, want %d", n, r, got[r], c)
			}
		}
	}
}
