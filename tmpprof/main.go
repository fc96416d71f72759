package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
)

func main() {
	n := flag.Int("n", 1000, "")
	d := flag.Int("d", 1_000_000, "")
	mal := flag.Bool("mal", false, "")
	prof := flag.String("prof", "", "")
	flag.Parse()
	cfg := secagg.Config{NumClients: *n, Dim: *d, Bits: 32, DropoutRate: 0.05, CorruptRate: 0.05, SessionSeed: [32]byte{1}}
	opts := sim.Options{}
	if *mal {
		cfg.Threat = secagg.Malicious
		pub, priv, _ := sim.NewIdentities(*n, nil)
		cfg.Identities, opts.Identities = pub, priv
	}
	p, err := secagg.NewParams(cfg)
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(1, 3))
	drop := rng.Perm(*n)[:int(0.05*float64(*n))]
	opts.Drop = map[secagg.Round][]int{secagg.RoundMaskedInput: drop}
	lim := p.Config().MaxAbs
	in := func(c int, dst []int64) {
		r := rand.New(rand.NewPCG(7, uint64(c)))
		for j := range dst {
			dst[j] = int64(r.Uint64N(2*lim+1)) - int64(lim)
		}
	}
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	rep, err := sim.Run(p, in, opts)
	if err != nil {
		panic(err)
	}
	fmt.Println("k", p.Degree(), "t", p.Threshold(), "err", rep.Err, "correct", rep.Correct, "procs", runtime.GOMAXPROCS(0), "total", time.Since(t0))
	var tot time.Duration
	for r, x := range rep.ServerTime {
		fmt.Println(r, x, rep.ServerCPU[r], "client", rep.ClientTime[r])
		tot += x
	}
	fmt.Println("server total", tot)
}
