package main

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/internal/mtls"
)

// startHEServe runs privml he serve in-process on 127.0.0.1:0 and
// returns its address; the server stops when the test ends.
func startHEServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errs strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- heServeContext(ctx, append([]string{"--listen", "127.0.0.1:0", "--log-level", "warn"}, args...), pw, &errs)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, 0, code, errs.String())
		case <-time.After(20 * time.Second):
			t.Error("privml he serve did not stop")
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, errs.String())
	go io.Copy(io.Discard, pr)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, line)
	return addr
}

// TestHEServeInfer: privml he infer against privml he serve over mutual
// TLS predicts what the plaintext model predicts; a client of another CA,
// and a client without a certificate, are refused.
func TestHEServeInfer(t *testing.T) {
	dir, plan, keys := heKeysFixture(t)
	pki := filepath.Join(dir, "pki")
	require.NoError(t, mtls.WriteDevPKI(pki, mtls.DevPKI{Clients: 1}))
	addr := startHEServe(t, "--plan", plan, "--tls", pki)

	rows := uniformRows(rand.New(rand.NewPCG(7, 8)), 4, 10)
	in := filepath.Join(dir, "in.csv")
	writeSamplesCSV(t, in, rows)
	code, out, errs := runHECLI("he", "infer", "--server", addr, "--tls", pki, "--plan", plan, "--key", keys, "--in", in)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "4 samples in 4 requests")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	m := readPlanFile(t, plan).Model()
	for i, row := range rows {
		fields := strings.Split(lines[i+1], ",")
		want, err := m.Predict(row)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(m.Class(want)), fields[1], "sample %d", i)
		for j, w := range want {
			v, err := strconv.ParseFloat(fields[2+j], 64)
			require.NoError(t, err)
			assert.InDelta(t, w, v, 1e-2, "sample %d output %d", i, j)
		}
	}

	// Server-only TLS (--mtls=false on both sides): the same predictions.
	addr2 := startHEServe(t, "--plan", plan, "--tls", pki, "--mtls=false")
	code, out2, errs := runHECLI("he", "infer", "--server", addr2, "--tls", pki, "--mtls=false", "--plan", plan, "--key", keys, "--in", in)
	require.Equal(t, 0, code, errs)
	for i, l := range strings.Split(strings.TrimSpace(out2), "\n") {
		assert.Equal(t, strings.Split(lines[i], ",")[:2], strings.Split(l, ",")[:2])
	}

	// A client whose certificates come from another CA: the server's
	// certificate does not verify.
	other := filepath.Join(dir, "other-pki")
	require.NoError(t, mtls.WriteDevPKI(other, mtls.DevPKI{Clients: 1}))
	code, _, errs = runHECLI("he", "infer", "--server", addr, "--tls", other, "--plan", plan, "--key", keys, "--in", in, "--timeout", "20s")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "certificate")
	t.Log(errs)
	// Without a client certificate the server ends the handshake.
	code, _, errs = runHECLI("he", "infer", "--server", addr, "--tls", pki, "--mtls=false", "--plan", plan, "--key", keys, "--in", in, "--timeout", "20s")
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, errs)
	t.Log(errs)
}

// TestHEServeSilentConnections: with --max-connections 1, a peer that
// connects and says nothing holds the only slot until the 10-second
// handshake timeout closes it; a client meanwhile waits in the backlog
// and is served after.
func TestHEServeSilentConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10-second handshake timeout")
	}
	dir, plan, keys := heKeysFixture(t)
	pki := filepath.Join(dir, "pki")
	require.NoError(t, mtls.WriteDevPKI(pki, mtls.DevPKI{Clients: 1}))
	addr := startHEServe(t, "--plan", plan, "--tls", pki, "--max-connections", "1")
	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer silent.Close()
	time.Sleep(100 * time.Millisecond) // the server accepts it first

	in := filepath.Join(dir, "in.csv")
	writeSamplesCSV(t, in, uniformRows(rand.New(rand.NewPCG(9, 10)), 1, 10))
	start := time.Now()
	code, _, errs := runHECLI("he", "infer", "--server", addr, "--tls", pki, "--plan", plan, "--key", keys, "--in", in)
	require.Equal(t, 0, code, errs)
	assert.Greater(t, time.Since(start), 8*time.Second, "the client was served while the only slot was held")
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(time.Second)))
	_, err = silent.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server closes a silent connection")

	code, _, errs = runHECLI("he", "serve", "--plan", plan, "--tls", pki, "--listen", "127.0.0.1:0", "--max-connections", "0")
	assert.Equal(t, 2, code, errs)
	assert.Contains(t, errs, "--max-connections")
}
