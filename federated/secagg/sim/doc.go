// Package sim runs a secure-aggregation session of package secagg in one
// process: n clients and the server exchange encoded messages through
// memory, with any dropout pattern at any round and with adversarial
// behaviours of the server or of clients. It measures each party's compute
// time and the bytes each client sends and receives.
//
// It is meant for tests, benchmarks and the "privml fed simulate" command,
// not for production: a real deployment drives the same state machines
// over a network.
//
// # Adversaries
//
// [Options.Server] selects a lying server ([AskBothShares],
// [InconsistentDropouts], [ReplayUnmask], [ReplayOldSession],
// [DuplicateAdvert], [SplitView]) aimed at [Options.Target];
// [Report.Revealed] counts the target's shares it managed to collect,
// [Report.Unmasked] whether that is t of each kind, and
// [Report.ClientErrors] the honest clients' refusals. Under [SplitView]
// the server colludes with the clients of [Options.Corrupt]: it knows
// their randomness, runs a copy of each, has them sign both survivor sets
// and reveal both shares of the target, and splits the honest clients
// along the Harary ring (recovered from the public graph) to maximise
// what it collects. [Options.Faults] makes clients send garbage,
// truncated, over-long, replayed or corrupted messages; the server rejects
// them ([Report.Rejected]) and the sum of the others stays exact.
//
// # Measurements
//
// [Stats] holds each round's mean client time and the server's time, in
// wall-clock and CPU time, and the bytes each client sent and received.
// Inputs are produced on demand ([Inputs]) so that a run of n clients with
// D coordinates holds O(D) memory besides the clients' keys.
package sim
