package transport

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/privml/privml/federated/transport/transportpb"
)

// TestRoundsWithDropouts runs 10 clients over 3 rounds on 127.0.0.1 with
// mutual TLS; clients drop at every stage, and each round's result must
// be the plain sum of exactly the inputs of the clients that sent a
// masked input.
func TestRoundsWithDropouts(t *testing.T) {
	const n, dim, rounds = 10, 300, 3
	h := newHarness(t, baseConfig(n, dim, rounds), Limits{})
	h.start()
	// drops[round][client] = the stage at which the client goes silent.
	drops := map[uint64]map[int]pb.Stage{
		1: {3: pb.Stage_STAGE_ADVERTISE},
		2: {5: pb.Stage_STAGE_SHARE_KEYS, 7: pb.Stage_STAGE_MASKED_INPUT},
		3: {1: pb.Stage_STAGE_UNMASK, 8: pb.Stage_STAGE_MASKED_INPUT},
	}
	var got = make(map[int][]uint64) // client -> rounds whose result it saw
	var gotMu = make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.BeforeStage = func(round uint64, st Stage) error {
			if drops[round][id] == st {
				return fmt.Errorf("test: client %d goes silent at %v", id, st)
			}
			return nil
		}
		c.OnResult = func(round uint64, _ []int, payload []byte) {
			gotMu <- struct{}{}
			got[id] = append(got[id], round)
			<-gotMu
			assert.Equal(t, "model after round", string(payload))
		}
	})
	require.NoError(t, h.wait())
	for id, err := range wait() {
		assert.NoError(t, err, "client %d", id)
	}
	reps := h.roundReports()
	require.Len(t, reps, rounds)
	for _, rep := range reps {
		require.NoError(t, rep.Err, "round %d", rep.Round)
		var want []int
		for id := range n {
			st, dropped := drops[rep.Round][id]
			if !dropped || st > pb.Stage_STAGE_MASKED_INPUT {
				want = append(want, id)
			}
		}
		assert.Equal(t, want, rep.Result.Survivors, "round %d survivors", rep.Round)
		assert.Equal(t, plainSum(want, rep.Round, dim+1), rep.Result.Sum, "round %d sum", rep.Round)
		for id, st := range drops[rep.Round] {
			assert.Equal(t, st, rep.DroppedAt[id], "round %d client %d", rep.Round, id)
		}
		assert.Len(t, rep.DroppedAt, len(drops[rep.Round]))
	}
	// Every client that finished a round saw its result.
	for id := range n {
		var want []uint64
		for r := uint64(1); r <= rounds; r++ {
			if _, dropped := drops[r][id]; !dropped {
				want = append(want, r)
			}
		}
		slices.Sort(got[id])
		assert.Equal(t, want, got[id], "client %d", id)
	}
}

// TestStageClosesWhenAllAnswered: when every expected client has sent its
// message, a stage closes at once, not at its deadline (even when the
// clients answer before the server starts waiting on the stage).
func TestStageClosesWhenAllAnswered(t *testing.T) {
	const n, dim, rounds = 6, 50, 3
	cfg := baseConfig(n, dim, rounds)
	cfg.StageTimeout = 30 * time.Second
	h := newHarness(t, cfg, Limits{})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := h.runClients(ctx, ids(n), nil)
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	for _, rep := range h.roundReports() {
		require.NoError(t, rep.Err)
		assert.Less(t, rep.Duration, cfg.StageTimeout/2, "round %d waited for a deadline", rep.Round)
	}
}
