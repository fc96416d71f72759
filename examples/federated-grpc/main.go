// Command federated-grpc runs secure aggregation over the network in one
// process: it writes a development PKI, starts a server on 127.0.0.1 with
// mutual TLS 1.3 and a number of clients that dial it, and runs rounds in
// which some clients go silent. Each round prints the clients in the sum
// and checks the sum against the plain sum of their inputs.
//
// The same federation across processes or machines: see README.md
// (privml fed certs / fed server / fed client).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/internal/mtls"
)

func main() {
	clients := flag.Int("clients", 12, "number of clients")
	dim := flag.Int("dim", 10_000, "vector length")
	rounds := flag.Uint64("rounds", 3, "rounds")
	flag.Parse()
	if err := run(os.Stdout, *clients, *dim, *rounds); err != nil {
		log.Fatal(err)
	}
}

// input is client id's vector in a round.
func input(id int, round uint64, n int) []int64 {
	x := make([]int64, n)
	for j := range x {
		x[j] = int64((id*31+j*7+int(round))%201) - 100
	}
	return x
}

func run(out io.Writer, n, dim int, rounds uint64) error {
	dir, err := os.MkdirTemp("", "privml-pki")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := mtls.WriteDevPKI(dir, mtls.DevPKI{Clients: n}); err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	cfg := secagg.Config{NumClients: n, Dim: dim, Bits: 32, MaxAbs: 1 << 16, DropoutRate: 0.2}
	if n <= 30 {
		// A small federation uses the complete graph (classic SecAgg):
		// SecAgg+'s sparse graph pays off from a few dozen clients, and
		// with a handful of neighbours two dropouts side by side can
		// leave a secret with fewer than t shares (the round then aborts,
		// it never returns a wrong sum).
		cfg.Degree = n - 1
	}
	var bad []string
	srv, err := transport.NewServer(transport.ServerConfig{
		Secagg:       cfg,
		LastRound:    rounds,
		StageTimeout: 2 * time.Second,
		Logger:       quiet,
		OnRound: func(r *transport.RoundReport) ([]byte, error) {
			if r.Err != nil {
				fmt.Fprintf(out, "round %d: aborted: %v\n", r.Round, r.Err)
				return nil, nil
			}
			want := make([]int64, dim)
			for _, id := range r.Result.Survivors {
				for j, v := range input(id, r.Round, dim) {
					want[j] += v
				}
			}
			ok := slices.Equal(want, r.Result.Sum)
			if !ok {
				bad = append(bad, fmt.Sprint(r.Round))
			}
			fmt.Fprintf(out, "round %d: %d of %d clients in the sum, %d dropped, %v, sum equals the plain sum: %v\n",
				r.Round, len(r.Result.Survivors), n, len(r.DroppedAt), r.Duration.Round(time.Millisecond), ok)
			return nil, nil
		},
	})
	if err != nil {
		return err
	}
	tlsConf, err := mtls.LoadServerConfig(dir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g := transport.NewGRPCServer(srv, tlsConf, transport.Limits{})
	go func() { _ = g.Serve(transport.LimitListener(ln, 4*n)) }()
	defer g.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for id := range n {
		conf, err := mtls.LoadClientConfig(dir, id, "localhost")
		if err != nil {
			return err
		}
		c, err := transport.NewClient(transport.ClientConfig{
			Addr: ln.Addr().String(), TLS: conf, ID: id, Logger: quiet,
			Input: func(_ context.Context, round uint64, _ []byte, length int) ([]int64, error) {
				return input(id, round, length), nil
			},
			// Every round, one client goes silent before its masked input
			// and another after it (its input still counts).
			BeforeStage: func(round uint64, st transport.Stage) error {
				switch {
				case id == int(round)%n && st == transport.StageMaskedInput:
					return fmt.Errorf("silent")
				case id == int(round+1)%n && st == transport.StageUnmask:
					return fmt.Errorf("silent")
				}
				return nil
			},
		})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			_ = c.Run(ctx)
		}()
	}
	if err := srv.Run(ctx); err != nil {
		return err
	}
	wg.Wait()
	if len(bad) > 0 {
		return fmt.Errorf("rounds %v: the sum differs from the plain sum", bad)
	}
	return nil
}
