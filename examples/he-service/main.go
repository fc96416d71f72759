// Command he-service classifies the 8x8 digits test set with encrypted
// inference as a service: a server process holding the compiled
// 64-32(x²)-10 MLP and a client process holding the secret key, talking
// gRPC over mutual TLS 1.3 on 127.0.0.1.
//
// Run without -serve, it is the client: it trains the model in plain Go,
// compiles it, writes the plan and a development PKI into a temporary
// folder, starts itself with -serve as the server (a second process),
// uploads its evaluation keys, encrypts the test images, has the server
// evaluate them, decrypts the logits and checks their argmax against
// plaintext inference. It stops the server before it exits; the server
// also exits when its standard input closes, so it never outlives the
// client.
//
// Usage:
//
//	go run ./examples/he-service [-mode latency|batch] [-n 0] [-epochs 40] [-json]
//	he-service -serve -plan PLAN -tls DIR   # the server role (started by the client)
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/privml/privml/examples/internal/hedemo"
	"github.com/privml/privml/he"
	"github.com/privml/privml/he/heservice"
	"github.com/privml/privml/internal/mtls"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "he-service:", err)
		os.Exit(1)
	}
}

// Result is what -json prints.
type Result struct {
	Mode              string  `json:"mode"`
	Parameters        string  `json:"parameters"`
	Samples           int     `json:"samples"`
	Requests          int     `json:"requests"`
	PlainAccuracy     float64 `json:"plain_accuracy"`
	EncryptedAccuracy float64 `json:"encrypted_accuracy"`
	Agreement         float64 `json:"agreement"`
	MaxAbsError       float64 `json:"max_abs_error"`
	KeyBytes          int     `json:"eval_key_bytes"`
	RequestBytes      int     `json:"request_bytes"`
	ResponseBytes     int     `json:"response_bytes"`
	SessionMS         float64 `json:"open_session_ms"`
	P50MS             float64 `json:"request_p50_ms"`
	P99MS             float64 `json:"request_p99_ms"`
	ServerPID         int     `json:"server_pid"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("he-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serve := fs.Bool("serve", false, "be the server: serve -plan over TLS from -tls on 127.0.0.1")
	planPath := fs.String("plan", "", "-serve: plan file")
	tlsDir := fs.String("tls", "", "-serve: PKI folder (internal/mtls layout)")
	mode := fs.String("mode", "latency", "packing: latency (one image per request) or batch (all images in one request)")
	n := fs.Int("n", 0, "number of test images (0: the whole test split)")
	epochs := fs.Int("epochs", 40, "training epochs")
	seed := fs.Uint64("seed", 1, "seed of the split and of training (not of any encryption randomness)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serve {
		return runServer(*planPath, *tlsDir, stdout, stderr)
	}
	m, err := hedemo.ParseMode(*mode)
	if err != nil {
		return err
	}
	res, err := runClient(m, *n, *epochs, *seed, stderr)
	if err != nil {
		return err
	}
	res.Mode = *mode
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "server       pid %d on 127.0.0.1 (mutual TLS 1.3), %s\n", res.ServerPID, res.Parameters)
	fmt.Fprintf(stdout, "session      %.1f ms to upload %.2f MB of evaluation keys\n", res.SessionMS, float64(res.KeyBytes)/1e6)
	fmt.Fprintf(stdout, "requests     %d (%s), p50 %.1f ms, p99 %.1f ms, %.2f MB up / %.2f MB down each\n",
		res.Requests, *mode, res.P50MS, res.P99MS, float64(res.RequestBytes)/1e6, float64(res.ResponseBytes)/1e6)
	fmt.Fprintf(stdout, "accuracy     plaintext %.4f, encrypted %.4f on %d test images\n", res.PlainAccuracy, res.EncryptedAccuracy, res.Samples)
	fmt.Fprintf(stdout, "agreement    %.4f argmax, max logit error %.2e\n", res.Agreement, res.MaxAbsError)
	return nil
}

// runServer serves the plan until SIGINT/SIGTERM or until standard input
// closes (the client that started it is gone). It prints the address it
// listens on as its first line.
func runServer(planPath, tlsDir string, stdout, stderr io.Writer) error {
	if planPath == "" || tlsDir == "" {
		return errors.New("-serve needs -plan and -tls")
	}
	f, err := os.Open(planPath)
	if err != nil {
		return err
	}
	plan, err := he.ReadPlan(bufio.NewReader(f), he.Require128)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", planPath, err)
	}
	conf, err := mtls.LoadServerConfig(tlsDir)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := heservice.NewServer(heservice.ServerConfig{Plan: plan, Logger: log})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g := heservice.NewGRPCServer(srv, conf)
	fmt.Fprintf(stdout, "listening on %s\n", lis.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		io.Copy(io.Discard, os.Stdin) // returns when the client closes the pipe
		stop()
	}()
	go func() {
		<-ctx.Done()
		g.Stop()
	}()
	return g.Serve(lis)
}

// roleEnv is set to "serve" in the server's environment.
const roleEnv = "HE_SERVICE_ROLE"

// serverProc is the server subprocess.
type serverProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

// startServer starts this executable with -serve and waits for its
// address.
func startServer(planPath, pki string, stderr io.Writer) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-serve", "-plan", planPath, "-tls", pki)
	// The environment variable lets a test binary act as the server.
	cmd.Env = append(os.Environ(), roleEnv+"=serve")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd, stdin: stdin}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, out)
	}()
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
		if !ok {
			p.stop()
			return nil, fmt.Errorf("server printed %q, want its address", line)
		}
		p.addr = addr
		return p, nil
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, errors.New("server did not start within 30s")
	}
}

// stop closes the server's standard input and sends SIGTERM, then kills
// it if it has not exited within 10 seconds.
func (p *serverProc) stop() {
	p.stdin.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func runClient(mode he.Mode, n, epochs int, seed uint64, stderr io.Writer) (*Result, error) {
	train, test, err := hedemo.DigitsSplit(seed)
	if err != nil {
		return nil, err
	}
	model, err := hedemo.TrainMLP(train, 32, epochs, seed)
	if err != nil {
		return nil, err
	}
	samples := hedemo.Rows(test)
	labels := test.Y
	if n > 0 && n < len(samples) {
		samples, labels = samples[:n], labels[:n]
	}
	plan, err := he.Compile(model, he.CompileOptions{Mode: mode, Calibration: hedemo.Rows(train), InputRange: [2]float64{0, 1}})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "he-service-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	planPath, pki := filepath.Join(dir, "digits.plan"), filepath.Join(dir, "pki")
	if err := writePlan(planPath, plan); err != nil {
		return nil, err
	}
	if err := mtls.WriteDevPKI(pki, mtls.DevPKI{Clients: 1, Hosts: []string{"127.0.0.1"}}); err != nil {
		return nil, err
	}
	srv, err := startServer(planPath, pki, stderr)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	res, err := classify(srv.addr, pki, plan, model, samples, labels)
	if err != nil {
		return nil, err
	}
	res.ServerPID = srv.cmd.Process.Pid
	return res, nil
}

func writePlan(path string, plan *he.Plan) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if _, err := plan.WriteTo(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// classify is the client: keys, session, one request per ciphertext,
// decryption and comparison with plaintext inference.
func classify(addr, pki string, plan *he.Plan, model *he.Model, samples [][]float64, labels []int) (*Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := he.NewClient(plan.Parameters())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	keys, err := c.GenEvaluationKeys(plan)
	if err != nil {
		return nil, err
	}
	conf, err := mtls.LoadClientConfig(pki, 0, "127.0.0.1")
	if err != nil {
		return nil, err
	}
	cl, err := heservice.Dial(addr, conf, plan)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	res := &Result{Parameters: plan.Parameters().String(), Samples: len(samples), KeyBytes: keys.Bytes()}
	t0 := time.Now()
	sess, err := cl.OpenSession(ctx, keys)
	if err != nil {
		return nil, err
	}
	defer sess.Close(ctx)
	res.SessionMS = hedemo.MS(time.Since(t0))
	cts, err := c.Encrypt(plan, samples)
	if err != nil {
		return nil, err
	}
	var outs [][]float64
	var lat []float64
	for _, ct := range cts {
		t := time.Now()
		out, err := sess.Evaluate(ctx, ct)
		if err != nil {
			return nil, err
		}
		lat = append(lat, hedemo.MS(time.Since(t)))
		res.RequestBytes, res.ResponseBytes = ct.Bytes(), out.Bytes()
		vals, err := c.Decrypt(out)
		if err != nil {
			return nil, err
		}
		outs = append(outs, vals...)
	}
	res.Requests = len(cts)
	slices.Sort(lat)
	res.P50MS, res.P99MS = quantile(lat, 0.5), quantile(lat, 0.99)
	return res, score(res, model, samples, labels, outs)
}

// score compares decrypted outputs with plaintext inference and labels.
func score(res *Result, model *he.Model, samples [][]float64, labels []int, outs [][]float64) error {
	if len(outs) != len(samples) {
		return fmt.Errorf("%d outputs for %d samples", len(outs), len(samples))
	}
	var agree, plainOK, encOK int
	for i, x := range samples {
		want, err := model.Predict(x)
		if err != nil {
			return err
		}
		pc, ec := model.Class(want), model.Class(outs[i])
		if pc == ec {
			agree++
		}
		if pc == labels[i] {
			plainOK++
		}
		if ec == labels[i] {
			encOK++
		}
		for j, w := range want {
			res.MaxAbsError = math.Max(res.MaxAbsError, math.Abs(w-outs[i][j]))
		}
	}
	k := float64(len(samples))
	res.Agreement, res.PlainAccuracy, res.EncryptedAccuracy = float64(agree)/k, float64(plainOK)/k, float64(encOK)/k
	return nil
}

// quantile returns the q-quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}
