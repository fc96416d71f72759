package transport

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/federated/secagg"
	pb "github.com/privml/privml/federated/transport/transportpb"
	"github.com/privml/privml/internal/mtls"
)

// TestBadCertificatesRefused: certificates from another CA, expired, or
// naming a client off the roster are refused, and the round goes on.
func TestBadCertificatesRefused(t *testing.T) {
	const n, dim = 3, 50
	h := newHarness(t, baseConfig(n, dim, 1), Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	other, err := mtls.NewCA("other CA", nil)
	require.NoError(t, err)
	foreign, err := other.IssueClient(1, nil)
	require.NoError(t, err)
	foreignTLS, err := mtls.ClientConfig(h.ca.CertPEM, foreign.TLS(), "localhost")
	require.NoError(t, err)
	expiredTLS := h.clientTLS(2, &mtls.Options{NotBefore: time.Now().Add(-48 * time.Hour), Lifetime: time.Hour})

	for name, conf := range map[string]pb.AggregationClient{"other CA": h.rawTLS(foreignTLS), "expired": h.rawTLS(expiredTLS)} {
		_, err := conf.Hello(ctx, &pb.HelloRequest{})
		require.Error(t, err, name)
		assert.Equal(t, codes.Unavailable, status.Code(err), "%s: %v", name, err)
	}
	_, err = h.raw(7).Hello(ctx, &pb.HelloRequest{})
	assert.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "not on the roster")

	h.start()
	wait := h.runClients(ctx, ids(n), nil)
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	assert.Equal(t, plainSum(ids(n), 1, dim+1), rep.Result.Sum)
}

// attacker records the status codes its forged calls get.
type attacker struct {
	t     *testing.T
	h     *harness
	mu    sync.Mutex
	codes map[string]codes.Code
}

func (a *attacker) record(name string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.codes[name] = status.Code(err)
	if err != nil {
		a.t.Logf("%s: %v", name, err)
	}
}

// upload sends a header announcing total, then chunks, and closes (or,
// with cut, abandons the stream half-way).
func upload(ctx context.Context, c pb.AggregationClient, f *pb.Frame, total uint64, chunks [][]byte, cut bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.Upload(ctx)
	if err != nil {
		return err
	}
	if total > 0 {
		if err := st.Send(&pb.UploadChunk{Kind: &pb.UploadChunk_Header{Header: &pb.UploadHeader{Frame: f, TotalSize: total}}}); err != nil {
			_, err = st.Recv()
			return err
		}
		if _, err := st.Recv(); err != nil { // ready
			return err
		}
	}
	for _, ch := range chunks {
		if err := st.Send(&pb.UploadChunk{Kind: &pb.UploadChunk_Data{Data: ch}}); err != nil {
			_, err = st.Recv()
			return err
		}
	}
	if cut {
		time.Sleep(50 * time.Millisecond)
		cancel()
		_, err = st.Recv()
		return err
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	_, err = st.Recv()
	return err
}

func fakeMessage(size int, typ byte, client uint32) []byte {
	b := make([]byte, size)
	b[0], b[1] = secagg.WireVersion, typ
	binary.BigEndian.PutUint32(b[2:6], client)
	return b
}

// attackAdvertise runs, on client 0's channel and on client 1's, the
// forgeries possible while the AdvertiseKeys stage is open.
func (a *attacker) attackAdvertise(ctx context.Context, round uint64) {
	own, other := a.h.raw(0), a.h.raw(1)
	hello, err := own.Hello(ctx, &pb.HelloRequest{})
	require.NoError(a.t, err)
	f := func(session []byte, round uint64, st pb.Stage) *pb.Frame {
		return &pb.Frame{Session: session, Round: round, Stage: st}
	}
	sess := hello.Session
	submit := func(c pb.AggregationClient, fr *pb.Frame, p []byte) error {
		_, err := c.Submit(ctx, &pb.SubmitRequest{Frame: fr, Payload: p})
		return err
	}
	advert := fakeMessage(38+64+2, 1, 0)
	a.record("wrong session", submit(own, f(make([]byte, 16), round, pb.Stage_STAGE_ADVERTISE), advert))
	a.record("no frame", submit(own, nil, advert))
	a.record("wrong round", submit(own, f(sess, round+5, pb.Stage_STAGE_ADVERTISE), advert))
	a.record("stage not open", submit(own, f(sess, round, pb.Stage_STAGE_SHARE_KEYS), advert))
	a.record("malformed", submit(own, f(sess, round, pb.Stage_STAGE_ADVERTISE), []byte{1, 2, 3}))
	a.record("impersonation", submit(other, f(sess, round, pb.Stage_STAGE_ADVERTISE), fakeMessage(38+64+2, 1, 0)))
	a.record("upload in advertise", upload(ctx, own, f(sess, round, pb.Stage_STAGE_ADVERTISE), 10, [][]byte{make([]byte, 10)}, false))
	st, err := own.Await(ctx, &pb.AwaitRequest{Frame: f(make([]byte, 16), round, pb.Stage_STAGE_ADVERTISE)})
	if err == nil {
		_, err = st.Recv() // the status of a server stream comes with its first message
	}
	a.record("await wrong session", err)
}

// attackUpload runs the upload forgeries while MaskedInputCollection is
// open; want is the masked input's size.
func (a *attacker) attackUpload(ctx context.Context, round uint64, want int) {
	own, other := a.h.raw(0), a.h.raw(1)
	hello, err := own.Hello(ctx, &pb.HelloRequest{})
	require.NoError(a.t, err)
	fr := &pb.Frame{Session: hello.Session, Round: round, Stage: pb.Stage_STAGE_MASKED_INPUT}
	w := uint64(want)
	half := fakeMessage(want/2, 5, 0)
	a.record("announced too large", upload(ctx, own, fr, w+1, nil, false))
	a.record("announced too small", upload(ctx, own, fr, w-1, nil, false))
	a.record("no header", upload(ctx, own, fr, 0, [][]byte{half}, false))
	a.record("chunk over 1 MiB", upload(ctx, own, fr, w, [][]byte{make([]byte, MaxChunkSize+1)}, false))
	a.record("chunk past announced", upload(ctx, own, fr, w, [][]byte{half, make([]byte, want)}, false))
	a.record("stream ends half-way", upload(ctx, own, fr, w, [][]byte{half}, false))
	a.record("stream cut half-way", upload(ctx, own, fr, w, [][]byte{half}, true))
	// A well-formed masked input of the right size, bound to no session.
	// (Wire version 2: bits, length, an empty signature, the vector.)
	whole := fakeMessage(want, 5, 0)
	whole[38] = 32
	binary.BigEndian.PutUint32(whole[39:43], uint32((want-45)/4))
	chunks := [][]byte{whole[:MaxChunkSize], whole[MaxChunkSize:]}
	a.record("impersonated upload", upload(ctx, other, fr, w, chunks, false))
	a.record("wrong secagg session", upload(ctx, own, fr, w, chunks, false))
	a.record("submit masked input", func() error {
		_, err := own.Submit(ctx, &pb.SubmitRequest{Frame: fr, Payload: half})
		return err
	}())
}

// TestBadMessagesRefused: a peer's forged, misframed, oversized, cut or
// impersonating messages are each refused with a clear status and leave
// the round's state alone: the sum is still exact.
func TestBadMessagesRefused(t *testing.T) {
	const n = 4
	const dim = 300_000 // a masked input of 1.2 MB: two chunks
	cfg := baseConfig(n, dim, 1)
	cfg.StageTimeout = 20 * time.Second
	h := newHarness(t, cfg, Limits{})
	h.start()
	a := &attacker{t: t, h: h, codes: make(map[string]codes.Code)}
	want := 38 + 7 + (dim+1)*4 // a semi-honest (unsigned) masked input
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		if id != 0 {
			return
		}
		c.BeforeStage = func(round uint64, st Stage) error {
			switch st {
			case pb.Stage_STAGE_ADVERTISE:
				a.attackAdvertise(ctx, round)
			case pb.Stage_STAGE_MASKED_INPUT:
				a.attackUpload(ctx, round, want)
			}
			return nil
		}
	})
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	assert.Empty(t, rep.DroppedAt)
	assert.Equal(t, plainSum(ids(n), 1, dim+1), rep.Result.Sum)

	wantCodes := map[string]codes.Code{
		"wrong session":        codes.FailedPrecondition,
		"no frame":             codes.FailedPrecondition,
		"wrong round":          codes.FailedPrecondition,
		"stage not open":       codes.FailedPrecondition,
		"malformed":            codes.InvalidArgument,
		"impersonation":        codes.PermissionDenied,
		"upload in advertise":  codes.FailedPrecondition,
		"await wrong session":  codes.FailedPrecondition,
		"announced too large":  codes.OutOfRange,
		"announced too small":  codes.InvalidArgument,
		"no header":            codes.InvalidArgument,
		"chunk over 1 MiB":     codes.OutOfRange,
		"chunk past announced": codes.OutOfRange,
		"stream ends half-way": codes.InvalidArgument,
		"stream cut half-way":  codes.Canceled,
		"impersonated upload":  codes.PermissionDenied,
		"wrong secagg session": codes.FailedPrecondition,
		"submit masked input":  codes.FailedPrecondition,
	}
	assert.Equal(t, wantCodes, a.codes)
}

// TestRetriesAreIdempotent: a client whose replies are lost resends the
// same messages; the server answers "duplicate" and counts it once. A
// different message for a stage already answered is refused.
func TestRetriesAreIdempotent(t *testing.T) {
	const n, dim = 3, 40
	h := newHarness(t, baseConfig(n, dim, 1), Limits{})
	h.start()
	var mu sync.Mutex
	seen := map[string]int{}
	note := func(k string) {
		mu.Lock()
		seen[k]++
		mu.Unlock()
	}
	// Client 0 sends each Submit twice (the first reply "lost") and then
	// a tampered copy.
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		sr, ok := req.(*pb.SubmitRequest)
		if !ok {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
			return err
		}
		again := new(pb.SubmitResponse)
		if err := invoker(ctx, method, req, again, cc, opts...); err == nil && again.Duplicate {
			note("duplicate")
		}
		bad := proto.Clone(sr).(*pb.SubmitRequest)
		bad.Payload = append([]byte(nil), sr.Payload...)
		bad.Payload[len(bad.Payload)-1] ^= 1
		err := invoker(ctx, method, bad, new(pb.SubmitResponse), cc, opts...)
		note("tampered " + status.Code(err).String())
		return nil
	}
	// Client 1 loses the reply to its first upload: it must resend it.
	var uploads, lostOnce atomic.Int32
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || method != pb.Aggregation_Upload_FullMethodName {
			return cs, err
		}
		uploads.Add(1)
		return &lossyStream{ClientStream: cs, lose: func() bool { return lostOnce.Add(1) == 1 }, dup: func() { note("upload duplicate") }}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		switch id {
		case 0:
			c.DialOptions = append(c.DialOptions, grpc.WithUnaryInterceptor(unary))
		case 1:
			c.DialOptions = append(c.DialOptions, grpc.WithStreamInterceptor(stream))
		}
	})
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	assert.Equal(t, plainSum(ids(n), 1, dim+1), rep.Result.Sum)
	assert.Equal(t, 3, seen["duplicate"], "advert, shares and unmasking each resent once")
	assert.Equal(t, 3, seen["tampered AlreadyExists"])
	assert.Equal(t, int32(2), uploads.Load(), "client 1 uploaded twice")
	assert.Equal(t, 1, seen["upload duplicate"])
}

// lossyStream drops the server's reply to an upload when lose says so,
// as a broken connection would.
type lossyStream struct {
	grpc.ClientStream
	lose func() bool
	dup  func()
}

func (s *lossyStream) RecvMsg(m any) error {
	if err := s.ClientStream.RecvMsg(m); err != nil {
		return err
	}
	if r, ok := m.(*pb.UploadReply); ok && r.GetDone() != nil {
		if r.GetDone().Duplicate {
			s.dup()
		}
		if s.lose() {
			return status.Error(codes.Unavailable, "test: reply lost")
		}
	}
	return nil
}
