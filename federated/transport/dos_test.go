package transport

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/privml/privml/federated/transport/transportpb"
)

// TestOneClientCannotHoldAllUploadSlots: a client that opens several
// masked-input uploads and stalls them after the first bytes holds at most
// one upload slot; the other clients' uploads go through and the round
// sums them, with the staller counted as dropped.
func TestOneClientCannotHoldAllUploadSlots(t *testing.T) {
	const n, dim, streams = 4, 40, 3
	cfg := baseConfig(n, dim, 1)
	cfg.MaxConcurrentUploads = 2
	cfg.StageTimeout = 3 * time.Second
	h := newHarness(t, cfg, Limits{})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stallCtx, stopStall := context.WithCancel(ctx)
	defer stopStall()
	var mu sync.Mutex
	got := map[codes.Code]int{}
	attacked := make(chan struct{})
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		if id != 0 {
			// The honest clients upload once the stalled uploads are in.
			c.BeforeStage = func(_ uint64, st Stage) error {
				if st == transportpb.Stage_STAGE_MASKED_INPUT {
					select {
					case <-attacked:
					case <-ctx.Done():
					}
				}
				return nil
			}
			return
		}
		c.BeforeStage = func(round uint64, st Stage) error {
			if st != transportpb.Stage_STAGE_MASKED_INPUT {
				return nil
			}
			own := h.raw(0)
			hello, err := own.Hello(ctx, &transportpb.HelloRequest{})
			require.NoError(t, err)
			fr := &transportpb.Frame{Session: hello.Session, Round: round, Stage: st}
			want := uint64(38 + 7 + (dim+1)*4)
			var wg sync.WaitGroup
			for range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					up, err := own.Upload(stallCtx)
					require.NoError(t, err)
					require.NoError(t, up.Send(&transportpb.UploadChunk{Kind: &transportpb.UploadChunk_Header{Header: &transportpb.UploadHeader{Frame: fr, TotalSize: want}}}))
					recvCtx, done := context.WithTimeout(ctx, 2*time.Second)
					defer done()
					ch := make(chan error, 1)
					go func() { _, err := up.Recv(); ch <- err }()
					select {
					case err = <-ch:
					case <-recvCtx.Done():
						err = status.Error(codes.Unknown, "still waiting for a slot")
					}
					mu.Lock()
					got[status.Code(err)]++
					mu.Unlock()
					if err == nil { // ready: send a few bytes, then stall
						_ = up.Send(&transportpb.UploadChunk{Kind: &transportpb.UploadChunk_Data{Data: fakeMessage(10, 5, 0)}})
					}
				}()
			}
			wg.Wait()
			close(attacked)
			return errStall
		}
	})
	require.NoError(t, h.wait())
	stopStall()
	errs := wait()
	for id := 1; id < n; id++ {
		require.NoError(t, errs[id], "client %d", id)
	}
	assert.Equal(t, map[codes.Code]int{codes.OK: 1, codes.ResourceExhausted: streams - 1}, got)
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	assert.Equal(t, map[int]transportpb.Stage{0: transportpb.Stage_STAGE_MASKED_INPUT}, rep.DroppedAt)
	assert.Equal(t, plainSum([]int{1, 2, 3}, 1, dim+1), rep.Result.Sum)
}

var errStall = status.Error(codes.Aborted, "test: client 0 stalls its uploads and leaves")

// TestStalledUploadFreedAtStageEnd: a client that takes the only upload
// slot and then sends nothing loses the slot when the stage closes (round
// 1 aborts: no one else could upload), so round 2's uploads go through.
func TestStalledUploadFreedAtStageEnd(t *testing.T) {
	const n, dim = 4, 40
	cfg := baseConfig(n, dim, 2)
	cfg.MaxConcurrentUploads = 1
	cfg.StageTimeout = 2 * time.Second
	h := newHarness(t, cfg, Limits{})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	attacked := make(chan struct{})
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.BeforeStage = func(round uint64, st Stage) error {
			if st != transportpb.Stage_STAGE_MASKED_INPUT || round != 1 {
				return nil
			}
			if id != 0 {
				select {
				case <-attacked:
				case <-ctx.Done():
				}
				return nil
			}
			own := h.raw(0)
			hello, err := own.Hello(ctx, &transportpb.HelloRequest{})
			require.NoError(t, err)
			fr := &transportpb.Frame{Session: hello.Session, Round: round, Stage: st}
			up, err := own.Upload(ctx)
			require.NoError(t, err)
			require.NoError(t, up.Send(&transportpb.UploadChunk{Kind: &transportpb.UploadChunk_Header{Header: &transportpb.UploadHeader{Frame: fr, TotalSize: uint64(38 + 7 + (dim+1)*4)}}}))
			_, err = up.Recv() // ready: the slot is taken
			require.NoError(t, err)
			close(attacked)
			_, err = up.Recv() // the server ends the stalled upload with the stage
			assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
			return errStall
		}
	})
	require.NoError(t, h.wait())
	errs := wait()
	reps := h.roundReports()
	require.Len(t, reps, 2)
	require.NotNil(t, reps[1].Result, "round 2: %v (errors %v)", reps[1].Err, errs)
	require.Error(t, reps[0].Err, "round 1: no upload got a slot")
	assert.Equal(t, []int{0, 1, 2, 3}, reps[1].Result.Survivors)
	assert.Equal(t, plainSum(ids(n), 2, dim+1), reps[1].Result.Sum)
}
