package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/privml/privml/examples/internal/hedemo"
	"github.com/privml/privml/he"
	"github.com/privml/privml/he/heservice"
	"github.com/privml/privml/internal/mtls"
)

// BenchmarkService measures encrypted inference requests of the digits
// MLP over loopback gRPC with mutual TLS 1.3, server in the same process
// (its own goroutines and sockets): latency mode with one test image per
// request, batch mode with a full batch of 4096 images (test images
// repeated) per request. conc is the number of clients sending at once,
// each with its own session. Reported: requests per second, p50 and p99
// request latency (encoding, transfer, evaluation, decoding; not
// encryption or decryption), bytes up and down per request, and for batch
// images per second.
func BenchmarkService(b *testing.B) {
	train, test, err := hedemo.DigitsSplit(1)
	if err != nil {
		b.Fatal(err)
	}
	model, err := hedemo.TrainMLP(train, 32, 40, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []he.Mode{he.Latency, he.Batch} {
		plan, err := he.Compile(model, he.CompileOptions{Mode: mode, Calibration: hedemo.Rows(train), InputRange: [2]float64{0, 1}})
		if err != nil {
			b.Fatal(err)
		}
		samples := hedemo.Rows(test)
		if mode == he.Batch {
			for len(samples) < plan.SamplesPerCiphertext() {
				samples = append(samples, samples...)
			}
			samples = samples[:plan.SamplesPerCiphertext()]
		}
		for _, conc := range []int{1, 2} {
			b.Run(fmt.Sprintf("%v/conc=%d", mode, conc), func(b *testing.B) {
				benchService(b, plan, samples, conc)
			})
		}
	}
}

func benchService(b *testing.B, plan *he.Plan, samples [][]float64, conc int) {
	addr, clientTLS := benchServer(b, plan)
	c, err := he.NewClient(plan.Parameters())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	keys, err := c.GenEvaluationKeys(plan)
	if err != nil {
		b.Fatal(err)
	}
	cts, err := c.Encrypt(plan, samples)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	sessions := make([]*heservice.Session, conc)
	for i := range sessions {
		cl, err := heservice.Dial(addr, clientTLS, plan)
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		if sessions[i], err = cl.OpenSession(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var up, down int
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += conc {
				ct := cts[i%len(cts)]
				t := time.Now()
				out, err := sessions[w].Evaluate(ctx, ct)
				d := time.Since(t)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				up, down = ct.Bytes(), out.Bytes()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 {
		i := min(len(lat)-1, max(0, int(p*float64(len(lat))+0.999)-1))
		return float64(lat[i].Microseconds()) / 1e3
	}
	rps := float64(len(lat)) / elapsed.Seconds()
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(up), "B-up/req")
	b.ReportMetric(float64(down), "B-down/req")
	if plan.Mode() == he.Batch {
		b.ReportMetric(rps*float64(len(samples)), "images/s")
	}
}

// benchServer starts the service on 127.0.0.1 with an in-memory PKI and
// returns its address and a client TLS configuration.
func benchServer(b *testing.B, plan *he.Plan) (string, *tls.Config) {
	ca, err := mtls.NewCA("bench CA", nil)
	if err != nil {
		b.Fatal(err)
	}
	srvCert, err := ca.IssueServer([]string{"127.0.0.1"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cli, err := ca.IssueClient(0, nil)
	if err != nil {
		b.Fatal(err)
	}
	sconf, err := mtls.ServerConfig(ca.CertPEM, srvCert.TLS())
	if err != nil {
		b.Fatal(err)
	}
	cconf, err := mtls.ClientConfig(ca.CertPEM, cli.TLS(), "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := heservice.NewServer(heservice.ServerConfig{Plan: plan, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	g := heservice.NewGRPCServer(srv, sconf)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go g.Serve(lis)
	b.Cleanup(g.Stop)
	return lis.Addr().String(), cconf
}
