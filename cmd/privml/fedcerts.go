package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/privml/privml/internal/mtls"
)

func init() {
	registerFed("certs", "write a development CA, a server and N client certificates", fedCerts)
}

// fedCerts is "privml fed certs --out DIR --clients N".
func fedCerts(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("privml fed certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write ca.crt/key, server.crt/key and client-<id>.crt/key into (required)")
	n := fs.Int("clients", 0, "number of client certificates, ids 0 to N-1 (required)")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "comma-separated DNS names and IP addresses of the server")
	keyType := fs.String("key", "ed25519", "key type: ed25519 (doubles as the secure-aggregation identity) or ecdsa-p256")
	days := fs.Int("days", 365, "validity of the server and client certificates, in days")
	force := fs.Bool("force", false, "overwrite existing files in --out")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "privml fed certs: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *out == "" || *n < 1 {
		fmt.Fprintln(stderr, "privml fed certs: --out DIR and --clients N (at least 1) are required")
		return 2
	}
	if *days < 1 {
		fmt.Fprintf(stderr, "privml fed certs: --days %d, want at least 1\n", *days)
		return 2
	}
	kt, err := mtls.ParseKeyType(*keyType)
	if err != nil {
		fmt.Fprintf(stderr, "privml fed certs: --key: %v\n", err)
		return 2
	}
	var hs []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	cfg := mtls.DevPKI{
		Clients:   *n,
		Hosts:     hs,
		Options:   mtls.Options{KeyType: kt, Lifetime: time.Duration(*days) * 24 * time.Hour},
		Overwrite: *force,
	}
	if err := mtls.WriteDevPKI(*out, cfg); err != nil {
		fmt.Fprintf(stderr, "privml fed certs: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote a development CA, a server certificate for %s and %d client certificates (%s) to %s; keys are mode 0600\n",
		strings.Join(hs, ", "), *n, kt, *out)
	return 0
}
