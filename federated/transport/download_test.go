package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/privml/privml/federated/transport/transportpb"
	"github.com/privml/privml/internal/mtls"
)

// pattern returns n bytes that differ from chunk to chunk, so that a
// chunk out of place would show.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/MaxChunkSize)
	}
	return b
}

// TestLargePayloadsStream sends a model of 2.5 MiB with every round's
// configuration and a result of 3 MiB: both reach every client intact,
// in chunks of at most 1 MiB (the client's receive limit is a chunk and
// its framing, so a whole-message reply could not arrive).
func TestLargePayloadsStream(t *testing.T) {
	const n, dim, rounds = 3, 20, 2
	model, result := pattern(5*MaxChunkSize/2), pattern(3*MaxChunkSize)
	cfg := baseConfig(n, dim, rounds)
	cfg.Model = func(uint64) ([]byte, error) { return model, nil }
	cfg.OnRound = func(*RoundReport) ([]byte, error) { return result, nil }
	h := newHarness(t, cfg, Limits{})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	seen := map[int]int{}
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.Input = func(_ context.Context, round uint64, got []byte, length int) ([]int64, error) {
			assert.True(t, bytes.Equal(model, got), "client %d: the model of round %d differs", id, round)
			return inputFor(id, round, length), nil
		}
		c.OnResult = func(round uint64, _ []int, got []byte) {
			assert.True(t, bytes.Equal(result, got), "client %d: the result of round %d differs", id, round)
			mu.Lock()
			seen[id]++
			mu.Unlock()
		}
	})
	require.NoError(t, h.wait())
	for id, err := range wait() {
		require.NoError(t, err, "client %d", id)
	}
	for id := range n {
		assert.Equal(t, rounds, seen[id], "client %d", id)
	}
	for _, rep := range h.roundReports() {
		require.NoError(t, rep.Err)
		assert.Equal(t, plainSum(ids(n), rep.Round, dim+1), rep.Result.Sum)
	}
}

// badServer answers Hello and streams, for every Await, what send does.
type badServer struct {
	pb.UnimplementedAggregationServer
	send func(pb.Aggregation_AwaitServer, *pb.Frame) error
}

func (b *badServer) Hello(context.Context, *pb.HelloRequest) (*pb.HelloResponse, error) {
	return &pb.HelloResponse{Session: make([]byte, 16), Round: 1, Stage: pb.Stage_STAGE_CONFIG, LastRound: 1}, nil
}

func (b *badServer) Await(req *pb.AwaitRequest, st pb.Aggregation_AwaitServer) error {
	return b.send(st, req.GetFrame())
}

// serveBad starts a server that misbehaves in its downloads, over mutual
// TLS, and returns a Client of it.
func serveBad(t *testing.T, b *badServer, maxDownload int) *Client {
	t.Helper()
	ca, err := mtls.NewCA("test CA", nil)
	require.NoError(t, err)
	srvCert, err := ca.IssueServer([]string{"localhost"}, nil)
	require.NoError(t, err)
	srvTLS, err := mtls.ServerConfig(ca.CertPEM, srvCert.TLS())
	require.NoError(t, err)
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)))
	pb.RegisterAggregationServer(g, b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	cliCert, err := ca.IssueClient(0, nil)
	require.NoError(t, err)
	cliTLS, err := mtls.ClientConfig(ca.CertPEM, cliCert.TLS(), "localhost")
	require.NoError(t, err)
	c, err := NewClient(ClientConfig{Addr: ln.Addr().String(), TLS: cliTLS, MaxDownloadSize: maxDownload, Logger: discardLogger(),
		Input: func(context.Context, uint64, []byte, int) ([]int64, error) { return nil, nil }})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func header(f *pb.Frame, total uint64) *pb.DownloadChunk {
	return &pb.DownloadChunk{Kind: &pb.DownloadChunk_Header{Header: &pb.DownloadHeader{Frame: f, TotalSize: total}}}
}

func data(b []byte) *pb.DownloadChunk {
	return &pb.DownloadChunk{Kind: &pb.DownloadChunk_Data{Data: b}}
}

// TestBadDownloadsRefused: a client refuses a server's message whose
// stream is malformed (ErrDownload, naming what and where: so the round is
// abandoned, not retried forever), and passes the server's statuses
// through (a retry may help, or the client was dropped).
func TestBadDownloadsRefused(t *testing.T) {
	const limit = 3 * MaxChunkSize
	sendAll := func(msgs ...*pb.DownloadChunk) func(pb.Aggregation_AwaitServer, *pb.Frame) error {
		return func(st pb.Aggregation_AwaitServer, _ *pb.Frame) error {
			for _, m := range msgs {
				if err := st.Send(m); err != nil {
					return err
				}
			}
			return nil
		}
	}
	f := &pb.Frame{Session: make([]byte, 16), Round: 1, Stage: pb.Stage_STAGE_CONFIG}
	other := &pb.Frame{Session: make([]byte, 16), Round: 2, Stage: pb.Stage_STAGE_CONFIG}
	for name, tc := range map[string]struct {
		send func(pb.Aggregation_AwaitServer, *pb.Frame) error
		code codes.Code // for a status passed through; else ErrDownload
		want string
	}{
		"chunk past the announced size": {send: sendAll(header(f, 10), data(make([]byte, 8)), data(make([]byte, 8))), want: "download chunk of 8 bytes at offset 8 runs past the announced 10 bytes"},
		"stops half-way":                {send: sendAll(header(f, 10), data(make([]byte, 4))), want: "download stream ended after 4 of the announced 10 bytes"},
		"no data at all":                {send: sendAll(header(f, 10)), want: "ended after 0 of the announced 10 bytes"},
		"above the client's limit":      {send: sendAll(header(f, limit+1)), want: "accepts at most 3145728"},
		"chunk above 1 MiB":             {send: sendAll(header(f, limit), data(make([]byte, MaxChunkSize+1))), want: "exceeds the 1048576-byte limit"},
		"chunk above the receive limit": {send: sendAll(header(f, limit), data(make([]byte, 2*MaxChunkSize))), want: "exceeds the client's receive limit"},
		"empty chunk":                   {send: sendAll(header(f, 10), data(nil)), want: "empty download chunk at offset 0"},
		"no header":                     {send: sendAll(data(make([]byte, 4))), want: "not a header"},
		"header for another round":      {send: sendAll(header(other, 4), data(make([]byte, 4))), want: "round 2 stage STAGE_CONFIG, the client asked for round 1"},
		"second header":                 {send: sendAll(header(f, 8), data(make([]byte, 4)), header(f, 4)), want: "a second header at offset 4"},
		"nothing":                       {send: sendAll(), want: "the stream ended before the header"},
		"dropped": {send: func(pb.Aggregation_AwaitServer, *pb.Frame) error {
			return togRPCError(errorf(ErrDropped, "client 0 dropped"))
		}, code: codes.FailedPrecondition},
		"cut by a failure": {send: func(st pb.Aggregation_AwaitServer, f *pb.Frame) error {
			_ = sendAll(header(f, 10), data(make([]byte, 4)))(st, f)
			return status.Error(codes.Unavailable, "server going away")
		}, code: codes.Unavailable},
	} {
		c := serveBad(t, &badServer{send: tc.send}, limit)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := c.download(ctx, f)
		cancel()
		require.Error(t, err, name)
		if tc.code != codes.OK {
			assert.Equal(t, tc.code, status.Code(err), "%s: %v", name, err)
			assert.Equal(t, tc.code == codes.Unavailable, retryable(err), name)
			continue
		}
		assert.ErrorIs(t, err, ErrDownload, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.False(t, retryable(err), "%s: a malformed download is not retried", name)
	}

	// A well-formed download of several chunks arrives whole.
	msg := pattern(5*MaxChunkSize/2 + 3)
	c := serveBad(t, &badServer{send: func(st pb.Aggregation_AwaitServer, f *pb.Frame) error { return sendDownload(st, f, msg) }}, limit)
	got, err := c.download(context.Background(), f)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(msg, got))
}

// TestBadDownloadAbandonsRound: a client whose configuration download is
// malformed abandons the round and says why in its log, and Run goes on
// (here until its context ends), rather than failing or retrying the
// same download.
func TestBadDownloadAbandonsRound(t *testing.T) {
	var calls sync.Map
	b := &badServer{send: func(st pb.Aggregation_AwaitServer, f *pb.Frame) error {
		n, _ := calls.LoadOrStore(f.GetRound(), new(int))
		*n.(*int)++
		return st.Send(header(f, 1<<40))
	}}
	c := serveBad(t, b, 0)
	var logs lockedBuffer
	c.log = slog.New(slog.NewJSONHandler(&logs, nil)).With("client", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err := c.Run(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, logs.String(), "round abandoned")
	assert.Contains(t, logs.String(), "accepts at most 268435456")
	assert.Equal(t, 0, c.Rounds())
}

// FuzzDownload feeds receiveDownload a stream of messages decoded from
// the input (each a length-prefixed DownloadChunk encoding, as a server
// might send them): it must return exactly the data announced by a
// header for the asked frame and never more than the limit, or refuse
// with ErrDownload (or pass through the stream's error); never panic.
func FuzzDownload(f *testing.F) {
	fr := &pb.Frame{Session: make([]byte, 16), Round: 3, Stage: pb.Stage_STAGE_UNMASK}
	enc := func(msgs ...*pb.DownloadChunk) []byte {
		var out []byte
		for _, m := range msgs {
			b, _ := proto.Marshal(m)
			out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
			out = append(out, b...)
		}
		return out
	}
	f.Add(enc(header(fr, 6), data([]byte("abc")), data([]byte("def"))))
	f.Add(enc(header(fr, 6), data([]byte("abcdefg"))))
	f.Add(enc(header(fr, 6), data([]byte("abc"))))
	f.Add(enc(header(fr, 0)))
	f.Add(enc(data([]byte("abc"))))
	f.Add(enc(header(&pb.Frame{Round: 3, Stage: pb.Stage_STAGE_UNMASK}, 1), data([]byte("x"))))
	f.Add([]byte{0, 3, 0xff, 0xff, 0xff})
	const limit = 1 << 12
	f.Fuzz(func(t *testing.T, stream []byte) {
		var msgs []*pb.DownloadChunk
		var decodeErr error
		for len(stream) >= 2 && decodeErr == nil {
			n := int(binary.BigEndian.Uint16(stream))
			stream = stream[2:]
			n = min(n, len(stream))
			m := new(pb.DownloadChunk)
			if err := proto.Unmarshal(stream[:n], m); err != nil {
				decodeErr = status.Error(codes.Internal, "grpc: failed to unmarshal the received message")
			}
			msgs = append(msgs, m)
			stream = stream[n:]
		}
		i := 0
		recv := func() (*pb.DownloadChunk, error) {
			if i == len(msgs)-1 && decodeErr != nil {
				i++
				return nil, decodeErr
			}
			if i >= len(msgs) {
				return nil, io.EOF
			}
			i++
			return msgs[i-1], nil
		}
		got, err := receiveDownload(recv, fr, limit)
		if err != nil {
			if !errors.Is(err, ErrDownload) {
				require.Equal(t, decodeErr, err)
			}
			return
		}
		// Accepted: a header for fr came first, then data adding up to
		// its size, then the end of the stream.
		require.NotEmpty(t, msgs)
		h := msgs[0].GetHeader()
		require.NotNil(t, h)
		assert.Equal(t, fr.Round, h.GetFrame().GetRound())
		assert.Equal(t, fr.Stage, h.GetFrame().GetStage())
		assert.True(t, bytes.Equal(fr.Session, h.GetFrame().GetSession()))
		require.LessOrEqual(t, h.GetTotalSize(), uint64(limit))
		require.Equal(t, h.GetTotalSize(), uint64(len(got)))
		var want []byte
		for _, m := range msgs[1:] {
			require.Nil(t, m.GetHeader())
			require.NotEmpty(t, m.GetData())
			want = append(want, m.GetData()...)
		}
		assert.True(t, bytes.Equal(want, got))
	})
}
