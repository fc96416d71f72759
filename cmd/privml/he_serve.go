package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/he"
	"github.com/privml/privml/he/heservice"
	"github.com/privml/privml/internal/mtls"
)

// heServerTLS returns the server's TLS 1.3 configuration from a PKI
// folder written by privml fed certs: with mutual, client certificates of
// the folder's CA are required (internal/mtls); without, only the server
// presents one.
func heServerTLS(dir string, mutual bool) (*tls.Config, error) {
	if mutual {
		return mtls.LoadServerConfig(dir)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, mtls.ServerCertFile), filepath.Join(dir, mtls.ServerKeyFile))
	if err != nil {
		return nil, fmt.Errorf("--tls %s: %w", dir, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}, nil
}

// heClientTLS returns the client's TLS 1.3 configuration: with mutual,
// client id's certificate from the folder; without, only the CA.
func heClientTLS(dir string, id int, serverName string, mutual bool) (*tls.Config, error) {
	if mutual {
		return mtls.LoadClientConfig(dir, id, serverName)
	}
	ca, err := os.ReadFile(filepath.Join(dir, mtls.CACertFile))
	if err != nil {
		return nil, fmt.Errorf("--tls %s: %w", dir, pathErr(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("--tls %s: no CA certificate in %s", dir, mtls.CACertFile)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: serverName}, nil
}

// heLogger logs to w in text or JSON (as privml fed server) at level.
func heLogger(w io.Writer, asJSON bool, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErr("--log-level %q, want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func heServe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return heServeContext(ctx, args, stdout, stderr)
}

// heServeContext serves until ctx is done, then stops gracefully (in
// flight calls get 10 seconds).
func heServeContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "privml he serve"
	f := newHEFlags("serve", stderr)
	listen := f.fs.String("listen", "", "address to listen on, e.g. 127.0.0.1:7443 (port 0: any free port, printed)")
	tlsDir := f.fs.String("tls", "", "PKI folder written by privml fed certs (ca.crt, server.crt, server.key)")
	mutual := f.fs.Bool("mtls", true, "require client certificates issued by the folder's CA")
	ttl := f.fs.Duration("session-ttl", 10*time.Minute, "idle time after which a session's keys are dropped")
	maxSessions := f.fs.Int("max-sessions", 16, "sessions cached at once (least recently used evicted)")
	maxConc := f.fs.Int("max-concurrent", 0, "evaluations at once (0: GOMAXPROCS)")
	maxConns := f.fs.Int("max-connections", 256, "connections open at once, TLS handshakes included; more wait in the listen backlog")
	evalTimeout := f.fs.Duration("evaluate-timeout", time.Minute, "deadline of an evaluation whose call carries none")
	asJSON := f.fs.Bool("json", false, "log JSON lines on stderr instead of text")
	logLevel := f.fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := f.parse(args, "plan", "listen", "tls"); err != nil {
		return cliFail(stderr, name, err)
	}
	log, err := heLogger(stderr, *asJSON, *logLevel)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	if *maxConns < 1 {
		return cliFail(stderr, name, usageErr("--max-connections %d, want at least 1", *maxConns))
	}
	plan, err := readPlanPath(*f.plan)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	tlsConf, err := heServerTLS(*tlsDir, *mutual)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	srv, err := heservice.NewServer(heservice.ServerConfig{Plan: plan, SessionTTL: *ttl, MaxSessions: *maxSessions,
		MaxConcurrent: *maxConc, EvaluateTimeout: *evalTimeout, Logger: log})
	if err != nil {
		return cliFail(stderr, name, err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return cliFail(stderr, name, fmt.Errorf("--listen %s: %w", *listen, err))
	}
	// Silent connections hold a slot for at most the handshake timeout.
	lis := transport.LimitListener(ln, *maxConns)
	g := heservice.NewGRPCServer(srv, tlsConf)
	log.Info("he serve listening", "addr", lis.Addr().String(), "plan", plan.String(), "mtls", *mutual,
		"max_message_bytes", srv.MaxMessageBytes(), "session_ttl", *ttl, "max_sessions", *maxSessions)
	fmt.Fprintf(stdout, "listening on %s\n", lis.Addr())
	if fl, ok := stdout.(interface{ Sync() error }); ok {
		fl.Sync()
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(lis) }()
	select {
	case err := <-done:
		return cliFail(stderr, name, err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		g.Stop()
	}
	log.Info("he serve stopped")
	return 0
}

func heInfer(args []string, stdout, stderr io.Writer) int {
	const name = "privml he infer"
	f := newHEFlags("infer", stderr)
	server := f.fs.String("server", "", "server address, e.g. 127.0.0.1:7443")
	tlsDir := f.fs.String("tls", "", "PKI folder written by privml fed certs (ca.crt and, with --mtls, client-<id>.crt/.key)")
	mutual := f.fs.Bool("mtls", true, "present the client certificate client-<id>.crt")
	id := f.fs.Int("id", 0, "client certificate id in the --tls folder")
	serverName := f.fs.String("server-name", "", "name the server certificate must carry (default: the host of --server)")
	in := f.fs.String("in", "", "CSV of samples, one per row (a header line is skipped)")
	timeout := f.fs.Duration("timeout", 5*time.Minute, "deadline of the whole run")
	public := f.fs.Bool("public", false, "noise-flooded decryption (he.Client.DecryptPublic), for outputs that leave this machine")
	sec := f.fs.Int("security", he.DefaultStatisticalSecurity, "--public: statistical security s in bits")
	if err := f.parse(args, "server", "tls", "plan", "key", "in"); err != nil {
		return cliFail(stderr, name, err)
	}
	if *serverName == "" {
		host, _, err := net.SplitHostPort(*server)
		if err != nil {
			return cliFail(stderr, name, usageErr("--server %q: %v", *server, err))
		}
		*serverName = host
	}
	plan, err := readPlanPath(*f.plan)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	rows, err := readSamplesCSV(*in, plan.Model().InputDim)
	if err != nil {
		return cliFail(stderr, name, fmt.Errorf("--in %w", err))
	}
	tlsConf, err := heClientTLS(*tlsDir, *id, *serverName, *mutual)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var dec *he.PublicDecryption
	if *public {
		dec = &he.PublicDecryption{StatisticalSecurity: *sec}
	}
	res, err := inferRemote(ctx, *server, tlsConf, plan, *f.key, rows, dec)
	if err != nil {
		return cliFail(stderr, name, err)
	}
	m := plan.Model()
	var b strings.Builder
	b.WriteString("sample,prediction")
	for j := range m.OutputDim() {
		fmt.Fprintf(&b, ",out%d", j)
	}
	b.WriteByte('\n')
	for i, out := range res.outputs {
		fmt.Fprintf(&b, "%d,%d", i, m.Class(out))
		for _, v := range out {
			fmt.Fprintf(&b, ",%.6g", v)
		}
		b.WriteByte('\n')
	}
	io.WriteString(stdout, b.String())
	fmt.Fprintf(stderr, "privml he infer: %d samples in %d requests, sent %.2f MB keys + %.2f MB ciphertexts, received %.2f MB, %v\n",
		len(rows), res.requests, float64(res.keyBytes)/1e6, float64(res.sent)/1e6, float64(res.received)/1e6, res.elapsed.Round(time.Millisecond))
	return 0
}

type inferResult struct {
	outputs                            [][]float64
	requests, keyBytes, sent, received int
	elapsed                            time.Duration
}

// inferRemote uploads the key folder's evaluation keys, encrypts rows,
// has the server evaluate them and decrypts the outputs (with noise
// flooding when public is set).
func inferRemote(ctx context.Context, addr string, tlsConf *tls.Config, plan *he.Plan, keyDir string, rows [][]float64, public *he.PublicDecryption) (*inferResult, error) {
	start := time.Now()
	c, err := readClientKey(keyDir, plan)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	keys, err := readEvalKeys(keyDir, plan)
	if err != nil {
		return nil, err
	}
	cl, err := heservice.Dial(addr, tlsConf, plan)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := cl.CheckPlan(ctx); err != nil {
		return nil, fmt.Errorf("--server %s: %w", addr, err)
	}
	sess, err := cl.OpenSession(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("--server %s: opening a session: %w", addr, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sess.Close(cctx)
	}()
	cts, err := c.Encrypt(plan, rows)
	if err != nil {
		return nil, fmt.Errorf("--in: %w", err)
	}
	res := &inferResult{requests: len(cts), keyBytes: keys.Bytes()}
	for i, ct := range cts {
		out, err := sess.Evaluate(ctx, ct)
		if err != nil {
			return nil, fmt.Errorf("--server %s: request %d: %w", addr, i, err)
		}
		res.sent += ct.Bytes()
		res.received += out.Bytes()
		var vals [][]float64
		if public != nil {
			d, derr := c.DecryptPublic(plan, out, *public)
			if derr == nil {
				vals = d.Values
			}
			err = derr
		} else {
			vals, err = c.Decrypt(out)
		}
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		res.outputs = append(res.outputs, vals...)
	}
	if len(res.outputs) != len(rows) {
		return nil, errors.New("the server returned outputs for another number of samples")
	}
	res.elapsed = time.Since(start)
	return res, nil
}
