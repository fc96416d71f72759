// Package transport runs secure aggregation (package federated/secagg)
// between one server and many client processes over gRPC with mutual TLS
// 1.3. It drives the state machines and nothing else: it validates what
// arrives, calls the pure core, and maps errors to gRPC status codes.
//
// # Shape
//
// Clients dial the server; the server never dials a client, so clients
// may sit behind NAT (the split of Flower's SuperLink and SuperNodes). The
// Aggregation service (schema in package transportpb) has four calls:
// Hello (where is the federation), Await (long-poll for the server's
// message that closes a stage, streamed back), Submit (a client's message
// for a stage) and Upload (a masked input, streamed). Large vectors go
// both ways in chunks of at most [MaxChunkSize], 1 MiB, after a header
// that announces the total size: masked inputs up, and down the server's
// messages, among them the round's configuration with the application's
// payload (the global model, say) and the round's result. Every message
// is framed by the federation session (16 random bytes per server
// start), the training round and the stage; secagg messages travel in
// their own binary encodings.
//
// A [Server] runs rounds FirstRound to LastRound. Each round has the
// stages of secagg (AdvertiseKeys, ShareKeys, MaskedInputCollection,
// ConsistencyCheck in the malicious model, Unmasking); a stage closes when
// every expected client has sent its message or at its deadline
// (ServerConfig.StageTimeout), and a client that missed it counts as
// dropped for the rest of the round. A [Client] takes part in every round
// it can join; [ClientConfig].Input gives its vector.
//
// The server hands each client message to the state machine (secagg's
// Server, safe for concurrent use) without holding a lock of its own, so
// messages that arrive on different connections are decoded and their
// signatures verified on every core at once. A stage closes in two steps:
// at its deadline, or once every expected client has answered, it stops
// admitting messages (one that arrives then is refused, its client
// counted as dropped); when the messages already in the state machine are
// done, the state machine's stage is closed. Each client's message is
// thus either counted in the round and acknowledged, or refused and its
// client reported dropped, never both.
//
// # Identity
//
// The server authenticates every client by its certificate (package
// internal/mtls): the id in the certificate's privml://client/<id> name is
// the secagg client id, and every message must speak for it: a message
// whose sender field differs is refused with PermissionDenied before it
// reaches the state machine, so no client can send, replay or relabel a
// message for another. In the malicious model the clients' secagg
// identities are their certificates' Ed25519 keys, and every client
// message is also signed with it (secagg wire version 2): the server's
// state machine refuses a message that is unsigned, altered or signed by
// another client, and the channel check and the signature must agree.
// The exception is the masked input, the one large message, when the
// channel carries the sender's roster identity: if the certificate's
// Ed25519 key is the client's entry in Config.Identities, the adapter hands
// the masked input over with the channel's identity (secagg's
// HandleMaskedInputFrom), which skips verifying its signature (a SHA-256
// pass over the whole vector, several times the cost of adding it), since
// the mutual-TLS channel then authenticates the holder of that identity
// and protects the message's contents. A certificate that only names the
// client (another certificate the CA issued for the same id, or an ECDSA
// certificate beside a separate Ed25519 identity) does not, and the
// signature is verified.
//
// # What the client checks
//
// The round's configuration comes from the server, so in the malicious
// model a client judges it against what it knows from elsewhere
// (secagg's ClientPolicy) and refuses a violating round before it sends
// anything: the roster of identities (ClientConfig.Roster), the session
// seed, which lays out the neighbour graph and must not be the server's
// choice (ClientConfig.SessionSeed, for example [BeaconSeeds] of a beacon
// value fixed in advance), the threat model (RequireMalicious), and the
// smallest threshold and number of inputs in a sum (MinThreshold,
// MinInputs). It records the Sequence of each round it joins in a
// secagg.SequenceStore (ClientConfig.Sequences; in memory by default, a
// secagg.FileSequenceStore for a client that restarts) and refuses a
// Sequence not above the last, so that a finished round cannot be
// replayed to it. A refused round counts the client as dropped; missing
// settings of its own (no roster or seed source for the malicious model)
// stop [Client.Run].
//
// # Faults
//
//   - Retries are idempotent, keyed by session, round, stage and client:
//     the same message again is answered "duplicate" and changes nothing;
//     a different one is refused with AlreadyExists (told apart by a
//     SHA-256 digest, or for masked inputs a 128-bit fingerprint keyed by
//     the server's secret seeds; either answer leaves the round as it
//     was). A message that arrives while the client's earlier one of the
//     stage is still in the state machine waits for it and is then
//     answered the same way (or, if the earlier one was refused, handled
//     itself): a client's messages of a stage reach the state machine one
//     at a time. A client retries calls that fail with Unavailable,
//     DeadlineExceeded or ResourceExhausted (a lost reply, a server
//     restart, a full upload queue), but not its own refusal of a received
//     message above its receive limit, which would only come again.
//   - A client that loses its connection keeps its state and resumes with
//     the same messages. A client process that restarts mid-round has lost
//     its keys: it counts as dropped in that round (its messages already
//     accepted are kept, never counted twice) and joins the next round.
//   - A server restart draws a new session id: clients' calls for the old
//     one fail with FailedPrecondition and they rejoin with Hello. Rounds
//     resume from a [Checkpoint] (write-then-rename, SHA-256 checksum,
//     versioned) that the application writes from ServerConfig.OnRound;
//     the round's secagg Sequence is Epoch<<32 | round, so a round run
//     again after a restart never reuses a Sequence.
//   - Keepalive pings detect dead connections (clients every 20s, the
//     server every 30s).
//
// # Bad peers and limits
//
// Refused with a status and logged, each leaving the round's state as it
// was: a certificate from another CA, expired, not for client use or
// naming a client off the roster (the handshake fails, or
// PermissionDenied); a message for another session, round or stage
// (FailedPrecondition); a malformed message (InvalidArgument); an upload
// that announces more than the round's masked input (whose size is exact:
// header, packed vector and, in the malicious model, a signature), sends
// a chunk above 1 MiB or past the announced size (OutOfRange), announces
// less, or ends early (InvalidArgument). A client likewise refuses a
// download from the server (ErrDownload) that comes without a header or
// with one for another frame, announces more than
// ClientConfig.MaxDownloadSize (256 MiB by default), sends an empty chunk,
// one above 1 MiB or past the announced size, or ends before it; it then
// abandons the round rather than retry. The listener ([LimitListener])
// bounds open connections and each connection's concurrent calls
// ([Limits]); a peer that connects and never completes its handshake is
// dropped after Limits.HandshakeTimeout. Status codes come from one
// table, in the manner of etcd's v3rpc togRPCError.
//
// # Memory
//
// The secagg server adds each masked input into one running sum. The
// transport checks each chunk as it arrives but hands the state machine a
// whole message (a sum cannot take back half an input from a stream cut
// half-way, and a signature, where it is verified, covers the whole), so
// it buffers at most ServerConfig.MaxConcurrentUploads masked inputs at
// once (reusing their buffers), and a client sends its data only after
// the server's ready, when a slot is free: the server's live memory is
// O(Dim), independent of the number of clients (BENCHMARKS.md has the
// peak RSS at 20 and 100 clients). A client has at most one upload in
// progress per certificate (a second gets ResourceExhausted and is
// retried; another certificate issued for its id that stalls an upload
// does not lock it out), and an upload holds its slot no longer than its
// stage: one that is still waiting or sending when the stage closes ends
// with FailedPrecondition, so a client that stalls cannot keep a slot
// across rounds. MaxConcurrentUploads
// colluding clients that stall can still starve one stage's uploads.
//
// Downloads are encoded once per round (the configuration) or per
// client and stage, and sent as slices of that encoding (the service's
// codec, protobuf's wire format, hands chunk bytes to gRPC without
// copying them, and decodes a received chunk with one copy): a connection
// has at most about a chunk of it in flight, so broadcasting a model of M
// bytes to N clients holds M plus O(N) chunks, not N copies of M. A
// client receives a chunk at a time into the message it assembles, whose
// buffer starts at up to 16 MiB and doubles when full, or grows to the
// announced size once doubling would not reach it: receiving a message
// of M bytes allocates less than 2M for it (the message and the buffers
// it outgrew), besides the chunks.
//
// # Logs
//
// Logs go to log/slog with ids, rounds, stages, sizes, durations, status
// codes and error texts; never vectors, masks, shares or keys (secagg's
// errors carry none).
package transport
