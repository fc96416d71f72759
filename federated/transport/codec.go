package transport

import (
	"encoding/binary"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/privml/privml/federated/transport/transportpb"
)

// chunkCodec is the gRPC codec of the Aggregation service on both ends
// (NewGRPCServer, NewClient): protobuf, byte for byte the same wire format,
// but a data chunk of an upload or download (the only large messages) is
// encoded and decoded without the generic codec's copies. Encoding, the
// chunk's bytes are handed to gRPC as they are, after a field header of a
// few bytes: a server broadcasting a model shares one encoding among
// all its clients instead of encoding it again per client. Decoding, the
// bytes are copied once from gRPC's receive buffers into the chunk,
// instead of into one contiguous buffer and then again by the protobuf
// decoder. Any other message, or a chunk message of any other shape,
// goes to the protobuf codec.
type chunkCodec struct{ proto encoding.CodecV2 }

func newChunkCodec() chunkCodec { return chunkCodec{proto: encoding.GetCodecV2(grpcproto.Name)} }

// Name is the protobuf codec's, so that the content type stays
// application/grpc+proto and peers with the plain codec interoperate.
func (chunkCodec) Name() string { return grpcproto.Name }

// dataKey is the key of field 2 with wire type bytes: the data of both
// UploadChunk and DownloadChunk.
const dataKey = 2<<3 | byte(protowire.BytesType)

// minDirect is the smallest chunk that takes the direct paths; smaller
// ones take the generic codec, whose copies cost nothing at that size.
const minDirect = 256

// Marshal encodes v. A chunk message holding data (and no unknown
// fields) is the data field's header followed by the data itself, which
// gRPC reads without a copy until it is written; the caller does not
// modify it (uploads and downloads send slices of encodings that no one
// changes).
func (c chunkCodec) Marshal(v any) (mem.BufferSlice, error) {
	var data []byte
	var ok bool
	switch m := v.(type) {
	case *pb.UploadChunk:
		// A typed nil (a Kind of type *UploadChunk_Data holding nil)
		// is protobuf's to encode, as an empty message.
		if d, isData := m.GetKind().(*pb.UploadChunk_Data); isData && d != nil {
			data, ok = d.Data, len(m.ProtoReflect().GetUnknown()) == 0
		}
	case *pb.DownloadChunk:
		if d, isData := m.GetKind().(*pb.DownloadChunk_Data); isData && d != nil {
			data, ok = d.Data, len(m.ProtoReflect().GetUnknown()) == 0
		}
	}
	if !ok || len(data) < minDirect {
		return c.proto.Marshal(v)
	}
	head := protowire.AppendVarint([]byte{dataKey}, uint64(len(data)))
	return mem.BufferSlice{mem.SliceBuffer(head), mem.SliceBuffer(data)}, nil
}

// Unmarshal decodes data into v. A chunk message that is exactly one data
// field spanning the whole message is copied once into a new slice; any
// other bytes are the protobuf codec's to decode (or refuse), so that the
// result is always what protobuf's decoder gives.
func (c chunkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *pb.UploadChunk:
		if b, ok := dataField(data); ok {
			proto.Reset(m)
			m.Kind = &pb.UploadChunk_Data{Data: b}
			return nil
		}
	case *pb.DownloadChunk:
		if b, ok := dataField(data); ok {
			proto.Reset(m)
			m.Kind = &pb.DownloadChunk_Data{Data: b}
			return nil
		}
	}
	return c.proto.Unmarshal(data, v)
}

// dataField returns a copy of the payload of a message that is one data
// field (key, length, bytes) and nothing else, or false.
func dataField(data mem.BufferSlice) ([]byte, bool) {
	n := data.Len()
	if n < minDirect {
		return nil, false
	}
	var head [1 + binary.MaxVarintLen64]byte
	copyAt(data, 0, head[:])
	if head[0] != dataKey {
		return nil, false
	}
	l, k := protowire.ConsumeVarint(head[1:])
	if k < 0 || l != uint64(n-1-k) {
		return nil, false
	}
	out := make([]byte, l)
	copyAt(data, 1+k, out)
	return out, true
}

// copyAt copies data's bytes from offset off into dst, as many as fit.
func copyAt(data mem.BufferSlice, off int, dst []byte) {
	for _, b := range data {
		if len(dst) == 0 {
			return
		}
		p := b.ReadOnlyData()
		if off >= len(p) {
			off -= len(p)
			continue
		}
		k := copy(dst, p[off:])
		dst, off = dst[k:], 0
	}
}
