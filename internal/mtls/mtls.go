package mtls

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors; every error of this package wraps one of them.
var (
	// ErrIdentity reports a certificate without a valid privml identity.
	ErrIdentity = errors.New("mtls: no valid client identity")
	// ErrFiles reports missing, unreadable or malformed key and
	// certificate files.
	ErrFiles = errors.New("mtls: bad certificate files")
	// ErrOptions reports invalid issuing options.
	ErrOptions = errors.New("mtls: invalid options")
)

// KeyType is the signature algorithm of a generated key.
type KeyType uint8

const (
	// Ed25519 keys (RFC 8032); the default.
	Ed25519 KeyType = iota
	// ECDSAP256 keys: ECDSA over NIST P-256 (FIPS 186-5).
	ECDSAP256
)

func (k KeyType) String() string {
	switch k {
	case Ed25519:
		return "ed25519"
	case ECDSAP256:
		return "ecdsa-p256"
	}
	return fmt.Sprintf("KeyType(%d)", uint8(k))
}

// ParseKeyType parses "ed25519" or "ecdsa-p256".
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(s) {
	case "ed25519":
		return Ed25519, nil
	case "ecdsa-p256", "p256", "ecdsa":
		return ECDSAP256, nil
	}
	return 0, fmt.Errorf("%w: key type %q, want ed25519 or ecdsa-p256", ErrOptions, s)
}

// MaxClientID is the largest client id a certificate may carry (the
// largest secure-aggregation client id).
const MaxClientID = 1<<16 - 1

const (
	clientURIPrefix = "privml://client/"
	serverURI       = "privml://server"
)

// Options control the certificates issued by a [CA]. The zero value is
// valid.
type Options struct {
	// KeyType is the algorithm of the generated key. Defaults to Ed25519.
	KeyType KeyType
	// NotBefore is the start of validity. Defaults to one minute ago
	// (tolerating small clock skew).
	NotBefore time.Time
	// Lifetime is the validity period from NotBefore. Defaults to one year
	// for leaf certificates and ten years for the CA.
	Lifetime time.Duration
}

func (o *Options) window(def time.Duration) (time.Time, time.Time) {
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	life := o.Lifetime
	if life <= 0 {
		life = def
	}
	return nb, nb.Add(life)
}

// Issued is a certificate with its private key, parsed and PEM-encoded.
type Issued struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// TLS returns the pair as a tls.Certificate.
func (is *Issued) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{is.Cert.Raw}, PrivateKey: is.Key, Leaf: is.Cert}
}

// CA is a certificate authority that can issue server and client
// certificates. It is safe for concurrent use.
type CA struct {
	Issued
}

// NewCA creates a self-signed CA named name.
func NewCA(name string, opts *Options) (*CA, error) {
	if opts == nil {
		opts = &Options{}
	}
	key, err := newKey(opts.KeyType)
	if err != nil {
		return nil, err
	}
	nb, na := opts.window(10 * 365 * 24 * time.Hour)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"privml development CA"}},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	is, err := sign(tmpl, key, nil, key)
	if err != nil {
		return nil, err
	}
	return &CA{Issued: *is}, nil
}

// IssueServer issues a server certificate (serverAuth) for the given host
// names and IP addresses, with the URI name privml://server.
func (ca *CA) IssueServer(hosts []string, opts *Options) (*Issued, error) {
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w: a server certificate needs at least one host name or address", ErrOptions)
	}
	if opts == nil {
		opts = &Options{}
	}
	u, _ := url.Parse(serverURI)
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "privml server"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		URIs:        []*url.URL{u},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issueLeaf(tmpl, opts)
}

// IssueClient issues a client certificate (clientAuth) whose identity is
// privml://client/<id>.
func (ca *CA) IssueClient(id int, opts *Options) (*Issued, error) {
	if id < 0 || id > MaxClientID {
		return nil, fmt.Errorf("%w: client id %d out of range [0, %d]", ErrOptions, id, MaxClientID)
	}
	if opts == nil {
		opts = &Options{}
	}
	u, _ := url.Parse(clientURIPrefix + strconv.Itoa(id))
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: fmt.Sprintf("privml client %d", id)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{u},
	}
	return ca.issueLeaf(tmpl, opts)
}

func (ca *CA) issueLeaf(tmpl *x509.Certificate, opts *Options) (*Issued, error) {
	key, err := newKey(opts.KeyType)
	if err != nil {
		return nil, err
	}
	tmpl.NotBefore, tmpl.NotAfter = opts.window(365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	return sign(tmpl, key, ca.Cert, ca.Key)
}

func newKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: unknown key type %d", ErrOptions, kt)
}

// sign creates the certificate tmpl for key, signed by parent (nil for a
// self-signed one) with parentKey.
func sign(tmpl *x509.Certificate, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer) (*Issued, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("mtls: cannot draw a serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("mtls: cannot create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("mtls: cannot parse the certificate just created: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("mtls: cannot encode a private key: %w", err)
	}
	return &Issued{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
	}, nil
}

// ClientID returns the client id named by cert's privml://client/<id> URI
// name. It fails with [ErrIdentity] unless there is exactly one such name
// and <id> is a canonical decimal in [0, MaxClientID].
func ClientID(cert *x509.Certificate) (int, error) {
	if cert == nil {
		return 0, fmt.Errorf("%w: no certificate", ErrIdentity)
	}
	id, found := -1, 0
	for _, u := range cert.URIs {
		s := u.String()
		if !strings.HasPrefix(s, clientURIPrefix) {
			continue
		}
		found++
		v := s[len(clientURIPrefix):]
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxClientID || strconv.Itoa(n) != v {
			return 0, fmt.Errorf("%w: certificate names client %q, want a decimal from 0 to %d", ErrIdentity, v, MaxClientID)
		}
		id = n
	}
	switch found {
	case 0:
		return 0, fmt.Errorf("%w: certificate %q has no %s<id> name", ErrIdentity, cert.Subject.CommonName, clientURIPrefix)
	case 1:
		return id, nil
	}
	return 0, fmt.Errorf("%w: certificate %q names %d clients", ErrIdentity, cert.Subject.CommonName, found)
}

// PeerClientID returns the client id of the verified peer of a TLS
// connection. It fails unless the handshake verified a chain (so that the
// leaf is the one the CA vouched for).
func PeerClientID(cs tls.ConnectionState) (int, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return 0, fmt.Errorf("%w: the peer presented no verified certificate", ErrIdentity)
	}
	return ClientID(cs.VerifiedChains[0][0])
}

// ServerConfig returns a TLS 1.3-only server configuration that presents
// cert and requires a client certificate issued by one of the CAs in
// caPEM, with the clientAuth usage and a valid privml client identity.
func ServerConfig(caPEM []byte, cert tls.Certificate) (*tls.Config, error) {
	pool, err := certPool(caPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := PeerClientID(cs)
			return err
		},
	}, nil
}

// ClientConfig returns a TLS 1.3-only client configuration that presents
// cert and accepts only a server certificate for serverName issued by one
// of the CAs in caPEM.
func ClientConfig(caPEM []byte, cert tls.Certificate, serverName string) (*tls.Config, error) {
	pool, err := certPool(caPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
	}, nil
}

func certPool(caPEM []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if len(bytes.TrimSpace(caPEM)) == 0 || !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: no CA certificate in the CA file", ErrFiles)
	}
	return pool, nil
}
