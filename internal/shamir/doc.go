// Package shamir implements Shamir's t-of-n secret sharing of short secrets
// (seeds and private keys, up to 64 bytes) over the prime field GF(p),
// p = 2^61 - 1.
//
// # Construction
//
// Following Shamir, "How to share a secret" (CACM 22(11), 1979), the secret
// is cut into 7-byte chunks, each read as a big-endian integer below 2^56 <
// p. Each chunk c becomes the constant term of a polynomial f_c of degree
// t-1 whose other coefficients are uniform in GF(p) (61-bit words from the
// randomness source, rejecting the value p). Party i (1-based) receives
// [Share]{X: i, Y: (f_0(i), f_1(i), ...)}. Any t shares determine each f_c
// and so the secret, by Lagrange interpolation at 0; any t-1 shares are
// consistent with every secret, each with the same number of polynomials,
// so they reveal nothing.
//
// Arithmetic modulo the Mersenne prime 2^61 - 1 reduces a 122-bit product
// with a shift, a mask and an add, in constant time. Inversion uses Fermat's
// little theorem, a^(p-2) = a^-1.
//
// # Many reconstructions
//
// [Combine] computes the Lagrange coefficients for its shares every time.
// A server that reconstructs many secrets from the shares of the same
// parties (the seeds of every dropped client in secure aggregation) builds a
// [Lagrange] once with [NewLagrange] and calls [Lagrange.Combine] per
// secret, a linear combination of t field elements per chunk.
//
// # Threat model
//
// Shares are neither authenticated nor verifiable: a party that lies about
// its share changes the reconstructed secret undetected (unless the result
// does not fit the stated length, reported as [ErrInconsistent]). Use an
// authenticated channel, or verifiable secret sharing, where parties may
// cheat. The encoding of a share ([Share.MarshalBinary]) is versioned and
// canonical, and [Share.UnmarshalBinary] validates every field, so a
// malformed share from the network is an error, never a panic.
//
// Shares of one split form a Reed-Solomon codeword, so wrong shares can be
// located: [FindErrors] decodes m shares (Gao's algorithm) and names up to
// (m-t)/2 shares that lie off the sharing polynomials. A caller that can
// check the secret (a commitment, a public key) should check the secret
// rebuilt without them before blaming their holders.
//
// The randomness source is crypto/rand unless the caller passes another one
// (for reproducible tests only). Polynomial coefficients are cleared after
// use; Go gives no guarantee that the runtime did not copy them.
package shamir
