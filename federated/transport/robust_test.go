package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/privml/privml/federated/transport/transportpb"
)

// TestConnectionFlood: connections that open TCP and never handshake are
// bounded by MaxConnections and dropped after the handshake timeout; an
// honest client still gets through.
func TestConnectionFlood(t *testing.T) {
	const maxConns = 4
	h := newHarness(t, baseConfig(3, 10, 1), Limits{MaxConnections: maxConns, HandshakeTimeout: 300 * time.Millisecond})
	var flood []net.Conn
	for range 30 {
		c, err := net.DialTimeout("tcp", h.addr, time.Second)
		require.NoError(t, err) // the kernel's backlog accepts; the server does not
		flood = append(flood, c)
	}
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	hello, err := h.raw(1).Hello(ctx, &pb.HelloRequest{})
	require.NoError(t, err)
	assert.Equal(t, uint32(1), hello.Client)
	t.Logf("honest client served after %v behind 30 silent connections", time.Since(start))
	assert.LessOrEqual(t, h.lis.MaxOpen(), maxConns)
}

// TestClientRestartMidRound: a client process that dies after sharing its
// keys (its secrets are gone) counts as dropped in that round, never
// twice; its restart, with the same certificate identity, takes part in
// the next round.
func TestClientRestartMidRound(t *testing.T) {
	const n, dim, rounds = 5, 60, 2
	h := newHarness(t, baseConfig(n, dim, rounds), Limits{})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	killCtx, kill := context.WithCancel(ctx)
	var restarted sync.WaitGroup
	restarted.Add(1)
	wait := h.runClients(ctx, []int{0, 1, 2, 3}, nil)
	// Client 4's first process dies when its masked input is due.
	first := h.runClients(killCtx, []int{4}, func(_ int, c *ClientConfig) {
		c.BeforeStage = func(round uint64, st Stage) error {
			if st == pb.Stage_STAGE_MASKED_INPUT {
				kill()
				return errors.New("test: process killed")
			}
			return nil
		}
	})
	go func() {
		first()
		restarted.Done()
	}()
	restarted.Wait()
	second := h.runClients(ctx, []int{4}, nil)
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	require.NoError(t, second()[4])
	reps := h.roundReports()
	require.Len(t, reps, rounds)
	require.NoError(t, reps[0].Err)
	assert.Equal(t, []int{0, 1, 2, 3}, reps[0].Result.Survivors)
	assert.Equal(t, pb.Stage_STAGE_MASKED_INPUT, reps[0].DroppedAt[4])
	assert.Equal(t, plainSum([]int{0, 1, 2, 3}, 1, dim+1), reps[0].Result.Sum)
	require.NoError(t, reps[1].Err)
	assert.Equal(t, ids(n), reps[1].Result.Survivors)
	assert.Equal(t, plainSum(ids(n), 2, dim+1), reps[1].Result.Sum)
}

// TestTooFewClientsAbortsRound: when fewer clients than the threshold
// answer, the round aborts with a clear report, the waiting clients are
// told (Aborted), and the next round runs.
func TestTooFewClientsAbortsRound(t *testing.T) {
	const n, dim = 4, 20
	cfg := baseConfig(n, dim, 2)
	cfg.StageTimeout = time.Second
	h := newHarness(t, cfg, Limits{})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.BeforeStage = func(round uint64, st Stage) error {
			if round == 1 && id > 0 && st == pb.Stage_STAGE_SHARE_KEYS {
				return errors.New("test: silent")
			}
			return nil
		}
	})
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	reps := h.roundReports()
	require.Len(t, reps, 2)
	require.Error(t, reps[0].Err)
	assert.Contains(t, reps[0].Err.Error(), "threshold")
	assert.Nil(t, reps[0].Result)
	require.NoError(t, reps[1].Err)
	assert.Equal(t, plainSum(ids(n), 2, dim+1), reps[1].Result.Sum)
	assert.Contains(t, h.logs.String(), `"code":"Aborted"`)
}

// allowedLogKeys are the only attributes the transport logs: ids, rounds,
// stages, sizes, durations, codes and error texts (which secagg and this
// package keep free of secrets).
var allowedLogKeys = map[string]bool{
	"time": true, "level": true, "msg": true, "method": true, "client": true, "round": true,
	"stage": true, "err": true, "bytes": true, "duplicate": true, "ms": true, "present": true,
	"clients": true, "survivors": true, "dropped": true, "code": true,
}

// TestLogsCarryNoVectors runs a round with a dropout and checks every log
// record of the server and the clients: only the allowed keys and scalar
// values, so that no vector, mask, share or key can be in them.
func TestLogsCarryNoVectors(t *testing.T) {
	const n, dim = 3, 30
	h := newHarness(t, baseConfig(n, dim, 1), Limits{})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		if id == 2 {
			c.BeforeStage = func(round uint64, st Stage) error {
				if st == pb.Stage_STAGE_UNMASK {
					return errors.New("test: silent")
				}
				return nil
			}
		}
	})
	require.NoError(t, h.wait())
	wait()
	lines := strings.Split(strings.TrimSpace(h.logs.String()), "\n")
	require.NotEmpty(t, lines)
	for _, line := range lines {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		for k, v := range rec {
			assert.True(t, allowedLogKeys[k], "log key %q in %s", k, line)
			switch v.(type) {
			case string, float64, bool:
			default:
				t.Errorf("log value of %q is a %T: %s", k, v, line)
			}
		}
		if s, ok := rec["err"].(string); ok {
			assert.Less(t, len(s), 400, "error text too long to be a message: %s", line)
		}
	}
}
