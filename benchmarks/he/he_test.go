package hebench

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/lintrans"
	"github.com/tuneinsight/lattigo/v6/circuits/ckks/polynomial"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
	"github.com/tuneinsight/lattigo/v6/utils/bignum"

	"github.com/privml/privml/he"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs f b.N times and reports per-sample wall and CPU time.
func timed(b *testing.B, samples int, f func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	c0, t0 := cpuTime(), time.Now()
	for range b.N {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N * samples)
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1e3/n, "ms/sample")
	b.ReportMetric((cpuTime()-c0).Seconds()*1e3/n, "cpu-ms/sample")
}

func randMat(r *rand.Rand, out, in int) [][]float64 {
	w := make([][]float64, out)
	for o := range w {
		w[o] = make([]float64, in)
		for i := range w[o] {
			w[o][i] = (2*r.Float64() - 1) / math.Sqrt(float64(in))
		}
	}
	return w
}

func randSamples(r *rand.Rand, n, dim int) [][]float64 {
	xs := make([][]float64, n)
	for i := range xs {
		xs[i] = make([]float64, dim)
		for j := range xs[i] {
			xs[i][j] = r.Float64()
		}
	}
	return xs
}

// setup compiles m, generates keys and encrypts n samples.
func setup(b *testing.B, m *he.Model, opts he.CompileOptions, n int) (*he.Server, []*he.Ciphertext) {
	b.Helper()
	plan, err := he.Compile(m, opts)
	if err != nil {
		b.Fatal(err)
	}
	c, err := he.NewClient(plan.Parameters())
	if err != nil {
		b.Fatal(err)
	}
	keys, err := c.GenEvaluationKeys(plan)
	if err != nil {
		b.Fatal(err)
	}
	s, err := he.NewServer(plan, keys)
	if err != nil {
		b.Fatal(err)
	}
	cts, err := c.Encrypt(plan, randSamples(rand.New(rand.NewPCG(3, 4)), n, m.InputDim))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { b.ReportMetric(float64(keys.Bytes())/1e6, "evk-MB") })
	return s, cts
}

// digitsModel is the 64-32(x²)-10 MLP shape (random weights: timing does
// not depend on them; examples/he-digits checks accuracy and agreement).
func digitsModel(b *testing.B) *he.Model {
	r := rand.New(rand.NewPCG(1, 2))
	m, err := he.NewMLP(
		he.Dense{Weights: randMat(r, 32, 64), Bias: make([]float64, 32), Activation: he.ActSquare},
		he.Dense{Weights: randMat(r, 10, 32), Bias: make([]float64, 10)},
	)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkDigitsMLP(b *testing.B) {
	b.Run("latency", func(b *testing.B) {
		s, cts := setup(b, digitsModel(b), he.CompileOptions{Mode: he.Latency}, 1)
		timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
	})
	b.Run("batch4096", func(b *testing.B) {
		s, cts := setup(b, digitsModel(b), he.CompileOptions{Mode: he.Batch}, 4096)
		timed(b, 4096, func() error { _, err := s.Evaluate(cts[0]); return err })
	})
}

func BenchmarkLogReg(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	w := randMat(r, 1, 30)[0]
	m, err := he.NewLogisticRegression(w, 0.1, 7, 8)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("latency", func(b *testing.B) {
		s, cts := setup(b, m, he.CompileOptions{Mode: he.Latency}, 1)
		timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
	})
	b.Run("batch4096", func(b *testing.B) {
		s, cts := setup(b, m, he.CompileOptions{Mode: he.Batch}, 4096)
		timed(b, 4096, func() error { _, err := s.Evaluate(cts[0]); return err })
	})
}

// rawParams builds the lattigo parameters of a preset truncated to depth,
// the same chain the planner gives he.
func rawParams(b *testing.B, logN, depth int) ckks.Parameters {
	var lit ckks.ParametersLiteral
	switch logN {
	case 13:
		lit = ckks.ParametersLiteral{LogN: 13, LogQ: []int{36}, LogP: []int{32, 32}, LogDefaultScale: 29}
		for range depth {
			lit.LogQ = append(lit.LogQ, 29)
		}
	case 14:
		lit = ckks.ParametersLiteral{LogN: 14, LogQ: []int{48}, LogP: []int{42, 42}, LogDefaultScale: 38}
		for range depth {
			lit.LogQ = append(lit.LogQ, 38)
		}
	case 15:
		lit = ckks.ParametersLiteral{LogN: 15, LogQ: []int{55}, LogP: []int{50, 50, 50}, LogDefaultScale: 45}
		for range depth {
			lit.LogQ = append(lit.LogQ, 45)
		}
	}
	p, err := ckks.NewParametersFromLiteral(lit)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func preset(logN int) he.Preset {
	switch logN {
	case 14:
		return he.PN14
	case 15:
		return he.PN15
	}
	return he.PN13
}

type raw struct {
	params ckks.Parameters
	sk     *rlwe.SecretKey
	kgen   *rlwe.KeyGenerator
	enc    *rlwe.Encryptor
	ecd    *ckks.Encoder
}

func newRaw(b *testing.B, logN, depth int) *raw {
	p := rawParams(b, logN, depth)
	kgen := rlwe.NewKeyGenerator(p)
	sk := kgen.GenSecretKeyNew()
	return &raw{params: p, sk: sk, kgen: kgen, enc: rlwe.NewEncryptor(p, sk), ecd: ckks.NewEncoder(p)}
}

func (r *raw) encrypt(b *testing.B, v []float64) *rlwe.Ciphertext {
	pt := ckks.NewPlaintext(r.params, r.params.MaxLevel())
	if err := r.ecd.Encode(v, pt); err != nil {
		b.Fatal(err)
	}
	ct, err := r.enc.EncryptNew(pt)
	if err != nil {
		b.Fatal(err)
	}
	return ct
}

// BenchmarkOps compares he layers with hand-written lattigo doing the same
// work at logN 13 and 14 (chains truncated to the depth the work needs).
func BenchmarkOps(b *testing.B) {
	// The planner truncates the preset's chain to the model's depth; the
	// raw lattigo side uses a chain of the same depth and prime sizes, so
	// the comparison shows the layers' overhead only.
	for _, logN := range []int{13, 14, 15} {
		p, err := he.NewParameters(preset(logN))
		if err != nil {
			b.Fatal(err)
		}
		slots := 1 << (logN - 1)
		r := rand.New(rand.NewPCG(7, 8))

		// mul+relin+rescale: he = dense 1→1 (weight 1) then x², batch mode;
		// lattigo = constant multiply, rescale, square, relinearize, rescale.
		b.Run(fmt.Sprintf("MulRelinRescale/logN=%d/he", logN), func(b *testing.B) {
			m, _ := he.NewMLP(he.Dense{Weights: [][]float64{{1}}, Activation: he.ActSquare})
			s, cts := setup(b, m, he.CompileOptions{Mode: he.Batch, Parameters: &p}, slots)
			timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
		})
		b.Run(fmt.Sprintf("MulRelinRescale/logN=%d/lattigo", logN), func(b *testing.B) {
			rw := newRaw(b, logN, 2)
			eval := ckks.NewEvaluator(rw.params, rlwe.NewMemEvaluationKeySet(rw.kgen.GenRelinearizationKeyNew(rw.sk)))
			ct := rw.encrypt(b, randSamples(r, 1, slots)[0])
			timed(b, 1, func() error {
				t, err := eval.MulNew(ct, 1.0000001)
				if err != nil {
					return err
				}
				if err := eval.Rescale(t, t); err != nil {
					return err
				}
				if err := eval.MulRelin(t, t, t); err != nil {
					return err
				}
				return eval.Rescale(t, t)
			})
		})
		b.Run(fmt.Sprintf("Rotate/logN=%d/lattigo", logN), func(b *testing.B) {
			rw := newRaw(b, logN, 3)
			gk := rw.kgen.GenGaloisKeyNew(rw.params.GaloisElementForRotation(5), rw.sk)
			eval := ckks.NewEvaluator(rw.params, rlwe.NewMemEvaluationKeySet(nil, gk))
			ct := rw.encrypt(b, randSamples(r, 1, slots)[0])
			out := ct.CopyNew()
			timed(b, 1, func() error { return eval.Rotate(ct, 5, out) })
		})

		// 64x64 linear transform, one sample: he (client-expanded first
		// layer) against lattigo's BSGS lintrans on the replicated input.
		w := randMat(r, 64, 64)
		b.Run(fmt.Sprintf("Linear64x64/logN=%d/he", logN), func(b *testing.B) {
			m, _ := he.NewMLP(he.Dense{Weights: w})
			s, cts := setup(b, m, he.CompileOptions{Mode: he.Latency, Parameters: &p}, 1)
			timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
		})
		b.Run(fmt.Sprintf("Linear64x64/logN=%d/lattigo", logN), func(b *testing.B) {
			rw := newRaw(b, logN, 1)
			diags := lintrans.Diagonals[float64]{}
			for k := range 64 {
				d := make([]float64, slots)
				for s := range d {
					d[s] = w[s%64][(s%64+k)%64]
				}
				diags[k] = d
			}
			ltp := lintrans.Parameters{
				DiagonalsIndexList:        diags.DiagonalsIndexList(),
				LevelQ:                    1,
				LevelP:                    rw.params.MaxLevelP(),
				Scale:                     rlwe.NewScale(rw.params.Q()[1]),
				LogDimensions:             rw.params.LogMaxDimensions(),
				LogBabyStepGiantStepRatio: 1,
			}
			lt := lintrans.NewTransformation(rw.params, ltp)
			if err := lintrans.Encode(rw.ecd, diags, lt); err != nil {
				b.Fatal(err)
			}
			gks := rw.kgen.GenGaloisKeysNew(lintrans.GaloisElements(rw.params, ltp), rw.sk)
			eval := ckks.NewEvaluator(rw.params, rlwe.NewMemEvaluationKeySet(nil, gks...))
			ltEval := lintrans.NewEvaluator(eval)
			x := make([]float64, slots)
			for s := range x {
				x[s] = float64(s%64) / 64
			}
			ct := rw.encrypt(b, x)
			timed(b, 1, func() error {
				out := ckks.NewCiphertext(rw.params, 1, 1)
				if err := ltEval.Evaluate(ct, lt, out); err != nil {
					return err
				}
				return eval.Rescale(out, out)
			})
		})

		// Degree-15 sigmoid on [-8, 8]: he = dense 1→1 with the interval
		// folded in, then the interpolant; lattigo = the same steps by hand.
		b.Run(fmt.Sprintf("Sigmoid15/logN=%d/he", logN), func(b *testing.B) {
			if logN == 13 {
				b.Skip("depth 5 exceeds PN13")
			}
			m, _ := he.NewMLP(he.Dense{Weights: [][]float64{{1}}, Activation: he.ActSigmoid, Degree: 15, Interval: 8})
			s, cts := setup(b, m, he.CompileOptions{Mode: he.Batch, Parameters: &p}, slots)
			timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
		})
		b.Run(fmt.Sprintf("Sigmoid15/logN=%d/lattigo", logN), func(b *testing.B) {
			if logN == 13 {
				b.Skip("depth 5 exceeds PN13")
			}
			rw := newRaw(b, logN, 5)
			eval := ckks.NewEvaluator(rw.params, rlwe.NewMemEvaluationKeySet(rw.kgen.GenRelinearizationKeyNew(rw.sk)))
			poly := polynomial.NewPolynomial(bignum.ChebyshevApproximation(func(x *big.Float) *big.Float {
				xf, _ := x.Float64()
				return new(big.Float).SetPrec(x.Prec()).SetFloat64(1 / (1 + math.Exp(-8*xf)))
			}, bignum.Interval{Nodes: 15, A: *bignum.NewFloat(-1, 128), B: *bignum.NewFloat(1, 128)}))
			pe := polynomial.NewEvaluator(rw.params, eval)
			ct := rw.encrypt(b, randSamples(r, 1, slots)[0])
			timed(b, 1, func() error {
				t, err := eval.MulNew(ct, 0.125)
				if err != nil {
					return err
				}
				if err := eval.Rescale(t, t); err != nil {
					return err
				}
				_, err = pe.Evaluate(t, poly, rw.params.DefaultScale())
				return err
			})
		})
	}
}

// BenchmarkConvNet is the network of TenSEAL's encrypted MNIST tutorial
// (conv 4 filters 7x7 stride 3 on 28x28, x², dense 256→64, x², dense
// 64→10; random weights), one image per ciphertext. [he.Conv2D.Dense]
// gives the im2col matrix with the convolution's shape, and the planner
// packs it as a direct convolution (PN14 truncated to depth 5: 28 masks,
// 9 key switches and one fold, the kernel rows split over the two copies
// of the 4096-slot output period; the strided outputs read in place by
// the 256→64 layer; folds hoisted in rounds of two). "latency" is the
// planner's choice; "latency-im2col" forces the im2col packing for
// comparison. TenSEAL's CI reports 1.86 s per image for the network.
func BenchmarkConvNet(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	conv := he.Conv2D{InChannels: 1, Height: 28, Width: 28, OutChannels: 4, Kernel: 7, Stride: 3, Activation: he.ActSquare}
	conv.Weights = make([][][][]float64, 4)
	for oc := range conv.Weights {
		conv.Weights[oc] = [][][]float64{randMat(r, 7, 7)}
	}
	conv.Bias = make([]float64, 4)
	cd, err := conv.Dense()
	if err != nil {
		b.Fatal(err)
	}
	m, err := he.NewMLP(cd,
		he.Dense{Weights: randMat(r, 64, 256), Activation: he.ActSquare},
		he.Dense{Weights: randMat(r, 10, 64)})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("latency", func(b *testing.B) {
		s, cts := setup(b, m, he.CompileOptions{Mode: he.Latency}, 1)
		timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
	})
	b.Run("latency-im2col", func(b *testing.B) {
		s, cts := setup(b, m, he.CompileOptions{Mode: he.Latency, Conv: he.ConvIm2col}, 1)
		timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
	})
	// Batch mode would hold 784 ciphertexts at logN 14 (about 1.2 GB) for
	// 8192 images: too large for a routine benchmark run.
}

// reluModel is a 64-32(ReLU)-10 MLP with the default ReLU precision: depth
// 1 + 12 + 1, so it compiles to PN15 without bootstrapping.
func reluModel(b *testing.B) *he.Model {
	r := rand.New(rand.NewPCG(7, 8))
	m, err := he.NewMLP(
		he.Dense{Weights: randMat(r, 32, 64), Bias: make([]float64, 32), Activation: he.ActReLU, Interval: 4},
		he.Dense{Weights: randMat(r, 10, 32), Bias: make([]float64, 10)},
	)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkReLU evaluates the ReLU MLP at PN15 (about 40 s of setup: key
// generation at logN 15).
func BenchmarkReLU(b *testing.B) {
	b.Run("latency", func(b *testing.B) {
		s, cts := setup(b, reluModel(b), he.CompileOptions{Mode: he.Latency}, 1)
		timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
	})
}

// BenchmarkBootstrap evaluates an 8-8(ReLU)-8(ReLU)-2 MLP whose two ReLU
// layers take 13 levels each, so the second starts with one bootstrap per
// ciphertext; "noboot" is the first layer alone, for the difference. The
// parameters are INSECURE (logN 12, the chains of the secure logN 16 set):
// the secure set's keys (about 5.3 GB encoded, twice that expanded) do not
// fit a shared benchmark machine.
func BenchmarkBootstrap(b *testing.B) {
	params, err := he.InsecureBootstrapTestParameters(12)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	l1 := he.Dense{Weights: randMat(r, 8, 8), Bias: make([]float64, 8), Activation: he.ActReLU, Interval: 4}
	l2 := he.Dense{Weights: randMat(r, 2, 8), Bias: make([]float64, 2), Activation: he.ActReLU, Interval: 4}
	for _, c := range []struct {
		name   string
		layers []he.Dense
	}{{"noboot", []he.Dense{l1}}, {"oneboot", []he.Dense{l1, l2}}} {
		m, err := he.NewMLP(c.layers...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("insecure-logN12/"+c.name, func(b *testing.B) {
			opts := he.CompileOptions{Mode: he.Latency, Parameters: &params, Bootstrap: true}
			s, cts := setup(b, m, opts, 1)
			b.ReportMetric(float64(s.Plan().Bootstraps()), "bootstraps/sample")
			timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
		})
	}
	// The secure parameters need about 20 GB of memory and several
	// minutes: run with PRIVML_BENCH_SECURE_BOOTSTRAP=1 and -benchtime 2x.
	b.Run("secure-logN16/twoboot", func(b *testing.B) {
		if os.Getenv("PRIVML_BENCH_SECURE_BOOTSTRAP") == "" {
			b.Skip("set PRIVML_BENCH_SECURE_BOOTSTRAP=1 (about 20 GB of memory)")
		}
		l := func(out, in int, act he.Activation) he.Dense {
			return he.Dense{Weights: randMat(r, out, in), Bias: make([]float64, out), Activation: act, Interval: 4}
		}
		m, err := he.NewMLP(l(8, 8, he.ActReLU), l(8, 8, he.ActReLU), l(2, 8, he.ActNone))
		if err != nil {
			b.Fatal(err)
		}
		plan, err := he.Compile(m, he.CompileOptions{Mode: he.Latency, Bootstrap: true})
		if err != nil {
			b.Fatal(err)
		}
		c, err := he.NewClient(plan.Parameters())
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		keys, err := c.GenEvaluationKeys(plan)
		if err != nil {
			b.Fatal(err)
		}
		keygen, keyMB := time.Since(t0), float64(keys.Bytes())/1e6
		t0 = time.Now()
		s, err := he.NewServer(plan, keys)
		if err != nil {
			b.Fatal(err)
		}
		setupTime := time.Since(t0)
		keys = nil // the server holds its own expanded copy
		runtime.GC()
		cts, err := c.Encrypt(plan, randSamples(rand.New(rand.NewPCG(3, 4)), 1, m.InputDim))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(plan.Bootstraps()), "bootstraps/sample")
		b.ReportMetric(keyMB, "evk-MB")
		b.ReportMetric(keygen.Seconds(), "keygen-s")
		b.ReportMetric(setupTime.Seconds(), "setup-s")
		timed(b, 1, func() error { _, err := s.Evaluate(cts[0]); return err })
	})
}
