package transport

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/internal/mtls"
)

// Sentinel errors of the transport. Every error returned by this package
// wraps one of them, or a secagg sentinel, or a context error.
var (
	// ErrConfig reports an invalid ServerConfig or ClientConfig.
	ErrConfig = errors.New("transport: invalid configuration")
	// ErrIdentity reports a message that speaks for another client than
	// the one whose certificate the channel authenticated.
	ErrIdentity = errors.New("transport: message does not match the channel identity")
	// ErrUnauthenticated reports a call without a verified client
	// certificate.
	ErrUnauthenticated = errors.New("transport: no verified client certificate")
	// ErrFrame reports a message for another session, round or stage than
	// the one the server is in, or a stage that has already closed.
	ErrFrame = errors.New("transport: wrong session, round or stage")
	// ErrDropped reports that the caller was counted as dropped in this
	// round (it missed a stage's deadline or a message was refused).
	ErrDropped = errors.New("transport: client counted as dropped for this round")
	// ErrUpload reports a malformed upload stream: no header, a chunk past
	// the announced size or above the chunk limit, a stream that ends
	// before the announced size.
	ErrUpload = errors.New("transport: malformed upload")
	// ErrDownload reports, on the client, a malformed stream of the
	// server's message: no header or one for another frame, a size above
	// ClientConfig.MaxDownloadSize, an empty chunk, a chunk above 1 MiB or
	// past the announced size, a stream that ends before the announced
	// size. The client abandons the round (it counts as dropped).
	ErrDownload = errors.New("transport: malformed download")
	// ErrTooLarge reports a chunk or upload larger than announced or than
	// the session allows.
	ErrTooLarge = errors.New("transport: upload larger than announced")
	// ErrConflict reports a second, different message for a stage in which
	// the client's first message was already accepted.
	ErrConflict = errors.New("transport: a different message was already accepted")
	// ErrBusy reports a second upload of a client while its first is in
	// progress.
	ErrBusy = errors.New("transport: an upload of this client is already in progress")
	// ErrFinished reports that the federation has run its last round.
	ErrFinished = errors.New("transport: federation finished")
	// ErrCheckpoint reports a checkpoint file that is missing, truncated,
	// of an unknown version or whose checksum does not match.
	ErrCheckpoint = errors.New("transport: bad checkpoint")
)

// toGRPCErrorMap maps each sentinel to its gRPC status code: one table for
// the whole service (the shape of etcd's v3rpc togRPCError). Codes say
// whether a retry can help: Unavailable and DeadlineExceeded can,
// FailedPrecondition (wrong state) and InvalidArgument (bad message) cannot.
var toGRPCErrorMap = []struct {
	err  error
	code codes.Code
}{
	{ErrIdentity, codes.PermissionDenied},
	{mtls.ErrIdentity, codes.PermissionDenied},
	{ErrUnauthenticated, codes.Unauthenticated},
	{ErrFrame, codes.FailedPrecondition},
	{ErrDropped, codes.FailedPrecondition},
	{ErrFinished, codes.OutOfRange},
	{ErrTooLarge, codes.OutOfRange},
	{ErrUpload, codes.InvalidArgument},
	{ErrConflict, codes.AlreadyExists},
	{ErrBusy, codes.ResourceExhausted},
	{ErrConfig, codes.InvalidArgument},

	{secagg.ErrMalformed, codes.InvalidArgument},
	{secagg.ErrInput, codes.InvalidArgument},
	{secagg.ErrProtocol, codes.InvalidArgument},
	{secagg.ErrSession, codes.FailedPrecondition},
	{secagg.ErrRound, codes.FailedPrecondition},
	{secagg.ErrReplay, codes.AlreadyExists},
	{secagg.ErrAuth, codes.Unauthenticated},
	{secagg.ErrTooFewClients, codes.Aborted},
	{secagg.ErrConfig, codes.FailedPrecondition},
	{secagg.ErrInsecureParams, codes.FailedPrecondition},
	{secagg.ErrHeadroom, codes.FailedPrecondition},
	{secagg.ErrRandom, codes.Internal},
	{secagg.ErrPolicy, codes.FailedPrecondition},
}

// togRPCError turns an error of the service into a gRPC status error.
// Context errors and errors that already are statuses pass through; an
// error matching no sentinel becomes Internal with a generic message, so
// that nothing unforeseen leaks to the peer.
func togRPCError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	for _, e := range toGRPCErrorMap {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, "transport: internal error")
}

// retryable reports whether a client should retry a call that failed
// with err: the server may be restarting, or the network may be down.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return true
	}
	return false
}

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
