package he

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"testing/cryptotest"
)

// transcript runs key generation and encryption under the current
// crypto/rand reader and returns the serialized evaluation keys and
// ciphertext, and the decrypted evaluation.
func transcript(t *testing.T, plan *Plan, xs [][]float64) (keys, ct []byte, out [][]float64) {
	t.Helper()
	client, err := NewClient(plan.Parameters())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ek, err := client.GenEvaluationKeys(plan)
	if err != nil {
		t.Fatal(err)
	}
	cts, err := client.Encrypt(plan, xs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(plan, ek)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Evaluate(cts[0])
	if err != nil {
		t.Fatal(err)
	}
	if out, err = client.Decrypt(res); err != nil {
		t.Fatal(err)
	}
	return marshal(ek), marshal(cts[0]), out
}

// TestReproducibleWithTestingRandom shows how tests make keys and
// ciphertexts reproducible: every random bit of key generation and
// encryption comes from crypto/rand, which Go's testing/cryptotest
// replaces with a seeded stream inside a test binary only. There is no
// production option to weaken the randomness. The same seed gives
// byte-identical evaluation keys and ciphertexts, a different seed different
// ones, and both decrypt correctly.
func TestReproducibleWithTestingRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m := randModel(t, r, []int{8, 4, 3}, []Activation{ActSquare, ActNone})
	xs := randSamples(r, 1, 8)
	plan, err := Compile(m, CompileOptions{Mode: Latency, Parameters: testParams(t, 10, 3)})
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(xs[0])
	if err != nil {
		t.Fatal(err)
	}
	run := func(seed uint64) ([]byte, []byte) {
		cryptotest.SetGlobalRandom(t, seed)
		k, c, out := transcript(t, plan, xs)
		for j := range want {
			if d := out[0][j] - want[j]; d > 1e-3 || d < -1e-3 {
				t.Fatalf("seed %d: output %d = %g, want %g", seed, j, out[0][j], want[j])
			}
		}
		return k, c
	}
	k1, c1 := run(1)
	k2, c2 := run(1)
	k3, c3 := run(2)
	if !bytes.Equal(k1, k2) || !bytes.Equal(c1, c2) {
		t.Error("same seed: evaluation keys or ciphertext differ")
	}
	if bytes.Equal(k1, k3) || bytes.Equal(c1, c3) {
		t.Error("different seeds: evaluation keys or ciphertext equal")
	}
}
