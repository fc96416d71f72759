package transport

import (
	"crypto/ed25519"

	"github.com/privml/privml/federated/secagg"
)

// BeaconSeeds returns a session-seed source for [ServerConfig].SessionSeed
// and [ClientConfig].SessionSeed: the seed of round r is
// secagg.BeaconSessionSeed(beacon, RosterDigest(roster), r), where beacon
// is a public randomness beacon value (for example a drand round) that
// the application fixed before the roster and the federation were
// announced. Server and clients compute it each on their own, so the
// server cannot choose the neighbour graph; a client refuses a round
// whose configuration carries another seed.
//
// The seed is bound to the training round, not to the secagg Sequence
// (which a client cannot know in advance: it includes the server's
// Epoch), so a round run again after a server restart has the same seed
// and the same neighbour graph, still not chosen by the server.
func BeaconSeeds(beacon []byte, roster []ed25519.PublicKey) func(round uint64) ([32]byte, error) {
	b := append([]byte(nil), beacon...)
	digest := secagg.RosterDigest(roster)
	return func(round uint64) ([32]byte, error) {
		return secagg.BeaconSessionSeed(b, digest, round), nil
	}
}
