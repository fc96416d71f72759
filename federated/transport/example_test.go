package transport_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/internal/mtls"
)

// Example runs one round with three clients over 127.0.0.1 with mutual
// TLS: the server learns the sum of their inputs and nothing else.
func Example() {
	dir, err := os.MkdirTemp("", "pki")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := mtls.WriteDevPKI(dir, mtls.DevPKI{Clients: 3}); err != nil {
		log.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	srv, err := transport.NewServer(transport.ServerConfig{
		Secagg:    secagg.Config{NumClients: 3, Dim: 4, Bits: 16, MaxAbs: 100},
		LastRound: 1, StageTimeout: 10 * time.Second, Logger: quiet,
		OnRound: func(r *transport.RoundReport) ([]byte, error) {
			fmt.Println("survivors:", r.Result.Survivors, "sum:", r.Result.Sum)
			return nil, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	tlsConf, err := mtls.LoadServerConfig(dir)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	g := transport.NewGRPCServer(srv, tlsConf, transport.Limits{})
	go g.Serve(transport.LimitListener(ln, 16))
	defer g.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for id := range 3 {
		conf, err := mtls.LoadClientConfig(dir, id, "localhost")
		if err != nil {
			log.Fatal(err)
		}
		c, err := transport.NewClient(transport.ClientConfig{
			Addr: ln.Addr().String(), TLS: conf, ID: id, Logger: quiet,
			Input: func(context.Context, uint64, []byte, int) ([]int64, error) {
				return []int64{int64(id), 10, -1, 5 * int64(id)}, nil
			},
		})
		if err != nil {
			log.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); defer c.Close(); _ = c.Run(ctx) }()
	}
	if err := srv.Run(ctx); err != nil {
		log.Fatal(err)
	}
	wg.Wait()
	// Output:
	// survivors: [0 1 2] sum: [3 30 -3 15]
}
