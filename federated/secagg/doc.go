// Package secagg implements secure aggregation, SecAgg (Bonawitz et al.,
// CCS 2017) and SecAgg+ (Bell et al., CCS 2020), as pure state machines:
// a server learns the sum of n clients' integer vectors, and nothing else
// about any one of them, even when clients drop out mid-round.
//
// Nothing here does I/O. A [Client] and a [Server] each have one method per
// round that takes the other side's typed message and returns the next
// one; every message has a versioned binary encoding (MarshalBinary,
// UnmarshalBinary). Transports (package federated/transport) and the
// in-process simulator (package secagg/sim) move the bytes.
//
// # Protocol
//
// A session is described by a [Config], checked into [Params] by
// [NewParams]. Its rounds are:
//
//  1. AdvertiseKeys: each client draws two fresh X25519 key pairs and
//     sends their public halves ([KeyAdvert]); the server forwards the list
//     of all adverts ([AdvertList]). The session id is the SHA-256 of the
//     configuration digest and of every advert, in order.
//  2. ShareKeys: each client Shamir-shares (t of k+1, over GF(2^61-1)) its
//     mask private key and a fresh self-mask seed among its k neighbours
//     and itself, sealing each neighbour's two shares with ChaCha20-Poly1305
//     under an X25519+HKDF-SHA256 key ([ShareKeys], routed by the server as
//     a [ShareBundle]).
//  3. MaskedInputCollection: each client adds to its input the AES-256-CTR
//     expansion of its self-mask seed and, for each neighbour j that shared
//     its keys, plus or minus the expansion of the pairwise seed agreed with
//     j ([MaskedInput]). The server adds the masked inputs into one running
//     sum as they arrive.
//  4. ConsistencyCheck (malicious model only): the server sends the
//     survivor set U3; each client signs it with its long-term Ed25519 key
//     ([ConsistencyRequest], [ConsistencyReply]).
//  5. Unmasking: each survivor is told which neighbours are alive and
//     which dropped ([UnmaskRequest]) and reveals the self-mask shares of
//     the former and the mask-key shares of the latter ([UnmaskResponse]).
//     The server reconstructs the seeds, removes the masks and returns the
//     centred sum ([Result]).
//
// The neighbour graph is a Harary graph relabelled by a permutation drawn
// from the public session seed; [FindGraphParams] chooses the degree k and
// threshold t for 2^-40 security and 2^-20 failure probability, as the
// parameter finder of Google's federated-compute (fcp/secagg) does, whose
// published table the tests reproduce. k = n-1 is classic SecAgg.
//
// # Arithmetic
//
// Inputs are vectors of Dim main and SideDim side coordinates (weights,
// counts, clip indicators), summed in Z_{2^B} for 8 <= B <= 62 and
// bit-packed on the wire, B bits per element. [NewParams] refuses with
// [ErrHeadroom], before any round, a configuration in which n times the
// largest input could reach 2^(B-1): the centred sum never wraps silently.
//
// # Threat model
//
// [SemiHonest]: the server follows the protocol and may collude with a
// fraction CorruptRate of the clients; it learns only the sum of at least
// t inputs. [Malicious]: the server may also deviate (drop, replay, alter
// or withhold messages, lie about who dropped out). Key adverts are signed
// by long-term identities (Config.Identities), and the consistency round
// makes every client check that t of its neighbours saw the same survivor
// set. Neither mode protects against clients that send wrong inputs (the
// sum of bounded inputs is all the server learns; robustness to poisoning
// is out of scope) or guarantees output delivery against a malicious
// server. A malformed client message is rejected and its sender counts as
// dropped; a well-formed but corrupted share is caught when the
// reconstructed secret fails its commitment (self-mask seeds) or public key
// (mask keys), and the server retries with other sets of t shares
// (leaving out one share of the first t, then two, within a bound) before
// aborting with [ErrAuth]: the result is never a wrong sum. A holder whose
// share is then found off the sharing polynomial is reported in
// Result.Inconsistent, but only within the unique-decoding bound (at most
// (m-t)/2 bad shares among the m of a secret): an honest holder can be
// blamed only if more than that many holders of one secret collude.
//
// Two inputs of the configuration are outside the protocol and must be
// right for the malicious model to hold:
//
//   - Config.SessionSeed lays out the neighbour graph, so it decides whose
//     shares each client holds. It must not be chosen by the server, nor
//     be biasable by it: a server free to pick it can try seeds until a
//     victim's neighbours are mostly clients it controls, enough of them
//     to hold t shares of both the victim's secrets. Take it from a public
//     randomness beacon (at a round fixed in advance) or from a
//     commit-and-reveal among the clients, and have every client check its
//     origin before [NewParams].
//   - Config.Sequence must strictly increase across the sessions run with
//     the same identities, so that every session has its own configuration
//     digest; otherwise signed adverts of an earlier session (whose
//     dropped clients' mask keys the server has reconstructed) can be
//     replayed into a later one with the same configuration. A client
//     enforces it with [ClientOptions].MinSequence.
//
// Adverts are checked by the server and again by each client for its
// neighbours: both X25519 public keys must be canonical (bit 255 clear,
// value below 2^255-19, so that one key has one encoding and the freshness
// checks compare keys) and not of small order (whose agreements are
// all-zero and fail). The server refuses such an advert and its client
// counts as dropped, so a corrupt client cannot abort the round for its
// honest neighbours; a client shown such a key by the server aborts in
// ShareKeys, before sending any share.
//
// Whatever the server says, every client enforces:
//
//   - it never reveals both a mask-key share and a self-mask share of the
//     same peer: the alive and dropped lists must be disjoint, subsets of
//     its share-holding neighbours and cover them exactly, and a second
//     unmasking request is refused;
//   - it aborts below the threshold (advertised holders, received shares,
//     alive neighbours, valid consistency signatures);
//   - it aborts on replayed, duplicated or contradictory messages: wrong
//     session or configuration, a list with a repeated id, its own advert
//     altered or missing, a reused public key (in any encoding), a
//     neighbour's key that is not canonical or of small order, a survivor
//     set other than the one it signed, a Sequence below
//     [ClientOptions].MinSequence;
//   - its keys are fresh for every session and dropped when no longer
//     needed.
//
// Errors wrap the sentinels [ErrMalformed], [ErrSession], [ErrRound],
// [ErrReplay], [ErrProtocol], [ErrAuth], [ErrTooFewClients] and others,
// and are [*Error] values naming the client and the round; no error
// contains key material. Secrets come from crypto/rand unless a test sets
// [ClientOptions].InsecureTestRand, and are cleared after use (Go gives no
// guarantee that copies made by the runtime are erased).
//
// # Performance
//
// Masks are expanded with AES-256-CTR by package internal/prg and added
// with the kernels of internal/vec; vectors are stored in 32-bit words
// when B <= 32. The server keeps one accumulator and one scratch vector:
// O(Dim) memory per aggregation, never n x Dim.
//
// The server's heavy steps run on GOMAXPROCS workers. Each masked input is
// added by all workers at once, each taking a range of coordinates. At
// unmasking, the Shamir reconstructions run in order (which holders were
// caught sending corrupted shares decides the shares tried first for the
// next secret) and queue each recovered seed; the dropped clients'
// pairwise seeds (one X25519 agreement per surviving neighbour) are
// derived in parallel; then the queued masks are removed piece by piece:
// the accumulator is cut into 32 KiB pieces, and each worker takes the
// next piece and subtracts or adds every queued mask over it, starting
// each mask's AES-CTR keystream at the piece's offset, so the piece stays
// in the worker's cache. All of this is addition in Z_{2^B}, so the result
// is bit-identical to the sequential one for any number of workers. The
// workers share the one accumulator: memory stays O(Dim), plus per worker
// one 8 KiB keystream chunk, plus at most 4096 queued masks (AES key
// schedules, about 2 MB) whatever the number of dropouts; no worker holds
// a vector of its own, so the parallel steps add no O(workers x Dim) term.
//
// # References
//
//   - K. Bonawitz, V. Ivanov, B. Kreuter, A. Marcedone, H. B. McMahan,
//     S. Patel, D. Ramage, A. Segal, K. Seth. Practical Secure Aggregation
//     for Privacy-Preserving Machine Learning. ACM CCS 2017.
//   - J. H. Bell, K. A. Bonawitz, A. Gascón, T. Lepoint, M. Raykova.
//     Secure Single-Server Aggregation with (Poly)Logarithmic Overhead.
//     ACM CCS 2020.
//   - google-parfait/federated-compute, fcp/secagg (graph parameter finder
//     and Harary graph).
package secagg
