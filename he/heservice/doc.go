// Package heservice serves encrypted inference over gRPC: a [Server] holds
// one compiled [he.Plan] and evaluates CKKS ciphertexts for clients that
// keep their secret keys; a [Client] uploads its evaluation keys once per
// [Session] and sends ciphertexts. The wire schema is in package hepb
// (inference.proto); keys and ciphertexts travel in package he's own
// encodings.
//
// # Protocol
//
//   - Info returns the SHA-256 digest of the server's plan encoding and
//     its limits; [Client.CheckPlan] compares the digest with the client's
//     plan before any key is sent.
//   - OpenSession streams the evaluation keys in chunks (at most
//     [ServerConfig.MaxChunkBytes] each, 1 MiB by default), the first
//     naming the plan digest. The server decodes the stream with
//     [he.ReadEvaluationKeysFor] as it arrives, so it refuses keys for
//     other parameters, a key the plan does not need, a missing one, or
//     one at another level, before allocating it: a client cannot make it
//     hold more than the plan's keys. Bytes after the keys are refused. A
//     session id of 16 bytes from crypto/rand is returned.
//   - Evaluate sends one input ciphertext with the session id. The server
//     decodes it with [he.ReadCiphertextFor] (the plan's layout, part
//     count, level and scale; nothing after it) and runs
//     [he.Server.Evaluate] under the session's keys.
//   - CloseSession drops the session's keys.
//
// # Limits and deadlines
//
// [NewGRPCServer] sets the gRPC receive and send limits to
// [Server.MaxMessageBytes]: the plan's largest ciphertext
// ([he.Plan.MaxCiphertextBytes]) or a key chunk, plus 4 KiB of framing;
// anything larger is refused by gRPC with ResourceExhausted before it is
// read. [Dial] sizes the client's limits the same way. Sessions are cached
// in an LRU of [ServerConfig.MaxSessions] entries (16 by default) that
// expire [ServerConfig.SessionTTL] after their last use (10 minutes), so
// the memory held is at most MaxSessions times the plan's key size; an
// unknown, expired, evicted or foreign session is NotFound, without saying
// which. One client certificate holds at most
// [ServerConfig.MaxSessionsPerPeer] sessions (a quarter of MaxSessions by
// default): opening one more evicts its own oldest, so a single client
// cannot evict the others' (clients that collude, each with its own
// certificate, still can). At most [ServerConfig.MaxUploads] key uploads
// are decoded at once (a quarter of MaxSessions), and one per client
// certificate; one more is refused with ResourceExhausted. (Without client
// certificates only the global bound applies.) A key upload must finish within
// [ServerConfig.OpenTimeout] (2 minutes). Evaluations run at most [ServerConfig.MaxConcurrent] at once
// (GOMAXPROCS by default); a call waits for a slot until its deadline (or
// [ServerConfig.EvaluateTimeout] when it carries none). An evaluation that
// has started is not interrupted (lattigo's evaluator cannot be), but its
// result is dropped if the deadline passed. TLS handshakes must finish in
// 10 seconds and idle connections are pinged every 30 seconds.
//
// # Security
//
// TLS 1.3 protects the channel; with the configurations of internal/mtls
// (as `privml he serve` uses by default) the server requires a client
// certificate of its CA, and a session is bound to the SHA-256 of the
// certificate that opened it: another client presenting the id gets
// NotFound. Session ids are bearer secrets among the clients of one
// certificate; the server indexes sessions by the SHA-256 of the id, and
// logs (log/slog) carry a 4-byte prefix of that hash, never the id, keys
// or ciphertexts. What the server learns is the plan's threat model (see
// package he): under RLWE, nothing about inputs or outputs from the
// ciphertexts and evaluation keys; it does see when, how often and how
// many samples (in batch mode) each client sends. The client learns the
// outputs of its samples and, holding the plan, the model.
//
// Errors of package he map to status codes: malformed input to
// InvalidArgument, size limits to ResourceExhausted, keys or ciphertexts
// of another plan to FailedPrecondition.
package heservice
