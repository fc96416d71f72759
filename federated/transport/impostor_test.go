package transport

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/privml/privml/federated/secagg"
	pb "github.com/privml/privml/federated/transport/transportpb"
)

// TestSecondCertificateMaskedInput: the CA issues a second certificate
// naming client 1 (a rotated or re-enrolled key, a second CA in the pool,
// a mis-issuance). Its key is not client 1's roster identity, so it cannot
// sign for client 1. Its holder uploads a masked input for client 1 with a
// zero signature before the honest client 1 does. The channel names
// client 1 but does not carry its identity, so the server verifies the
// signature and refuses the upload; the honest client's input is then
// accepted and the sum is the exact sum of every client's input.
func TestSecondCertificateMaskedInput(t *testing.T) {
	const n, dim = 6, 40
	beacon := []byte("beacon value fixed in advance")
	h, confs, keys, roster := maliciousHarness(t, n, dim, beacon)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	attacked := make(chan struct{})
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.TLS, c.Identity, c.RequireMalicious = confs[id], keys[id], true
		c.Roster, c.SessionSeed = roster, BeaconSeeds(beacon, roster)
		if id == 1 {
			in := c.Input
			c.Input = func(ctx context.Context, round uint64, model []byte, length int) ([]int64, error) {
				<-attacked
				return in(ctx, round, model, length)
			}
		}
	})

	imp := h.raw(1) // a fresh certificate for client 1, a key off the roster
	hello, err := imp.Hello(ctx, &pb.HelloRequest{})
	require.NoError(t, err)
	fr := func(st pb.Stage) *pb.Frame { return &pb.Frame{Session: hello.Session, Round: 1, Stage: st} }
	await := func(f *pb.Frame) []byte {
		st, err := imp.Await(ctx, &pb.AwaitRequest{Frame: f})
		require.NoError(t, err)
		msg, err := receiveDownload(st.Recv, f, 1<<30)
		require.NoError(t, err)
		return msg
	}
	var sc pb.SessionConfig
	require.NoError(t, proto.Unmarshal(await(fr(pb.Stage_STAGE_CONFIG)), &sc))
	var b secagg.ShareBundle
	require.NoError(t, b.UnmarshalBinary(await(fr(pb.Stage_STAGE_SHARE_KEYS))))
	length := int(sc.Dim + sc.SideDim)
	m := &secagg.MaskedInput{Client: 1, Session: b.Session, Bits: uint8(sc.Bits), Length: uint32(length),
		Signature: make([]byte, ed25519.SignatureSize), Packed: make([]byte, length*int(sc.Bits)/8)}
	for i := range m.Packed {
		m.Packed[i] = byte(i * 37)
	}
	raw, err := m.MarshalBinary()
	require.NoError(t, err)
	upErr := upload(ctx, imp, fr(pb.Stage_STAGE_MASKED_INPUT), uint64(len(raw)), [][]byte{raw}, false)
	close(attacked)
	require.NoError(t, h.wait())
	errs := wait()
	rep := h.roundReports()[0]
	require.Error(t, upErr, "a masked input for client 1 not signed by its roster key was accepted on another certificate's channel")
	assert.Contains(t, upErr.Error(), "not signed by its identity key")
	require.NoError(t, errs[1])
	require.NoError(t, rep.Err)
	require.NotNil(t, rep.Result)
	assert.Equal(t, ids(n), rep.Result.Survivors)
	assert.Equal(t, plainSum(rep.Result.Survivors, 1, dim+1), rep.Result.Sum)
}
