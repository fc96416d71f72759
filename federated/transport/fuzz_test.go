package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/federated/secagg"
	pb "github.com/privml/privml/federated/transport/transportpb"
)

// FuzzAssembler feeds an upload of announced size total, cut into chunks
// whose sizes come from the input: the assembler must collect exactly
// the bytes sent when their sizes add up to total, and refuse otherwise,
// never panic or exceed the announced size.
func FuzzAssembler(f *testing.F) {
	f.Add(uint64(10), uint64(10), []byte{4, 6}, true)
	f.Add(uint64(10), uint64(10), []byte{4, 7}, true)
	f.Add(uint64(11), uint64(10), []byte{11}, false)
	f.Add(uint64(5), uint64(5), []byte{0, 5}, true)
	f.Add(uint64(3), uint64(3), []byte{1, 1}, false)
	f.Fuzz(func(t *testing.T, total, want uint64, sizes []byte, collect bool) {
		want %= 4096
		a, err := newAssembler(total, want, want, collect, nil, newUploadSeeds())
		if total != want {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		var sent bytes.Buffer
		var refused bool
		for i, sz := range sizes {
			chunk := bytes.Repeat([]byte{byte(i)}, int(sz))
			if err := a.add(chunk); err != nil {
				assert.True(t, errors.Is(err, ErrUpload) || errors.Is(err, ErrTooLarge))
				assert.True(t, sz == 0 || uint64(sent.Len())+uint64(sz) > want, "refused chunk %d of %d bytes at %d/%d", i, sz, sent.Len(), want)
				refused = true
				break
			}
			sent.Write(chunk)
			require.LessOrEqual(t, uint64(sent.Len()), want)
		}
		msg, _, err := a.finish()
		if refused || uint64(sent.Len()) != want {
			if !refused {
				require.ErrorIs(t, err, ErrUpload)
			}
			return
		}
		require.NoError(t, err)
		if collect {
			assert.True(t, bytes.Equal(sent.Bytes(), msg))
		} else {
			assert.Nil(t, msg)
		}
	})
}

// FuzzSessionConfig decodes arbitrary bytes as a SessionConfig and
// converts it: no panic, and any configuration accepted converts back to
// the same fields.
func FuzzSessionConfig(f *testing.F) {
	good, _ := proto.Marshal(configToPB(secagg.Config{NumClients: 5, Dim: 10, Bits: 32, Sequence: 3, MinInputs: 4}))
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m pb.SessionConfig
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		c, err := configFromPB(&m)
		if err != nil {
			assert.ErrorIs(t, err, secagg.ErrMalformed)
			return
		}
		back := configToPB(c)
		assert.Equal(t, m.NumClients, back.NumClients)
		assert.Equal(t, m.Dim, back.Dim)
		assert.Equal(t, m.Bits, back.Bits)
		assert.Equal(t, m.SessionSeed, back.SessionSeed)
		assert.Equal(t, m.MinInputs, back.MinInputs)
		assert.Equal(t, len(m.Identities), len(back.Identities))
		// NewParams must refuse or accept without panicking.
		_, _ = secagg.NewParams(c)
	})
}

func TestConfigRoundTrip(t *testing.T) {
	var seed [32]byte
	seed[3] = 9
	c := secagg.Config{NumClients: 7, Dim: 100, SideDim: 2, Bits: 40, MaxAbs: 5, MaxSideAbs: 6,
		DropoutRate: 0.1, CorruptRate: 0.05, Degree: 6, Threshold: 4, MinInputs: 6, SessionSeed: seed, Sequence: 1<<32 | 5}
	got, err := configFromPB(configToPB(c))
	require.NoError(t, err)
	assert.Equal(t, c, got)
	for name, m := range map[string]*pb.SessionConfig{
		"nil":             nil,
		"short seed":      {NumClients: 3, Dim: 1, SessionSeed: []byte{1}},
		"huge dim":        {NumClients: 3, Dim: 1 << 31, SessionSeed: make([]byte, 32)},
		"bad id":          {NumClients: 3, Dim: 1, SessionSeed: make([]byte, 32), Identities: [][]byte{{1, 2}}},
		"huge threat":     {NumClients: 3, Dim: 1, SessionSeed: make([]byte, 32), Threat: 300},
		"huge min inputs": {NumClients: 3, Dim: 1, SessionSeed: make([]byte, 32), MinInputs: 1 << 31},
	} {
		_, err := configFromPB(m)
		assert.ErrorIs(t, err, secagg.ErrMalformed, name)
	}
}

func TestToGRPCError(t *testing.T) {
	for _, e := range toGRPCErrorMap {
		wrapped := errorf(e.err, "detail")
		assert.Equal(t, e.code, status.Code(togRPCError(wrapped)), "%v", e.err)
	}
	assert.Equal(t, codes.Internal, status.Code(togRPCError(errors.New("key material 0xdeadbeef"))))
	assert.NotContains(t, togRPCError(errors.New("key material 0xdeadbeef")).Error(), "deadbeef")
	assert.Nil(t, togRPCError(nil))
	st := status.Error(codes.Unavailable, "x")
	assert.Equal(t, st, togRPCError(st))
}

func TestPeekClient(t *testing.T) {
	b := make([]byte, 6)
	binary.BigEndian.PutUint32(b[2:], 77)
	id, ok := peekClient(b)
	assert.True(t, ok)
	assert.Equal(t, 77, id)
	_, ok = peekClient(b[:5])
	assert.False(t, ok)
}

// splitBuffers cuts b into buffers at the offsets cuts gives, as gRPC
// hands a message received in several frames to its codec.
func splitBuffers(b []byte, cuts []byte) mem.BufferSlice {
	var out mem.BufferSlice
	for _, c := range cuts {
		k := min(int(c)*97+1, len(b))
		out = append(out, mem.SliceBuffer(b[:k]))
		b = b[k:]
	}
	return append(out, mem.SliceBuffer(b))
}

// FuzzChunkCodec: the service's codec decodes any bytes, cut into any
// buffers, exactly as the protobuf codec does (the same message or an
// error from both), and encodes chunk messages to protobuf's bytes.
func FuzzChunkCodec(f *testing.F) {
	big := func(n int) []byte {
		m, _ := proto.Marshal(&pb.UploadChunk{Kind: &pb.UploadChunk_Data{Data: pattern(n)}})
		return m
	}
	f.Add(big(minDirect), []byte{1, 3})
	f.Add(big(3*minDirect+5), []byte{0, 0, 40})
	f.Add(append(big(minDirect), 0x08, 0x01), []byte{}) // a second field after the data
	f.Add(big(minDirect)[:minDirect], []byte{2})        // cut short
	hdr, _ := proto.Marshal(&pb.UploadChunk{Kind: &pb.UploadChunk_Header{Header: &pb.UploadHeader{TotalSize: 9}}})
	f.Add(hdr, []byte{})
	f.Add([]byte{0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, []byte{})
	codec, plain := newChunkCodec(), encoding.GetCodecV2(grpcproto.Name)
	f.Fuzz(func(t *testing.T, b []byte, cuts []byte) {
		if len(cuts) > 64 {
			cuts = cuts[:64]
		}
		for _, mk := range []func() proto.Message{func() proto.Message { return new(pb.UploadChunk) }, func() proto.Message { return new(pb.DownloadChunk) }} {
			got, want := mk(), mk()
			gerr := codec.Unmarshal(splitBuffers(b, cuts), got)
			werr := plain.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, want)
			require.Equal(t, werr == nil, gerr == nil, "codec %v, protobuf %v", gerr, werr)
			if werr == nil {
				require.True(t, proto.Equal(want, got), "%T decoded differently", got)
				enc, err := codec.Marshal(got)
				require.NoError(t, err)
				ref, err := proto.Marshal(got)
				require.NoError(t, err)
				require.True(t, bytes.Equal(ref, enc.Materialize()), "%T encoded differently", got)
			}
		}
	})
}
