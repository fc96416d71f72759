// Package prg expands a 32-byte seed into a keyed pseudorandom stream and
// into additive masks modulo 2^bits, for secure-aggregation masks and other
// keyed streams.
//
// # Construction
//
// The stream of a seed is AES-256 in counter mode (NIST SP 800-38A,
// section 6.5), keyed by the seed, with an all-zero initial counter block
// incremented as a 128-bit big-endian integer. [NewReader] returns that
// stream; [ExpandAddMod32] and its siblings read it as consecutive
// little-endian 4-byte (or 8-byte) words, keep the low bits bits of each and
// add (or subtract) them to a vector modulo 2^bits. A uniform word masked to
// bits bits is uniform modulo 2^bits, so the masks are as close to uniform as
// AES-256 is to a pseudorandom permutation (the CTR output is
// indistinguishable from random for far more than the 2^64 blocks a
// uint32 vector could ask for).
//
// AES runs on the CPU's AES instructions where crypto/aes has them (AES-NI on
// amd64, the ARMv8 crypto extension on arm64). The keystream is produced in
// pooled 8 KiB chunks and added with the kernels of internal/vec, so the
// Expand functions allocate nothing beyond the AES key schedule and CTR
// state (2 allocations, about 1.1 KB, per call). The purego build tag
// turns off the assembly of crypto/aes as well as the in-place word view
// used here, and makes the keystream some 25 times slower.
//
// [Mask] gives random access to the same masks: it keeps one seed's AES
// key schedule and adds any window of the mask (elements off, off+1, ...)
// by starting the counter at the window's AES block, so that a vector can
// be masked piece by piece, on several goroutines, with the very result of
// the Expand functions.
//
// # One stream per seed
//
// The counter block is fixed, so two uses of one seed give the same stream:
// derive a fresh seed (for instance with [NewSeed], or from a key agreement
// through a KDF) for every stream, and use each seed for exactly one mask.
// Re-expanding a seed to remove the mask it made ([ExpandSubMod32] after
// [ExpandAddMod32]) is the intended exception.
//
// # Secrets
//
// Seeds are secret. The keystream buffers are cleared before they return to
// the pool; Go gives no guarantee that copies made by the runtime (the
// cipher state, moved stacks) are erased.
package prg
