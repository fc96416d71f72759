package secagg

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of them
// (test with [errors.Is]) and, when a message or a party is at fault, is an
// [*Error] naming the client and the round.
var (
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("secagg: invalid configuration")
	// ErrInsecureParams reports a degree or threshold below what the
	// parameter finder requires for the configured threat model.
	ErrInsecureParams = errors.New("secagg: insecure parameters")
	// ErrHeadroom reports that the sum of the clients' inputs could wrap
	// around modulo 2^Bits. It is returned before the protocol starts.
	ErrHeadroom = errors.New("secagg: modulus too small for the sum")
	// ErrInput reports a client input of the wrong length or out of range.
	ErrInput = errors.New("secagg: invalid input vector")
	// ErrMalformed reports a message that cannot be decoded: bad version,
	// type, length or field.
	ErrMalformed = errors.New("secagg: malformed message")
	// ErrSession reports a message bound to another session or
	// configuration.
	ErrSession = errors.New("secagg: wrong session")
	// ErrRound reports a message for another round, or a call made out of
	// order.
	ErrRound = errors.New("secagg: wrong round")
	// ErrReplay reports a duplicated or replayed message or list entry.
	ErrReplay = errors.New("secagg: replayed or duplicated message")
	// ErrProtocol reports a message that contradicts the protocol: sets that
	// overlap or are not subsets of the neighbourhood, a changed advert, an
	// unknown or non-neighbour client.
	ErrProtocol = errors.New("secagg: protocol violation")
	// ErrAuth reports a share envelope that does not decrypt, a forged
	// signature, or a reconstructed secret that does not match its
	// commitment.
	ErrAuth = errors.New("secagg: authentication failed")
	// ErrTooFewClients reports fewer surviving clients than the threshold:
	// the protocol aborts rather than reveal anything.
	ErrTooFewClients = errors.New("secagg: fewer clients than the threshold")
	// ErrRandom reports a failure of the randomness source.
	ErrRandom = errors.New("secagg: randomness source failed")
	// ErrPolicy reports a session that violates the client's
	// [ClientPolicy]: the client refuses it before sending anything.
	ErrPolicy = errors.New("secagg: session violates the client's policy")
)

// ServerID is the party identifier used in errors and messages for the
// server.
const ServerID = -1

// Error is a protocol error attributed to a party and a round.
type Error struct {
	// Client is the id of the client at fault or whose message was
	// rejected, or [ServerID] when the server's message was rejected.
	Client int
	// Round is the protocol round.
	Round Round
	// Err is the sentinel error wrapped.
	Err error
	// Detail describes what was wrong. It never contains secrets.
	Detail string
}

func (e *Error) Error() string {
	who := fmt.Sprintf("client %d", e.Client)
	if e.Client == ServerID {
		who = "server"
	}
	return fmt.Sprintf("%v: %s, round %s: %s", e.Err, who, e.Round, e.Detail)
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func errorf(client int, r Round, sentinel error, format string, args ...any) *Error {
	return &Error{Client: client, Round: r, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}
