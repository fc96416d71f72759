package mtls

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/privml/privml/internal/atomicfile"
)

// File names inside a PKI directory.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
)

// ClientCertFile and ClientKeyFile return the file names of client id's
// certificate and key.
func ClientCertFile(id int) string { return "client-" + strconv.Itoa(id) + ".crt" }

// ClientKeyFile returns the file name of client id's private key.
func ClientKeyFile(id int) string { return "client-" + strconv.Itoa(id) + ".key" }

// DevPKI describes what [WriteDevPKI] writes.
type DevPKI struct {
	// Clients is the number of client certificates, ids 0 to Clients-1.
	// Required, 1 to MaxClientID+1.
	Clients int
	// Hosts are the server's DNS names and IP addresses. Defaults to
	// localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Options apply to every certificate (key type, validity).
	Options Options
	// Overwrite allows replacing existing files. Without it WriteDevPKI
	// refuses, before writing anything, if any of its files exists.
	Overwrite bool
}

// WriteDevPKI creates dir (mode 0700) if needed and writes a development
// CA, a server certificate and cfg.Clients client certificates into it.
// Keys are written with mode 0600, certificates 0644, each atomically.
func WriteDevPKI(dir string, cfg DevPKI) error {
	if cfg.Clients < 1 || cfg.Clients > MaxClientID+1 {
		return fmt.Errorf("%w: %d clients, want 1 to %d", ErrOptions, cfg.Clients, MaxClientID+1)
	}
	hosts := cfg.Hosts
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	names := []string{CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile}
	for id := range cfg.Clients {
		names = append(names, ClientCertFile(id), ClientKeyFile(id))
	}
	if !cfg.Overwrite {
		for _, n := range names {
			if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
				return fmt.Errorf("%w: %s already exists (refusing to overwrite keys)", ErrFiles, filepath.Join(dir, n))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w: %v", ErrFiles, err)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: cannot create %s: %v", ErrFiles, dir, err)
	}
	opts := cfg.Options
	caOpts := Options{KeyType: opts.KeyType, NotBefore: opts.NotBefore}
	ca, err := NewCA("privml development CA", &caOpts)
	if err != nil {
		return err
	}
	if err := writePair(dir, CACertFile, CAKeyFile, &ca.Issued); err != nil {
		return err
	}
	srv, err := ca.IssueServer(hosts, &opts)
	if err != nil {
		return err
	}
	if err := writePair(dir, ServerCertFile, ServerKeyFile, srv); err != nil {
		return err
	}
	for id := range cfg.Clients {
		c, err := ca.IssueClient(id, &opts)
		if err != nil {
			return err
		}
		if err := writePair(dir, ClientCertFile(id), ClientKeyFile(id), c); err != nil {
			return err
		}
	}
	return nil
}

func writePair(dir, certName, keyName string, is *Issued) error {
	if err := atomicfile.WriteFile(filepath.Join(dir, keyName), is.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("%w: %v", ErrFiles, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, certName), is.CertPEM, 0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrFiles, err)
	}
	return nil
}

// LoadServerConfig reads ca.crt, server.crt and server.key from dir and
// returns [ServerConfig].
func LoadServerConfig(dir string) (*tls.Config, error) {
	ca, cert, err := loadPair(dir, ServerCertFile, ServerKeyFile)
	if err != nil {
		return nil, err
	}
	return ServerConfig(ca, cert)
}

// LoadClientConfig reads ca.crt, client-<id>.crt and client-<id>.key from
// dir and returns [ClientConfig] for serverName. It checks that the
// certificate names client id.
func LoadClientConfig(dir string, id int, serverName string) (*tls.Config, error) {
	ca, cert, err := loadPair(dir, ClientCertFile(id), ClientKeyFile(id))
	if err != nil {
		return nil, err
	}
	got, err := ClientID(cert.Leaf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ClientCertFile(id)), err)
	}
	if got != id {
		return nil, fmt.Errorf("%w: %s names client %d, not %d", ErrIdentity, filepath.Join(dir, ClientCertFile(id)), got, id)
	}
	return ClientConfig(ca, cert, serverName)
}

func loadPair(dir, certName, keyName string) ([]byte, tls.Certificate, error) {
	ca, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("%w: %v", ErrFiles, err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certName), filepath.Join(dir, keyName))
	if err != nil {
		// tls's errors name the files but never print key material.
		return nil, tls.Certificate{}, fmt.Errorf("%w: %s, %s: %v", ErrFiles, filepath.Join(dir, certName), keyName, err)
	}
	return ca, cert, nil
}

// LoadRoster reads the certificates client-0.crt to client-(n-1).crt from
// dir, checks each against ca.crt and its identity, and returns their
// Ed25519 public keys by client id: the secure-aggregation identities of
// the malicious model. It fails if a certificate is missing, not issued by
// the CA, names another client or has a key that is not Ed25519.
func LoadRoster(dir string, n int) ([]ed25519.PublicKey, error) {
	caPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFiles, err)
	}
	pool, err := certPool(caPEM)
	if err != nil {
		return nil, err
	}
	out := make([]ed25519.PublicKey, n)
	for id := range n {
		name := filepath.Join(dir, ClientCertFile(id))
		raw, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFiles, err)
		}
		blk, _ := pem.Decode(raw)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrFiles, name)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrFiles, name, err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrFiles, name, err)
		}
		got, err := ClientID(cert)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if got != id {
			return nil, fmt.Errorf("%w: %s names client %d", ErrIdentity, name, got)
		}
		pk, ok := cert.PublicKey.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: %s has a %T key; secure-aggregation identities need Ed25519", ErrIdentity, name, cert.PublicKey)
		}
		out[id] = pk
	}
	return out, nil
}

// LoadIdentity returns the Ed25519 private key of client id from dir (its
// TLS key, which is also its secure-aggregation identity).
func LoadIdentity(dir string, id int) (ed25519.PrivateKey, error) {
	name := filepath.Join(dir, ClientKeyFile(id))
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFiles, err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM key", ErrFiles, name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a PKCS#8 key", ErrFiles, name)
	}
	sk, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s holds a %T key, not Ed25519", ErrIdentity, name, k)
	}
	return sk, nil
}
