package he

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMultiparty: three parties generate keys collectively, a server
// evaluates, all three decrypt together; the result matches plaintext
// inference. Two of the three parties alone get noise, not the result.
func TestMultiparty(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	m := randModel(t, r, []int{12, 6, 3}, []Activation{ActSquare, ActNone})
	xs := randSamples(r, 2, 12)
	for _, mode := range []Mode{Latency, Batch} {
		plan, err := Compile(m, CompileOptions{Mode: mode, Parameters: floodParams(t, 3), Calibration: xs})
		if err != nil {
			t.Fatal(err)
		}
		parties, err := NewParties(plan.Parameters(), 3)
		if err != nil {
			t.Fatal(err)
		}
		enc, keys, err := CollectiveKeyGen(plan, parties)
		if err != nil {
			t.Fatal(err)
		}
		server, err := NewServer(plan, keys)
		if err != nil {
			t.Fatal(err)
		}
		cts, err := enc.Encrypt(plan, xs)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]float64
		var partial float64
		for _, ct := range cts {
			res, err := server.Evaluate(ct)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := ThresholdDecrypt(plan, res, parties, PublicDecryption{})
			if err != nil {
				t.Fatal(err)
			}
			out := dec.Values
			got = append(got, out...)
			badDec, err := ThresholdDecrypt(plan, res, parties[:2], PublicDecryption{MinPrecision: -1})
			if errors.Is(err, ErrRange) {
				// The two shares decrypt to values beyond any output
				// bound: noise, refused.
				partial = math.Inf(1)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			bad := badDec.Values
			for i := range bad {
				for j := range bad[i] {
					partial = max(partial, abs(bad[i][j]-out[i][j]))
				}
			}
		}
		if e := maxErr(t, m, xs, got); e > 1e-2 {
			t.Fatalf("%v: max abs error %g > 1e-2", mode, e)
		}
		if partial < 1 {
			t.Fatalf("%v: two of three parties decrypted within %g of the result", mode, partial)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
