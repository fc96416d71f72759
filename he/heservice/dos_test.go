package heservice

import (
	"bytes"
	"context"
	"log/slog"
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

// TestOneKeyUploadPerClient: a client that stalls one key upload cannot
// start a second, so it holds one slot however many it tries; another
// client still opens its session.
func TestOneKeyUploadPerClient(t *testing.T) {
	e := newEnv(t, he.Latency, ServerConfig{MaxUploads: 2, MaxChunkBytes: 64 << 10})
	keys := encodeKeys(t, e.keys)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	attacker := e.raw(t, 1)
	codesGot := map[codes.Code]int{}
	for i := range 3 {
		st, err := attacker.OpenSession(ctx)
		require.NoError(t, err)
		// A refused stream may be ended before this send (io.EOF); its
		// status comes with CloseAndRecv.
		_ = st.Send(&hepb.KeyChunk{PlanDigest: PlanDigest(e.plan), Data: keys[:1000]})
		if i == 0 {
			require.Eventually(t, func() bool { return len(e.srv.uploads) == 1 }, 10*time.Second, 10*time.Millisecond)
			codesGot[codes.OK]++
			continue
		}
		_, err = st.CloseAndRecv()
		codesGot[status.Code(err)]++
		require.Contains(t, err.Error(), "already has a key upload in progress")
	}
	require.Equal(t, map[codes.Code]int{codes.OK: 1, codes.ResourceExhausted: 2}, codesGot)
	require.Len(t, e.srv.uploads, 1)
	_, err := e.dial(t, 0).OpenSession(ctxT(t), e.keys)
	require.NoError(t, err, "the other client's upload finds a free slot; logs: %s", e.logs.String())
}

// TestSessionCapsWithoutCertificates: clients without certificates are
// not one peer: they share MaxSessions, not MaxSessionsPerPeer.
func TestSessionCapsWithoutCertificates(t *testing.T) {
	_, plan := testPlan(t, he.Latency, 1)
	srv, err := NewServer(ServerConfig{Plan: plan, MaxSessions: 4, MaxSessionsPerPeer: 1, Logger: discard()})
	require.NoError(t, err)
	for i := range 6 {
		srv.add([]byte{byte(i), 15: 0}, [32]byte{}, nil)
	}
	require.Equal(t, 4, srv.Sessions())
	a, b := [32]byte{1}, [32]byte{2}
	srv.add(bytes.Repeat([]byte{1}, 16), a, nil)
	srv.add(bytes.Repeat([]byte{2}, 16), a, nil)
	srv.add(bytes.Repeat([]byte{3}, 16), b, nil)
	require.Equal(t, 4, srv.Sessions())
	_, err = srv.lookup(bytes.Repeat([]byte{1}, 16), a)
	require.Equal(t, codes.NotFound, status.Code(err), "a's first session went when a opened its second")
	for _, k := range []struct {
		id byte
		fp [32]byte
	}{{2, a}, {3, b}} {
		_, err = srv.lookup(bytes.Repeat([]byte{k.id}, 16), k.fp)
		require.NoError(t, err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
