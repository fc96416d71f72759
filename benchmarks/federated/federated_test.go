// Package fedbench benchmarks federated rounds (package federated): the
// price of secure aggregation and distributed DP in one round, and the
// accuracy of the main job (examples/federated: logistic regression on
// Adult across 500 clients) against epsilon for central and distributed
// DP at several bit widths.
//
//	go test ./benchmarks/federated/ -run '^$' -bench Round -benchtime 3x
//	go test ./benchmarks/federated/ -run '^$' -bench AccuracyEpsilon -benchtime 1x -timeout 30m
package fedbench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/privml/privml/federated"
	"github.com/privml/privml/internal/dataset"
	"github.com/privml/privml/internal/fedmodels"
)

// fixedClients return a fixed random update each (no training), so that a
// round measures aggregation alone.
func fixedClients(n, d int) []federated.Client {
	out := make([]federated.Client, n)
	for i := range out {
		r := rand.New(rand.NewPCG(uint64(i), 1))
		u := make([]float64, d)
		for j := range u {
			u[j] = r.NormFloat64() * 1e-3
		}
		out[i] = federated.ClientFunc(func(federated.Task) (federated.Update, error) {
			return federated.Update{Delta: u, Weight: 1}, nil
		})
	}
	return out
}

// BenchmarkRound runs one round of 100 clients (all sampled) with 100,000
// parameters: plain summation in the clear, SecAgg+ without DP (32 bits),
// and SecAgg+ with distributed DP (20 bits). client-ms is the clients'
// aggregation work (encoding, noise, the secagg client steps) per client;
// server-ms the server's (secagg server steps, decoding, noise, step);
// both are CPU time of the benchmark's thread (Linux), on which all those
// steps run.
func BenchmarkRound(b *testing.B) {
	const n, d = 100, 100_000
	shape := federated.Shape{{Name: "w", Dims: []int{d}}}
	var seed [32]byte
	cases := []struct {
		name string
		cfg  federated.Config
	}{
		{"plain", federated.Config{}},
		{"secagg", federated.Config{Clip: 1, Secure: &federated.SecureConfig{}}},
		{"secagg+ddp/B=20", federated.Config{Clip: 1, Secure: &federated.SecureConfig{Bits: 20},
			DP: federated.DPConfig{Mode: federated.DPDistributed, NoiseMultiplier: 1, Delta: 1e-5}}},
	}
	clients := fixedClients(n, d)
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			cfg := tc.cfg
			cfg.Shape, cfg.Fraction, cfg.MinReports, cfg.InsecureSeed, cfg.Workers = shape, 1, n/2, &seed, 1
			cfg.Clock = threadCPU
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			srv, err := federated.NewServer(cfg, clients, make([]float64, d))
			if err != nil {
				b.Fatal(err)
			}
			var client, server time.Duration
			rounds := 0
			for b.Loop() {
				rep, err := srv.Round()
				if err != nil {
					b.Fatal(err)
				}
				if rep.Reports != n {
					b.Fatalf("%d reports, want %d", rep.Reports, n)
				}
				client += rep.ClientTime
				server += rep.ServerTime
				rounds++
			}
			b.ReportMetric(float64(client.Microseconds())/1e3/float64(rounds*n), "client-ms")
			b.ReportMetric(float64(server.Microseconds())/1e3/float64(rounds), "server-ms")
		})
	}
}

// BenchmarkAccuracyEpsilon trains the main job (500 clients, 100 per
// round, 40 rounds, 10% dropouts, clip 1, two local epochs, one fixed
// seed) at each target epsilon with central DP (SecAgg+ at 32 bits, the
// server adds the noise) and distributed DP at 12, 16 and 20 bits, and
// reports the final test accuracy and that of the model trained centrally
// without privacy.
func BenchmarkAccuracyEpsilon(b *testing.B) {
	train, test, err := fedmodels.AdultSplit()
	if err != nil {
		b.Fatal(err)
	}
	model := fedmodels.LogReg{D: train.Cols}
	base := fedmodels.Accuracy(model, fedmodels.Baseline(model, train, rand.New(rand.NewPCG(1, 11))), test)
	const clients, perRound, rounds, delta = 500, 100, 40, 1e-5
	q := float64(perRound) / clients
	for _, eps := range []float64{1, 2, 4, 8} {
		z, err := federated.NoiseForEpsilon(eps, q, rounds, delta)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range []struct {
			mode federated.DPMode
			bits uint
		}{{federated.DPCentral, 32}, {federated.DPDistributed, 12}, {federated.DPDistributed, 16}, {federated.DPDistributed, 20}} {
			b.Run(fmt.Sprintf("eps=%g/%s/B=%d", eps, m.mode, m.bits), func(b *testing.B) {
				for b.Loop() {
					acc, err := trainAdult(train, test, model, m.mode, m.bits, z, clients, perRound, rounds)
					if err != nil {
						b.Skip(err)
					}
					b.ReportMetric(100*acc, "acc-%")
					b.ReportMetric(100*base, "baseline-%")
					b.ReportMetric(z, "z")
				}
			})
		}
	}
}

func trainAdult(train, test *dataset.Dataset, model fedmodels.Model, mode federated.DPMode, bits uint, z float64, clients, perRound, rounds int) (float64, error) {
	r := rand.New(rand.NewPCG(1, 7))
	var seed [32]byte
	seed[0] = 1
	parts, err := federated.SplitIID(train.Rows, clients, r)
	if err != nil {
		return 0, err
	}
	cs := fedmodels.Clients(model, train, parts, fedmodels.SGD{Epochs: 2, Batch: 16, LR: 0.5})
	cfg := federated.Config{
		Shape: model.Shape(), ClientsPerRound: perRound, Clip: 1, InsecureSeed: &seed,
		Availability: federated.Simulated(0.1, 0), MinReports: int(float64(perRound) * 0.9 * 0.7),
		Secure: &federated.SecureConfig{Bits: bits, DropoutRate: 0.1},
		DP:     federated.DPConfig{Mode: mode, NoiseMultiplier: z, Delta: 1e-5},
	}
	srv, err := federated.NewServer(cfg, cs, model.Init(r))
	if err != nil {
		return 0, err
	}
	for range rounds {
		if _, err := srv.Round(); err != nil {
			return 0, err
		}
	}
	return fedmodels.Accuracy(model, srv.Model(), test), nil
}
