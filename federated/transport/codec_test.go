package transport

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/privml/privml/federated/transport/transportpb"
)

// TestChunkCodecMarshalsAnyChunk: the service's codec encodes every
// shape of chunk message exactly as protobuf does, never panicking: among
// them a typed-nil oneof (a Kind of the data type holding nil), which
// protobuf encodes as an empty message.
func TestChunkCodecMarshalsAnyChunk(t *testing.T) {
	big := pattern(3*minDirect + 1)
	for name, m := range map[string]proto.Message{
		"upload typed-nil data":     &pb.UploadChunk{Kind: (*pb.UploadChunk_Data)(nil)},
		"download typed-nil data":   &pb.DownloadChunk{Kind: (*pb.DownloadChunk_Data)(nil)},
		"upload typed-nil header":   &pb.UploadChunk{Kind: (*pb.UploadChunk_Header)(nil)},
		"download typed-nil header": &pb.DownloadChunk{Kind: (*pb.DownloadChunk_Header)(nil)},
		"upload no kind":            &pb.UploadChunk{},
		"download no kind":          &pb.DownloadChunk{},
		"upload nil data":           &pb.UploadChunk{Kind: &pb.UploadChunk_Data{}},
		"download nil data":         &pb.DownloadChunk{Kind: &pb.DownloadChunk_Data{}},
		"upload small data":         &pb.UploadChunk{Kind: &pb.UploadChunk_Data{Data: []byte("abc")}},
		"download large data":       &pb.DownloadChunk{Kind: &pb.DownloadChunk_Data{Data: big}},
		"upload large data":         &pb.UploadChunk{Kind: &pb.UploadChunk_Data{Data: big}},
	} {
		want, err := proto.Marshal(m)
		require.NoError(t, err, name)
		var got []byte
		require.NotPanics(t, func() {
			enc, err := newChunkCodec().Marshal(m)
			require.NoError(t, err, name)
			got = enc.Materialize()
		}, name)
		assert.True(t, bytes.Equal(want, got), "%s: codec %x, protobuf %x", name, got, want)
	}
}
