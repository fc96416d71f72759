// Package secagg implements secure aggregation, SecAgg (Bonawitz et al.,
// CCS 2017) and SecAgg+ (Bell et al., CCS 2020), as pure state machines:
// a server learns the sum of n clients' integer vectors, and nothing else
// about any one of them, even when clients drop out mid-round.
//
// The state machines do no I/O (only [FileSequenceStore], a helper the
// caller chooses, touches a file). A [Client] and a [Server] each have one
// method per round that takes the other side's typed message and returns
// the next one; every message has a versioned binary encoding (MarshalBinary,
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
//     survivor set U3; each client checks that it has at least
//     Config.MinInputs members and signs it with its long-term Ed25519 key
//     ([ConsistencyRequest], [ConsistencyReply]).
//  5. Unmasking: each survivor is told which neighbours are alive and
//     which dropped ([UnmaskRequest]) and reveals the self-mask shares of
//     the former and the mask-key shares of the latter ([UnmaskResponse]).
//     The server reconstructs the seeds, removes the masks and returns the
//     centred sum ([Result]).
//
// The neighbour graph is a Harary graph relabelled by a permutation drawn
// from the public session seed; [FindGraphParams] chooses the degree k and
// threshold t for 2^-40 security and 2^-20 failure probability, with the
// search of the parameter finder of Google's federated-compute
// (fcp/secagg), whose published semi-honest table the tests reproduce.
// k = n-1 is classic SecAgg.
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
// Config.MinInputs inputs. [Malicious]: the server may also deviate (drop,
// replay, alter or withhold messages, lie about who dropped out, choose
// whom to attack after seeing the graph). Every client message is signed
// by the client's long-term identity (Config.Identities), and the
// consistency round makes every client check that t of its share holders
// (itself included) signed the same survivor set.
//
// What the thresholds guarantee. Every secret of a client u (its mask key
// and its self-mask seed) is Shamir-shared among k+1 holders: its k
// neighbours and u itself, which keeps a share of its own self-mask seed
// and reveals it when it survives. Let c be the number of u's neighbours
// that collude with the server.
//
//   - Semi-honest: t > c. The colluders alone hold fewer than t shares.
//   - Malicious: 2t > (k+1) + c. A lying server can split u's honest
//     holders into two groups shown different survivor sets (u alive to
//     one, dropped to the other), each passing its own consistency check
//     with the colluders' signatures; one group reveals self-mask shares
//     of u, the other mask-key shares, and the colluders reveal both. The
//     two piles hold at most (k+1-c) + 2c = k+1+c shares, so with
//     2t > k+1+c they cannot both reach t and u stays masked, whatever
//     the split. (fcp's formula t = ceil((t1+k-1.25)/2)+1 counts k
//     holders and is one short; the tests show the attack unmasking an
//     input there.)
//
// The finder bounds c for every client at once: with a uniformly
// relabelled graph, the number of corrupt neighbours of an honest client
// is hypergeometric (k drawn from the n-1 others, floor(CorruptRate*n) of
// them corrupt), and cMax is its quantile at 2^-41/n; with random
// dropouts the graph of the honest survivors stays connected except with
// probability 2^-41 (a malicious server chooses who drops: see Minimum
// aggregate size). So for
// a corrupt set fixed before the session seed is drawn, and a seed the
// server cannot choose, the inequality holds for every client except with
// probability 2^-40. On the complete graph (k = n-1) c is at most
// ceil(CorruptRate*n) for certain and [FullGraphMinThreshold] uses it. A
// client that sees fewer than t holders, shares, alive neighbours (on a
// sparse graph in the malicious model, not counting itself) or valid
// signatures aborts: with at most DropoutRate*n dropouts, that
// happens with probability at most 2^-20 (per-row figures are in the
// tests' graphTable).
//
// Neither mode protects against clients that send wrong inputs (the sum
// of bounded inputs is all the server learns; robustness to poisoning is
// out of scope) or guarantees output delivery against a malicious server.
// A malformed client message is rejected and its sender counts as
// dropped; a well-formed but corrupted share is caught when the
// reconstructed secret fails its commitment (self-mask seeds) or public
// key (mask keys). The server then decodes the m shares of that secret as
// a Reed-Solomon codeword (unique decoding, Gao's algorithm): up to
// (m-t)/2 wrong shares are located, and if the secret rebuilt without
// them matches its commitment, their holders are reported in
// Result.Inconsistent and their shares go last for every later secret
// that needs more than its first try (every secret is first tried, in
// parallel, from the first t shares to arrive), so a few corrupt holders
// cost one decoding, not an abort. Past that bound
// it tries other sets of t shares (leaving out one share of the first t,
// then two, within a fixed budget) before aborting with [ErrAuth]: the
// result is never a wrong sum, and a round aborts only when some secret
// has more bad shares than unique decoding corrects and the search finds
// no clean set. An honest holder is blamed only if more than (m-t)/2
// holders of one secret collude.
//
// # What the client must learn outside the server
//
// The [Config] comes from the server, so in the malicious model a client
// judges it against its own [ClientPolicy] (ClientOptions.Policy), and
// [NewClient] refuses a violating session with [ErrPolicy] before the
// client sends anything. Three inputs are outside the protocol and must
// come from elsewhere for the malicious model to hold:
//
//   - The roster, Config.Identities: a server that lists keys of its own
//     makes every other "client" a sybil and learns the honest client's
//     input from the sum. The client checks it against
//     ClientPolicy.Roster, a [RosterDigest] the application distributes
//     (required in the malicious model). A client given a Roster refuses
//     a semi-honest session: the same session handed out as semi-honest,
//     identities included, would switch off the signatures, the
//     consistency round and the threshold check.
//   - Config.SessionSeed lays out the neighbour graph, so it decides whose
//     shares each client holds. It must not be chosen by the server, nor
//     be biasable by it: a server free to pick it can try seeds until a
//     victim's neighbours are mostly clients it controls. Take it from a
//     public randomness beacon at a round fixed in advance and derive it
//     with [BeaconSessionSeed], or draw it by a commit-and-reveal among
//     the clients ([SeedCommitment], [CommitRevealSessionSeed]); the
//     client checks it against ClientPolicy.SessionSeed (required in the
//     malicious model). The beacon round and the Sequence must not be the
//     server's free choice either: against a beacon value it already
//     knows, a server that picks the Sequence grinds one seed per value.
//     Aborting a commit-and-reveal after the reveals buys a fresh seed
//     per abort.
//   - Config.Sequence must strictly increase across the sessions run with
//     the same identities, so that every session has its own configuration
//     digest; otherwise signed messages of an earlier session (whose
//     dropped clients' mask keys the server has reconstructed) can be
//     replayed into a later one with the same configuration. A
//     malicious-model client needs a [SequenceStore] (ClientOptions.Sequences;
//     [FileSequenceStore] writes the last Sequence atomically to a file)
//     and refuses, with [ErrReplay], a Sequence not above the last one it
//     joined; ClientOptions.InsecureAllowReplay is the named opt-out.
//
// ClientPolicy also sets the weakest threat model, the smallest threshold
// and the smallest Config.MinInputs the client accepts, and
// ClientPolicy.CorruptRate the corrupt fraction the client assumes:
// Degree, Threshold, CorruptRate and MinInputs are the server's word too,
// so in the malicious model the client recomputes the secure minimum
// threshold and the MinInputs floor for the larger of its rate and the
// session's, and refuses a session below them (a threshold lowered with
// InsecureAllowLowThreshold included). The semi-honest
// model trusts the server to follow the protocol, so there the policy is
// optional and sequences are not required.
//
// # Minimum aggregate size
//
// A sum of few inputs reveals them (a sum of two reveals each to the
// other's owner, and a sum of c+1 to a server colluding with c of its
// clients). Config.MinInputs, by default ceil((1-DropoutRate)*n), at
// least t and at least ceil(CorruptRate*n)+2, can only be raised: the server aborts with
// [ErrTooFewClients] after any round that leaves fewer clients, and in the
// malicious model each client refuses to sign or unmask a smaller survivor
// set, or one that lists a neighbour whose shares it never received (a
// set padded with clients that shared no keys counts toward MinInputs
// without entering the sum). A client can check only its own
// neighbourhood: on the complete graph this makes the survivor set the
// set summed. On a sparse graph the ring is public and a malicious
// server chooses who drops: ignoring k/2 consecutive clients on each side
// of an arc (k dropouts in all, within n-MinInputs when
// k <= DropoutRate*n) disconnects the graph, and it would learn the sum
// of each component besides the session's. So on a sparse graph a
// malicious-model client also needs t alive neighbours, not counting
// itself (the finder's 2^-20 failure bound already assumes that many):
// a client next to a gap has k/2 of them plus the corrupt clients in the
// gap, while t >= k/2 + 1 + floor((1+cMax)/2), so it refuses, its self
// mask cannot be rebuilt without its own share, and since no survivor's
// mask key is revealed, no part of the component can be summed apart.
// The attack then needs more than cMax/2 corrupt clients among k/2
// consecutive ring positions at each end of a component, an event the
// finder's analysis does not bound, and there is no proof that no mix of
// chosen dropouts and split views separates a component otherwise. A sum
// always holds at least two honest inputs (an honest client in it has
// t-1 valid consistency signatures of neighbours, at most cMax of them
// corrupt, and the masks it shares with the honest signers leave only by
// summing them too), but on a sparse graph MinInputs is not guaranteed
// against a malicious server. Use the complete graph (Degree = n-1) when
// the size of every sum matters.
// Nothing stops a server from running many sessions over the same
// inputs and differencing sums over different survivor sets: an
// application must not submit the same input to two sessions.
//
// # Authentication
//
// In the malicious model every client message is signed with the
// client's long-term Ed25519 identity: KeyAdvert and ConsistencyReply over
// their contents, ShareKeys, MaskedInput and UnmaskResponse over the
// SHA-256 of their encoding (header with sender and session id included).
// The server refuses with [ErrAuth] a message that is unsigned, altered,
// relabelled to another client or signed by another one. Verifying a
// masked input costs one SHA-256 pass over it, several times the cost of
// adding it into the sum. A transport whose channel authenticates the
// holder of the client's identity (mutual TLS with a certificate whose
// key is the client's entry in Config.Identities) passes the channel's
// identity to [Server.HandleMaskedInputFrom], which refuses a masked input
// whose Client differs from it and, the channel having bound the message
// to that identity, skips that pass. A certificate that only names the
// client does not authenticate its identity key; the identity must come
// from the channel, never from the message.
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
//     set other than the one it signed, a survivor set listing a
//     neighbour that shared no keys with it, a Sequence below
//     [ClientOptions].MinSequence or not above the last one its
//     [SequenceStore] recorded, a survivor set below MinInputs;
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
// added by all workers at once, each taking a range of coordinates, read
// in place from the message. At unmasking, every secret (each survivor's
// self-mask seed, each dropped client's mask key) is first reconstructed
// from t of its shares on all workers at once; those whose first try
// fails verification (a holder revealed a corrupted share; all of them if
// a corrupt holder answered first) then go through the error-locating
// reconstruction in order on one worker, since which holders were caught
// decides the shares tried first for the next secret.
// The dropped clients' pairwise seeds (one X25519 agreement per surviving
// neighbour) are derived in parallel; then the masks are removed piece by
// piece: the accumulator is cut into 128 KiB pieces, and each worker takes
// the next piece and subtracts or adds every queued mask over it, starting
// each mask's AES-CTR keystream at the piece's offset, so the piece stays
// in the worker's cache. All of this is addition in Z_{2^B}, so the result
// is bit-identical to the sequential one for any number of workers. The
// workers share the one accumulator: memory stays O(Dim), plus per worker
// one 8 KiB keystream chunk, plus at most 4096 queued masks (AES key
// schedules, about 2 MB) whatever the number of dropouts; no worker holds
// a vector of its own, so the parallel steps add no O(workers x Dim) term.
//
// The per-message work uses every core too when the caller hands messages
// over from several goroutines, as a server reading many connections does:
// a [Server] is safe for concurrent use, and its Handle* methods verify
// signatures and check key shares and unmask responses outside its lock
// (see [Server]). Only the recording of a message, and the addition of a
// masked input into the one accumulator, run one at a time.
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
