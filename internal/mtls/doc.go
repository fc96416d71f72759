// Package mtls issues the certificates of a development public-key
// infrastructure and builds the mutually authenticated TLS 1.3
// configurations that privml's network services (federated/transport, and
// any other service that must know which party is speaking) use.
//
// # Identities
//
// A client's identity is the URI subject alternative name
// privml://client/<id> of its certificate, <id> a decimal number from 0
// to [MaxClientID]; the server's certificate carries privml://server and
// the DNS names and IP addresses it is reached at. The identity is read
// from the SAN rather than the subject common name because RFC 6125 (and
// the Web PKI's CA/Browser Forum rules) deprecate identities in the CN,
// and because a URI of a scheme of our own cannot be confused with a host
// name; it follows the shape of SPIFFE IDs (spiffe://trust-domain/path).
// A certificate with zero or several privml://client names, or a name that
// is not a canonical decimal, has no identity: [ClientID] refuses it.
//
// A client certificate's key is Ed25519 by default, and then it doubles as
// the client's long-term secure-aggregation identity (secagg
// Config.Identities): the roster of public keys is read from the same
// certificates ([LoadRoster]), so a message signed for client i can only
// come from the holder of client i's certificate. TLS 1.3 signs its
// handshake under the context string "TLS 1.3, client CertificateVerify"
// (RFC 8446, section 4.4.3) and secagg under its own domain-separation
// prefixes, so the two uses of one key cannot be confused. ECDSA P-256
// is the alternative for peers that lack Ed25519.
//
// # TLS
//
// [ServerConfig] and [ClientConfig] accept TLS 1.3 only, require and
// verify the peer's certificate against the one CA of the deployment
// (client certificates must carry the clientAuth extended key usage,
// server certificates serverAuth), and leave everything else to Go's
// defaults (AEAD cipher suites, X25519MLKEM768 key exchange).
//
// # Files
//
// [WriteDevPKI] writes a CA, a server and n client certificates into a
// directory: ca.crt, ca.key, server.crt, server.key, client-<id>.crt and
// client-<id>.key. Private keys are PKCS#8 PEM files of mode 0600, written
// with write-then-rename (package internal/atomicfile); certificates are
// mode 0644. A client machine needs only ca.crt and its own two files
// ([LoadClientConfig]); the server needs ca.crt, its own pair and, for
// the roster, the client certificates ([LoadServerConfig], [LoadRoster]).
// The development CA's key should not stay on the server in production.
package mtls
