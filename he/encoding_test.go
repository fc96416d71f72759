package he

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// fixture is a small insecure setup shared by the encoding tests.
type fixture struct {
	model  *Model
	plan   *Plan
	client *Client
	keys   *EvaluationKeys
	server *Server
	xs     [][]float64
	cts    []*Ciphertext
}

func newFixture(t testing.TB, mode Mode) *fixture {
	t.Helper()
	r := rand.New(rand.NewPCG(21, 22))
	f := &fixture{model: randModel(t, r, []int{12, 6, 3}, []Activation{ActSquare, ActNone})}
	var err error
	if f.plan, err = Compile(f.model, CompileOptions{Mode: mode, Parameters: testParams(t, 10, 3)}); err != nil {
		t.Fatal(err)
	}
	if f.client, err = NewClient(f.plan.Parameters()); err != nil {
		t.Fatal(err)
	}
	if f.keys, err = f.client.GenEvaluationKeys(f.plan); err != nil {
		t.Fatal(err)
	}
	if f.server, err = NewServer(f.plan, f.keys); err != nil {
		t.Fatal(err)
	}
	f.xs = randSamples(r, 2, 12)
	if f.cts, err = f.client.Encrypt(f.plan, f.xs); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestEncodingRoundTrip sends parameters, plan, keys and ciphertexts
// through their encodings and evaluates with the decoded objects only.
func TestEncodingRoundTrip(t *testing.T) {
	for _, mode := range []Mode{Latency, Batch} {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFixture(t, mode)
			params, err := ReadParameters(bytes.NewReader(marshal(f.plan.Parameters())), AllowInsecureForTesting)
			if err != nil {
				t.Fatal(err)
			}
			if !params.Equal(f.plan.Parameters()) || params.Name() != f.plan.Parameters().Name() {
				t.Fatalf("parameters changed: %v vs %v", params, f.plan.Parameters())
			}
			plan, err := ReadPlan(bytes.NewReader(marshal(f.plan)), AllowInsecureForTesting)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(marshal(plan), marshal(f.plan)) {
				t.Fatal("plan encoding is not stable across a round trip")
			}
			keyBytes := marshal(f.keys)
			keys, err := ReadEvaluationKeys(bytes.NewReader(keyBytes), AllowInsecureForTesting)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(marshal(keys), keyBytes) {
				t.Fatal("key encoding is not stable across a round trip")
			}
			server, err := NewServer(plan, keys)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]float64
			for _, ct := range f.cts {
				b := marshal(ct)
				if len(b) != ct.Bytes() {
					t.Fatalf("Bytes() = %d, encoding has %d", ct.Bytes(), len(b))
				}
				ct2, err := ReadCiphertext(bytes.NewReader(b), params)
				if err != nil {
					t.Fatal(err)
				}
				res, err := server.Evaluate(ct2)
				if err != nil {
					t.Fatal(err)
				}
				res2, err := ReadCiphertext(bytes.NewReader(marshal(res)), params)
				if err != nil {
					t.Fatal(err)
				}
				out, err := f.client.Decrypt(res2)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, out...)
			}
			if e := maxErr(t, f.model, f.xs, got); e > 1e-3 {
				t.Fatalf("max abs error after round trips %g > 1e-3", e)
			}
		})
	}
}

// TestDecodeTruncated feeds every prefix of valid encodings: each must fail
// with ErrMalformed and never panic.
func TestDecodeTruncated(t *testing.T) {
	if testing.Short() {
		t.Skip("slow under -short")
	}
	f := newFixture(t, Latency)
	params := f.plan.Parameters()
	cases := []struct {
		name string
		data []byte
		read func([]byte) error
	}{
		{"parameters", marshal(params), func(b []byte) error {
			_, err := ReadParameters(bytes.NewReader(b), AllowInsecureForTesting)
			return err
		}},
		{"plan", marshal(f.plan), func(b []byte) error { _, err := ReadPlan(bytes.NewReader(b), AllowInsecureForTesting); return err }},
		{"ciphertext", marshal(f.cts[0]), func(b []byte) error { _, err := ReadCiphertext(bytes.NewReader(b), params); return err }},
		{"keys", marshal(f.keys), func(b []byte) error {
			_, err := ReadEvaluationKeys(bytes.NewReader(b), AllowInsecureForTesting)
			return err
		}},
	}
	for _, c := range cases {
		step := max(1, len(c.data)/97)
		for n := 0; n < len(c.data); n += step {
			if err := c.read(c.data[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s truncated to %d of %d bytes: err = %v, want ErrMalformed", c.name, n, len(c.data), err)
			}
		}
		if err := c.read(c.data); err != nil {
			t.Fatalf("%s: full encoding: %v", c.name, err)
		}
		bad := append([]byte(nil), c.data...)
		bad[5] = 99 // version
		if err := c.read(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s with version 99: err = %v", c.name, err)
		}
	}
}

// TestDecodeInsecureRejected checks that insecure parameters are refused
// unless explicitly allowed, whatever the stream's flag says.
func TestDecodeInsecureRejected(t *testing.T) {
	f := newFixture(t, Latency)
	b := marshal(f.plan.Parameters())
	if _, err := ReadParameters(bytes.NewReader(b), Require128); !errors.Is(err, ErrInsecureParameters) {
		t.Fatalf("insecure parameters with Require128: err = %v", err)
	}
	b[8] = 0 // clear the insecure flag: still insecure by the table
	if _, err := ReadParameters(bytes.NewReader(b), Require128); !errors.Is(err, ErrInsecureParameters) {
		t.Fatalf("unflagged insecure parameters with Require128: err = %v", err)
	}
	if _, err := ReadPlan(bytes.NewReader(marshal(f.plan)), Require128); !errors.Is(err, ErrInsecureParameters) {
		t.Fatalf("plan with insecure parameters: err = %v", err)
	}
	p, err := NewParameters(PN13)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ReadParameters(bytes.NewReader(marshal(p)), Require128)
	if err != nil || !q.Equal(p) {
		t.Fatalf("PN13 round trip: %v", err)
	}
}

// TestServerConcurrent shares one Server between goroutines; run it with
// -race. Each result is checked against plaintext inference.
func TestServerConcurrent(t *testing.T) {
	for _, mode := range []Mode{Latency, Batch} {
		f := newFixture(t, mode)
		const workers = 4
		outs := make([][][]float64, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for g := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, ct := range f.cts {
					res, err := f.server.Evaluate(ct)
					if err != nil {
						errs[g] = err
						return
					}
					o, err := decryptLocked(f, res)
					if err != nil {
						errs[g] = err
						return
					}
					outs[g] = append(outs[g], o...)
				}
			}()
		}
		wg.Wait()
		for g := range workers {
			if errs[g] != nil {
				t.Fatal(errs[g])
			}
			if e := maxErr(t, f.model, f.xs, outs[g]); e > 1e-3 {
				t.Fatalf("%v goroutine %d: max abs error %g > 1e-3", mode, g, e)
			}
		}
	}
}

var clientMu sync.Mutex

// decryptLocked serialises use of the (not concurrency-safe) Client.
func decryptLocked(f *fixture, ct *Ciphertext) ([][]float64, error) {
	clientMu.Lock()
	defer clientMu.Unlock()
	return f.client.Decrypt(ct)
}

func fuzzSeeds(f *testing.F, data ...[]byte) {
	for _, d := range data {
		f.Add(d)
		if len(d) > 10 {
			f.Add(d[:len(d)/2])
			b := append([]byte(nil), d...)
			b[len(b)/3] ^= 0xff
			f.Add(b)
		}
	}
}

func FuzzReadParameters(f *testing.F) {
	p13, _ := NewParameters(PN13)
	pi, _ := InsecureTestParameters(10, 2)
	pb, _ := InsecureBootstrapTestParameters(10)
	ps, _ := NewBootstrapParameters()
	fuzzSeeds(f, marshal(p13), marshal(pi), marshal(pb), marshal(ps))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		p, err := ReadParameters(r, AllowInsecureForTesting)
		if err != nil {
			return
		}
		used := data[:len(data)-r.Len()]
		if !bytes.Equal(marshal(p), used) {
			t.Fatalf("decode then encode is not the identity")
		}
	})
}

func FuzzReadPlan(f *testing.F) {
	fx := newFixture(f, Latency)
	fb := newFixture(f, Batch)
	// A plan in format version 2: a directly packed convolution.
	cm := convModel(f, rand.New(rand.NewPCG(51, 52)), Conv2D{InChannels: 2, Height: 5, Width: 4, OutChannels: 2, Kernel: 3, Stride: 2, Padding: 1})
	cp, err := Compile(cm, CompileOptions{Parameters: testParams(f, 11, 2), Conv: ConvDirect})
	if err != nil {
		f.Fatal(err)
	}
	// A plan in format version 3: with an input range.
	lr, err := NewLogisticRegression([]float64{1, -1}, 0, 3, 4)
	if err != nil {
		f.Fatal(err)
	}
	rp, err := Compile(lr, CompileOptions{Parameters: testParams(f, 10, 3), InputRange: [2]float64{-2, 2}})
	if err != nil {
		f.Fatal(err)
	}
	fuzzSeeds(f, marshal(fx.plan), marshal(fb.plan), marshal(bootPlan(f)), marshal(cp), marshal(rp))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		p, err := ReadPlan(r, AllowInsecureForTesting)
		if err != nil {
			return
		}
		if !bytes.Equal(marshal(p), data[:len(data)-r.Len()]) {
			t.Fatalf("decode then encode is not the identity")
		}
	})
}

// maxFuzzInput bounds the inputs the decoder fuzz targets try: the small
// seeds below are about 16 KB, and larger inputs only slow the fuzzer.
const maxFuzzInput = 1 << 16

// smallCiphertext returns an encoded level-0 ciphertext of one part for
// logN-10 parameters (16 KB), with its parameters.
func smallCiphertext(f *testing.F) (Parameters, []byte) {
	params, err := InsecureTestParameters(10, 1)
	if err != nil {
		f.Fatal(err)
	}
	c, err := NewClient(params)
	if err != nil {
		f.Fatal(err)
	}
	pt := ckks.NewPlaintext(params.p, 0)
	if err := c.ecd.Encode([]float64{0.5, -0.25}, pt); err != nil {
		f.Fatal(err)
	}
	e, err := c.enc.EncryptNew(pt)
	if err != nil {
		f.Fatal(err)
	}
	ct := &Ciphertext{mode: Latency, samples: 1, dim: 2, block: 2, cts: []*rlwe.Ciphertext{e}}
	return params, marshal(ct)
}

// headerSeeds adds prefixes of an encoding (the header and the first
// fields) and a copy with its layout fields flipped, all small.
func headerSeeds(f *testing.F, full []byte, cuts ...int) {
	f.Add(full)
	for _, n := range cuts {
		if n < len(full) {
			f.Add(full[:n])
			b := append([]byte(nil), full[:n]...)
			b[n-1] ^= 0x5a
			f.Add(b)
		}
	}
}

func FuzzReadCiphertext(f *testing.F) {
	params, full := smallCiphertext(f)
	// Header (6), layout (21), part count (4), part level and scale (9).
	headerSeeds(f, full, 6, 27, 31, 40, 40+64)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		r := bytes.NewReader(data)
		c, err := ReadCiphertext(r, params)
		if err != nil {
			return
		}
		if !bytes.Equal(marshal(c), data[:len(data)-r.Len()]) {
			t.Fatalf("decode then encode is not the identity")
		}
	})
}

// smallKeys returns a batch plan with one square layer on logN-10,
// depth-2 parameters and the encoding of its keys: a relinearization key
// at level 0 (16 KB), no Galois key.
func smallKeys(f *testing.F) (*Plan, []byte) {
	m, err := NewMLP(Dense{Weights: [][]float64{{1, 2}}, Activation: ActSquare})
	if err != nil {
		f.Fatal(err)
	}
	plan, err := Compile(m, CompileOptions{Mode: Batch, Parameters: testParams(f, 10, 2)})
	if err != nil {
		f.Fatal(err)
	}
	c, err := NewClient(plan.Parameters())
	if err != nil {
		f.Fatal(err)
	}
	keys, err := c.GenEvaluationKeys(plan)
	if err != nil {
		f.Fatal(err)
	}
	return plan, marshal(keys)
}

func FuzzReadEvaluationKeys(f *testing.F) {
	plan, full := smallKeys(f)
	var pb bytes.Buffer
	plan.params.encode(&encoder{w: &pb})
	head := 6 + pb.Len() // header and parameters
	headerSeeds(f, full, head, head+5, head+6, head+6+32+64)
	// A Galois key header after the relinearization key.
	f.Add(append(append([]byte(nil), full[:head]...), 1, 1, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		r := bytes.NewReader(data)
		k, err := ReadEvaluationKeys(r, AllowInsecureForTesting)
		if err == nil && !bytes.Equal(marshal(k), data[:len(data)-r.Len()]) {
			t.Fatalf("decode then encode is not the identity")
		}
		r = bytes.NewReader(data)
		kp, errp := ReadEvaluationKeysFor(r, plan)
		if errp != nil {
			return
		}
		// The plan-bound decoder accepts a subset of what the other does.
		if err != nil || !bytes.Equal(marshal(kp), marshal(k)) {
			t.Fatalf("plan-bound decoder accepted what the other refused (%v)", err)
		}
	})
}

// TestReadPlanCanonical: ReadPlan accepts only what WriteTo writes. A
// convolution packing flag on a batch plan and a version-2 header on a plan
// without a convolution layer are refused, so decode-then-encode is the
// identity on every accepted plan.
func TestReadPlanCanonical(t *testing.T) {
	cm := convModel(t, rand.New(rand.NewPCG(51, 52)), Conv2D{InChannels: 2, Height: 5, Width: 4, OutChannels: 2, Kernel: 3, Stride: 2, Padding: 1})
	cp, err := Compile(cm, CompileOptions{Parameters: testParams(t, 11, 2), Conv: ConvDirect})
	if err != nil {
		t.Fatal(err)
	}
	b := marshal(cp)
	var pbuf bytes.Buffer
	cp.params.encode(&encoder{w: &pbuf})
	mode := 6 + pbuf.Len() // after the 6-byte header and the parameters
	if Mode(b[mode]) != Latency {
		t.Fatalf("mode byte %d", b[mode])
	}
	b[mode] = byte(Batch)
	if _, err := ReadPlan(bytes.NewReader(b), AllowInsecureForTesting); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "packing flag") {
		t.Fatalf("batch plan with the direct flag: err = %v", err)
	}

	r := rand.New(rand.NewPCG(53, 54))
	pp, err := Compile(randModel(t, r, []int{4, 3}, []Activation{ActNone}), CompileOptions{Parameters: testParams(t, 10, 1)})
	if err != nil {
		t.Fatal(err)
	}
	v1 := marshal(pp)
	if v1[5] != 1 {
		t.Fatalf("plain plan written as version %d", v1[5])
	}
	pbuf.Reset()
	pp.params.encode(&encoder{w: &pbuf})
	flag := 6 + pbuf.Len() + 1 + 8 // mode byte and output scale
	v2 := append([]byte(nil), v1[:flag]...)
	v2[5] = 2
	v2 = append(v2, 0) // packing flag
	v2 = append(v2, v1[flag:]...)
	v2 = append(v2, 0) // the layer's convolution flag
	if _, err := ReadPlan(bytes.NewReader(v2), AllowInsecureForTesting); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "version 2 without a convolution") {
		t.Fatalf("version 2 without a convolution: err = %v", err)
	}
}

// TestInterpolationCap: with bootstrapping the depth no longer bounds the
// number of sigmoid layers, so the planner bounds their total degree; a
// plan over the cap is refused when compiled.
func TestInterpolationCap(t *testing.T) {
	var layers []Dense
	for range 9 {
		layers = append(layers, Dense{Weights: [][]float64{{1}}, Activation: ActSigmoid, Degree: 255, Interval: 4})
	}
	m, err := NewMLP(layers...)
	if err != nil {
		t.Fatal(err)
	}
	params, err := InsecureBootstrapTestParameters(10)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(m, CompileOptions{Parameters: &params, Bootstrap: true})
	if !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), "interpolation nodes") {
		t.Fatalf("err = %v, want the interpolation cap", err)
	}
}
