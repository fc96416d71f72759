package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/internal/mtls"
)

// procs starts processes of one test binary and kills every one it
// started, by pid, when the test ends.
type procs struct {
	t   *testing.T
	bin string
	dir string
	mu  sync.Mutex
	all []*exec.Cmd
}

var buildOnce struct {
	sync.Once
	bin string
	err error
}

// buildPrivml builds this command once per test binary.
func buildPrivml(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "privml-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.bin = filepath.Join(dir, "privml")
		out, err := exec.Command("go", "build", "-o", buildOnce.bin, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildOnce.err)
	return buildOnce.bin
}

func newProcs(t *testing.T) *procs {
	p := &procs{t: t, bin: buildPrivml(t), dir: t.TempDir()}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.all {
			if c.ProcessState == nil {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}
	})
	return p
}

// start runs the binary with args; its stderr goes to a file named name.
func (p *procs) start(name string, args ...string) *exec.Cmd {
	p.t.Helper()
	c := exec.Command(p.bin, args...)
	errf, err := os.Create(filepath.Join(p.dir, name+".err"))
	require.NoError(p.t, err)
	c.Stderr = errf
	p.mu.Lock()
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c
}

func (p *procs) run(c *exec.Cmd) {
	p.t.Helper()
	require.NoError(p.t, c.Start())
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// fedSetup writes the PKI and n CSV shards, and returns each client's
// fixed-point input (column sums, then the row count).
func fedSetup(t *testing.T, dir string, n, dim int) []([]int64) {
	require.NoError(t, mtls.WriteDevPKI(filepath.Join(dir, "tls"), mtls.DevPKI{Clients: n}))
	inputs := make([][]int64, n)
	for id := range n {
		var b strings.Builder
		for j := range dim {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "c%d", j)
		}
		b.WriteByte('\n')
		for row := range 3 + id%4 {
			for j := range dim {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%.3f", float64((id+1)*(row+2)*(j+1)%97)/7-3)
			}
			b.WriteByte('\n')
		}
		path := filepath.Join(dir, fmt.Sprintf("shard-%d.csv", id))
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
		sums, rows, err := readShard(path, 1000, 1e6)
		require.NoError(t, err)
		inputs[id] = append(sums, rows)
	}
	return inputs
}

func (p *procs) client(addr string, id int, extra ...string) *exec.Cmd {
	args := []string{"fed", "client", "--server", addr, "--tls", filepath.Join(p.dir, "tls"), "--id", fmt.Sprint(id),
		"--data", filepath.Join(p.dir, fmt.Sprintf("shard-%d.csv", id)), "--retry-for", "60s", "--json"}
	return p.start(fmt.Sprintf("client-%d", id), append(args, extra...)...)
}

func (p *procs) server(addr string, n, dim, rounds int, extra ...string) *exec.Cmd {
	args := []string{"fed", "server", "--listen", addr, "--tls", filepath.Join(p.dir, "tls"), "--clients", fmt.Sprint(n),
		"--rounds", fmt.Sprint(rounds), "--dim", fmt.Sprint(dim), "--json", "--stage-timeout", "3s", "--start-timeout", "6s", "--linger", "2s"}
	return p.start("server", append(args, extra...)...)
}

// readRounds reads the server's per-round JSON lines from its stdout and
// sends them on a channel, closed at EOF.
func readRounds(t *testing.T, c *exec.Cmd) <-chan fedRoundLine {
	out, err := c.StdoutPipe()
	require.NoError(t, err)
	ch := make(chan fedRoundLine, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 256<<20)
		for sc.Scan() {
			var l fedRoundLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Round > 0 {
				ch <- l
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan fedRoundLine, timeout time.Duration) fedRoundLine {
	t.Helper()
	select {
	case l, ok := <-ch:
		require.True(t, ok, "server exited early")
		return l
	case <-time.After(timeout):
		t.Fatal("no round result in time")
	}
	return fedRoundLine{}
}

// checkSum asserts that a round's sum is the plain sum of its survivors'
// inputs.
func checkSum(t *testing.T, l fedRoundLine, inputs [][]int64) {
	t.Helper()
	require.Empty(t, l.Error, "round %d", l.Round)
	want := make([]int64, len(inputs[0]))
	for _, id := range l.Survivors {
		for j, v := range inputs[id] {
			want[j] += v
		}
	}
	assert.Equal(t, want[:len(want)-1], l.Sum, "round %d sum", l.Round)
	assert.Equal(t, want[len(want)-1], l.Rows, "round %d rows", l.Round)
}

// TestMultiProcessDropouts starts a server and 21 client processes over
// mutual TLS on 127.0.0.1 for 3 rounds. Client 20 crashes when its masked
// input is due in round 2 and is restarted; client 19 is killed (SIGKILL)
// when round 2 starts. Every round's sum must be the plain sum of its
// survivors' inputs.
func TestMultiProcessDropouts(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const n, dim, rounds = 21, 3, 3
	p := newProcs(t)
	inputs := fedSetup(t, p.dir, n, dim)
	addr := freeAddr(t)
	srv := p.server(addr, n, dim, rounds)
	lines := readRounds(t, srv)
	p.run(srv)
	clients := make([]*exec.Cmd, n)
	for id := range n {
		var extra []string
		if id == 20 {
			extra = []string{"--crash-at", "2:masked_input"}
		}
		clients[id] = p.client(addr, id, extra...)
		p.run(clients[id])
	}
	r1 := next(t, lines, 40*time.Second)
	checkSum(t, r1, inputs)
	assert.Len(t, r1.Survivors, n)
	require.NoError(t, clients[19].Process.Signal(syscall.SIGKILL)) // round 2 is starting
	// Client 20 crashes in round 2 (exit status 3); restart it.
	err := clients[20].Wait()
	require.Error(t, err)
	assert.Equal(t, 3, clients[20].ProcessState.ExitCode())
	restarted := p.client(addr, 20)
	p.run(restarted)

	r2 := next(t, lines, 40*time.Second)
	checkSum(t, r2, inputs)
	assert.NotContains(t, r2.Survivors, 20)
	assert.NotContains(t, r2.Survivors, 19)
	assert.GreaterOrEqual(t, len(r2.Survivors), n-2)
	r3 := next(t, lines, 40*time.Second)
	checkSum(t, r3, inputs)
	assert.Contains(t, r3.Survivors, 20, "the restarted client takes part again")
	assert.NotContains(t, r3.Survivors, 19)
	assert.Len(t, r3.Survivors, n-1)

	require.NoError(t, srv.Wait())
	for id, c := range clients {
		if id == 19 || id == 20 {
			continue
		}
		assert.NoError(t, c.Wait(), "client %d", id)
	}
	assert.NoError(t, restarted.Wait())
}

// TestMultiProcessServerRestart kills the server (SIGKILL) after round 2
// of 4 and restarts it from its checkpoint: it runs rounds 3 and 4 only,
// the clients (still running) rejoin, and every sum is exact.
func TestMultiProcessServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const n, dim, rounds = 20, 2, 4
	p := newProcs(t)
	inputs := fedSetup(t, p.dir, n, dim)
	addr := freeAddr(t)
	state := filepath.Join(p.dir, "state")
	srv := p.server(addr, n, dim, rounds, "--state", state)
	lines := readRounds(t, srv)
	p.run(srv)
	clients := make([]*exec.Cmd, n)
	for id := range n {
		clients[id] = p.client(addr, id)
		p.run(clients[id])
	}
	for r := uint64(1); r <= 2; r++ {
		l := next(t, lines, 40*time.Second)
		assert.Equal(t, r, l.Round)
		checkSum(t, l, inputs)
		assert.Len(t, l.Survivors, n)
	}
	require.NoError(t, srv.Process.Signal(syscall.SIGKILL))
	_ = srv.Wait()
	ck, err := transport.ReadCheckpoint(filepath.Join(state, checkpointFile))
	require.NoError(t, err)
	assert.Equal(t, uint64(2), ck.Round)
	assert.Equal(t, uint32(1), ck.Epoch)

	srv2 := p.server(addr, n, dim, rounds, "--state", state)
	lines2 := readRounds(t, srv2)
	p.run(srv2)
	for r := uint64(3); r <= 4; r++ {
		l := next(t, lines2, 40*time.Second)
		assert.Equal(t, r, l.Round, "the restarted server resumes after the last completed round")
		checkSum(t, l, inputs)
		assert.Len(t, l.Survivors, n)
	}
	require.NoError(t, srv2.Wait())
	for id, c := range clients {
		assert.NoError(t, c.Wait(), "client %d", id)
	}
	ck, err = transport.ReadCheckpoint(filepath.Join(state, checkpointFile))
	require.NoError(t, err)
	assert.Equal(t, uint64(4), ck.Round)
	assert.Equal(t, uint32(2), ck.Epoch)
}

// TestMultiProcessMalicious runs the malicious threat model across
// processes: the server and clients derive the session seeds from the
// same --beacon, each client checks the roster of certificate keys and
// records its last session in --state. Client 7 was given another beacon
// value (as if the server had chosen the seeds): it refuses every round
// before sending anything, and the others' sums are exact.
func TestMultiProcessMalicious(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const n, dim, rounds = 8, 2, 2
	p := newProcs(t)
	inputs := fedSetup(t, p.dir, n, dim)
	addr := freeAddr(t)
	state := filepath.Join(p.dir, "client-state")
	srv := p.server(addr, n, dim, rounds, "--threat", "malicious", "--beacon", "drand round 12345", "--dropout", "0.3")
	lines := readRounds(t, srv)
	p.run(srv)
	clients := make([]*exec.Cmd, n)
	for id := range n {
		beacon := "drand round 12345"
		if id == 7 {
			beacon = "another value"
		}
		clients[id] = p.client(addr, id, "--roster", fmt.Sprint(n), "--beacon", beacon, "--state", state)
		p.run(clients[id])
	}
	for r := uint64(1); r <= rounds; r++ {
		l := next(t, lines, 40*time.Second)
		assert.Equal(t, r, l.Round)
		checkSum(t, l, inputs)
		assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6}, l.Survivors)
	}
	require.NoError(t, srv.Wait())
	for id, c := range clients {
		assert.NoError(t, c.Wait(), "client %d", id)
	}
	// Each client recorded the Sequence of the last round it joined
	// (Epoch<<32 | round); client 7 joined none.
	for id := range n {
		last, ok, err := secagg.FileSequenceStore{Path: filepath.Join(state, fmt.Sprintf("client-%d.sequence", id))}.Last()
		require.NoError(t, err)
		if id == 7 {
			assert.False(t, ok)
			continue
		}
		require.True(t, ok, "client %d", id)
		assert.Equal(t, uint64(rounds), last&(1<<32-1), "client %d", id)
	}
	errLog, err := os.ReadFile(filepath.Join(p.dir, "client-7.err"))
	require.NoError(t, err)
	assert.Contains(t, string(errLog), "SessionSeed is not the expected one")
}
