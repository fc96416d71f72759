package heservice

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/privml/privml/he"
	"github.com/privml/privml/he/heservice/hepb"
)

// TestOnePeerCannotEvictOthers: a client that opens session after
// session loses its own oldest sessions, never another client's.
func TestOnePeerCannotEvictOthers(t *testing.T) {
	e := newEnv(t, he.Latency, ServerConfig{MaxSessions: 4, MaxSessionsPerPeer: 2})
	cts, err := e.client.Encrypt(e.plan, [][]float64{make([]float64, 12)})
	require.NoError(t, err)
	victim, err := e.dial(t, 1).OpenSession(ctxT(t), e.keys)
	require.NoError(t, err)

	attacker := e.dial(t, 0)
	var own []*Session
	for range 6 {
		s, err := attacker.OpenSession(ctxT(t), e.keys)
		require.NoError(t, err)
		own = append(own, s)
	}
	require.Equal(t, 3, e.srv.Sessions(), "the victim's session and the attacker's two newest")
	_, err = victim.Evaluate(ctxT(t), cts[0])
	require.NoError(t, err, "another client's flood evicted the victim's session")
	for i, s := range own {
		_, err := s.Evaluate(ctxT(t), cts[0])
		if i < len(own)-2 {
			require.Equal(t, codes.NotFound, status.Code(err), "session %d", i)
		} else {
			require.NoError(t, err, "session %d", i)
		}
	}
}

// TestKeyUploadsBounded: key uploads that never finish hold at most
// MaxUploads slots; one more is refused at once, and a slot is freed when
// the stalled upload ends.
func TestKeyUploadsBounded(t *testing.T) {
	e := newEnv(t, he.Latency, ServerConfig{MaxUploads: 1, MaxChunkBytes: 64 << 10})
	keys := encodeKeys(t, e.keys)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	stalled, err := e.raw(t, 1).OpenSession(ctx)
	require.NoError(t, err)
	require.NoError(t, stalled.Send(&hepb.KeyChunk{PlanDigest: PlanDigest(e.plan), Data: keys[:1000]}))
	require.Eventually(t, func() bool { return len(e.srv.uploads) == 1 }, 10*time.Second, 10*time.Millisecond)

	c := e.dial(t, 0)
	_, err = c.OpenSession(ctxT(t), e.keys)
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	require.Contains(t, e.logs.String(), "key uploads in progress")

	cancel() // the stalled client goes away
	require.Eventually(t, func() bool { return len(e.srv.uploads) == 0 }, 10*time.Second, 10*time.Millisecond)
	_, err = c.OpenSession(ctxT(t), e.keys)
	require.NoError(t, err)
}
