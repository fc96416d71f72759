package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/privml/privml/federated/transport/transportpb"
)

// TestDownloadAllocatesLessThanTwice: receiving a large message allocates
// less than twice its size (the message and the buffers it outgrew), as
// the package documentation says, for a size that a doubling reaches
// exactly and one just past it (the worst case of plain doubling, near
// three times). The chunks are the sender's, so what is counted is
// receiveDownload's alone.
func TestDownloadAllocatesLessThanTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates over 100 MiB")
	}
	f := &pb.Frame{Session: make([]byte, 16), Round: 1, Stage: pb.Stage_STAGE_UNMASK}
	chunk := pattern(MaxChunkSize)
	for _, size := range []int{64 << 20, 64<<20 + 12345} {
		msgs := []*pb.DownloadChunk{header(f, uint64(size))}
		for off := 0; off < size; off += MaxChunkSize {
			msgs = append(msgs, data(chunk[:min(MaxChunkSize, size-off)]))
		}
		i := 0
		recv := func() (*pb.DownloadChunk, error) {
			if i == len(msgs) {
				return nil, io.EOF
			}
			i++
			return msgs[i-1], nil
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := receiveDownload(recv, f, uint64(size))
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		require.Len(t, got, size)
		for off := 0; off < size; off += MaxChunkSize {
			end := min(off+MaxChunkSize, size)
			require.True(t, bytes.Equal(chunk[:end-off], got[off:end]), "size %d: bytes at offset %d differ", size, off)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("a download of %d bytes allocated %d (%.2fx)", size, alloc, float64(alloc)/float64(size))
		assert.Less(t, alloc, uint64(2*size), "size %d", size)
	}
}

// TestAssemblerGrowthKeepsBytes: a download that grows its buffer past
// the first allocation, in chunks of uneven sizes, arrives byte for byte.
func TestAssemblerGrowthKeepsBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 70 MiB")
	}
	const size = maxPrealloc + 3*MaxChunkSize + 17
	msg := pattern(size)
	a, err := newDownload(size, size)
	require.NoError(t, err)
	for off, k := 0, 0; off < size; k++ {
		n := min([]int{MaxChunkSize, 1, 4093, MaxChunkSize - 1}[k%4], size-off)
		require.NoError(t, a.add(msg[off:off+n]))
		off += n
	}
	got, _, err := a.finish()
	require.NoError(t, err)
	assert.True(t, bytes.Equal(msg, got))
	assert.Equal(t, size, cap(got), "the last growth stops at the announced size")
}

// TestReceiveLimitNotRetried tells the client's own receive limit from a
// server's ResourceExhausted: a chunk above the client's receive limit
// (refused by the client's gRPC) is a malformed download, not retried,
// while a ResourceExhausted status the server sends, before the header
// or half-way through the message, passes through and is retried.
func TestReceiveLimitNotRetried(t *testing.T) {
	const limit = 3 * MaxChunkSize
	f := &pb.Frame{Session: make([]byte, 16), Round: 1, Stage: pb.Stage_STAGE_CONFIG}
	for name, tc := range map[string]struct {
		send  func(pb.Aggregation_AwaitServer, *pb.Frame) error
		retry bool
	}{
		"chunk above the client's receive limit": {send: func(st pb.Aggregation_AwaitServer, f *pb.Frame) error {
			if err := st.Send(header(f, limit)); err != nil {
				return err
			}
			return st.Send(data(make([]byte, 2*MaxChunkSize)))
		}},
		"server busy before the header": {send: func(pb.Aggregation_AwaitServer, *pb.Frame) error {
			return togRPCError(errorf(ErrBusy, "client 0 has an upload in progress"))
		}, retry: true},
		"proxy out of resources half-way": {send: func(st pb.Aggregation_AwaitServer, f *pb.Frame) error {
			if err := st.Send(header(f, 10)); err != nil {
				return err
			}
			if err := st.Send(data(make([]byte, 4))); err != nil {
				return err
			}
			return status.Error(codes.ResourceExhausted, "upstream connection limit reached")
		}, retry: true},
	} {
		c := serveBad(t, &badServer{send: tc.send}, limit)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := c.download(ctx, f)
		cancel()
		require.Error(t, err, name)
		assert.Equal(t, tc.retry, retryable(err), "%s: %v", name, err)
		if tc.retry {
			assert.Equal(t, codes.ResourceExhausted, status.Code(err), name)
			assert.NotErrorIs(t, err, ErrDownload, name)
		} else {
			assert.ErrorIs(t, err, ErrDownload, name)
			assert.Contains(t, err.Error(), "exceeds the client's receive limit", name)
		}
	}
}

// TestReceiveLimitErrors: every receive-limit status of gRPC's receive
// path is recognised, and only with the code ResourceExhausted.
func TestReceiveLimitErrors(t *testing.T) {
	for _, msg := range []string{
		fmt.Sprintf("grpc: received message larger than max (%d vs. %d)", 2<<20, maxRecvMessage),
		fmt.Sprintf("grpc: received message after decompression larger than max %d", maxRecvMessage),
		fmt.Sprintf("grpc: message after decompression larger than max (%d vs. %d)", 2<<20, maxRecvMessage),
	} {
		assert.True(t, receiveLimit(status.Error(codes.ResourceExhausted, msg)), msg)
		assert.False(t, receiveLimit(status.Error(codes.Internal, msg)), msg)
		err := downloadError(status.Error(codes.ResourceExhausted, msg), "at offset 0")
		assert.ErrorIs(t, err, ErrDownload, msg)
		assert.False(t, retryable(err), msg)
	}
	for _, msg := range []string{"transport: an upload of this client is already in progress", "quota exceeded", ""} {
		err := status.Error(codes.ResourceExhausted, msg)
		assert.False(t, receiveLimit(err), msg)
		assert.Equal(t, err, downloadError(err, "at offset 0"), msg)
	}
}
