package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/privml/privml/internal/mtls"
)

// TestFedFigures measures a federation of separate processes for
// BENCHMARKS.md: the server's peak RSS and CPU, the clients' CPU, and the
// round latency. It runs only when PRIVML_FED_FIGURES is set to
// "clients,dim,dropped[,stage-timeout-seconds]" (for example
// "100,100000,10,8"); the dropped clients crash in round 1 at stages
// spread over the round and stay away.
func TestFedFigures(t *testing.T) {
	spec := os.Getenv("PRIVML_FED_FIGURES")
	if spec == "" {
		t.Skip("set PRIVML_FED_FIGURES=clients,dim,dropped to measure")
	}
	var n, dim, dropped int
	stageSec := 20
	_, err := fmt.Sscanf(spec, "%d,%d,%d,%d", &n, &dim, &dropped, &stageSec)
	if err != nil {
		_, err = fmt.Sscanf(spec, "%d,%d,%d", &n, &dim, &dropped)
	}
	require.NoError(t, err)
	const rounds = 3
	p := newProcs(t)
	require.NoError(t, mtls.WriteDevPKI(filepath.Join(p.dir, "tls"), mtls.DevPKI{Clients: n}))
	for id := range n {
		var b strings.Builder
		for j := range dim {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("c" + strconv.Itoa(j))
		}
		b.WriteByte('\n')
		for j := range dim {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa((id*7 + j) % 13))
		}
		b.WriteByte('\n')
		require.NoError(t, os.WriteFile(filepath.Join(p.dir, fmt.Sprintf("shard-%d.csv", id)), []byte(b.String()), 0o600))
	}
	addr := freeAddr(t)
	srv := p.server(addr, n, dim, rounds, "--stage-timeout", fmt.Sprintf("%ds", stageSec), "--start-timeout", fmt.Sprintf("%ds", 2*stageSec),
		"--dropout", "0.1", "--bits", "32")
	lines := readRounds(t, srv)
	p.run(srv)
	stages := []string{"advertise", "share_keys", "masked_input", "unmask"}
	clients := make([]*os.ProcessState, n)
	procs := make([]*procState, n)
	for id := range n {
		var extra []string
		if id < dropped {
			extra = []string{"--crash-at", "1:" + stages[id%len(stages)]}
		}
		c := p.client(addr, id, extra...)
		p.run(c)
		procs[id] = &procState{wait: c.Wait, state: func() *os.ProcessState { return c.ProcessState }}
	}
	var ms []int64
	for range rounds {
		l := next(t, lines, 5*time.Minute)
		require.Empty(t, l.Error)
		ms = append(ms, l.MS)
		t.Logf("round %d: %d survivors, %d ms", l.Round, len(l.Survivors), l.MS)
	}
	require.NoError(t, srv.Wait())
	var clientCPU []time.Duration
	for id, ps := range procs {
		_ = ps.wait()
		st := ps.state()
		if id >= dropped {
			clientCPU = append(clientCPU, st.UserTime()+st.SystemTime())
		}
		clients[id] = st
	}
	if os.Getenv("GODEBUG") != "" {
		b, _ := os.ReadFile(filepath.Join(p.dir, "server.err"))
		_ = os.WriteFile("/tmp/server-gctrace.txt", b, 0o600)
	}
	slices.Sort(ms)
	slices.Sort(clientCPU)
	ru := srv.ProcessState.SysUsage().(*syscall.Rusage)
	t.Logf("n=%d dim=%d dropped in round 1=%d: round ms %v; server CPU %v, peak RSS %d MiB; client CPU (3 rounds) median %v, max %v",
		n, dim, dropped, ms, srv.ProcessState.UserTime()+srv.ProcessState.SystemTime(), ru.Maxrss/1024,
		clientCPU[len(clientCPU)/2], clientCPU[len(clientCPU)-1])
}

type procState struct {
	wait  func() error
	state func() *os.ProcessState
}
