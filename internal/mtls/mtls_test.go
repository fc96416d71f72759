package mtls

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type handshakeResult struct {
	serverErr error
	clientErr error
	id        int
	idErr     error
}

// handshake runs one TLS handshake over real TCP on 127.0.0.1 and reports
// both sides' errors and the client id the server read from the peer.
func handshake(t *testing.T, srv, cli *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan handshakeResult, 1)
	go func() {
		var r handshakeResult
		c, err := ln.Accept()
		if err != nil {
			r.serverErr = err
			done <- r
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Server(c, srv)
		r.serverErr = tc.Handshake()
		if r.serverErr == nil {
			r.id, r.idErr = PeerClientID(tc.ConnectionState())
			_, _ = tc.Write([]byte{1})
		}
		done <- r
	}()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), cli)
	var clientErr error
	if err != nil {
		clientErr = err
	} else {
		// In TLS 1.3 the client learns that its certificate was refused
		// only from the alert that follows its Finished message.
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		_, clientErr = c.Read(b[:])
		c.Close()
	}
	r := <-done
	r.clientErr = clientErr
	return r
}

type pki struct {
	ca     *CA
	server *Issued
	caPEM  []byte
}

func newPKI(t *testing.T, kt KeyType) *pki {
	t.Helper()
	ca, err := NewCA("test CA", &Options{KeyType: kt})
	require.NoError(t, err)
	srv, err := ca.IssueServer([]string{"localhost", "127.0.0.1"}, &Options{KeyType: kt})
	require.NoError(t, err)
	return &pki{ca: ca, server: srv, caPEM: ca.CertPEM}
}

func (p *pki) configs(t *testing.T, client *Issued) (*tls.Config, *tls.Config) {
	t.Helper()
	s, err := ServerConfig(p.caPEM, p.server.TLS())
	require.NoError(t, err)
	c, err := ClientConfig(p.caPEM, client.TLS(), "localhost")
	require.NoError(t, err)
	return s, c
}

func TestHandshakeGivesClientID(t *testing.T) {
	for _, kt := range []KeyType{Ed25519, ECDSAP256} {
		t.Run(kt.String(), func(t *testing.T) {
			p := newPKI(t, kt)
			cl, err := p.ca.IssueClient(17, &Options{KeyType: kt})
			require.NoError(t, err)
			s, c := p.configs(t, cl)
			r := handshake(t, s, c)
			require.NoError(t, r.serverErr)
			require.NoError(t, r.clientErr)
			require.NoError(t, r.idErr)
			assert.Equal(t, 17, r.id)
		})
	}
}

func TestClientFromAnotherCARefused(t *testing.T) {
	p := newPKI(t, Ed25519)
	other := newPKI(t, Ed25519)
	cl, err := other.ca.IssueClient(3, nil)
	require.NoError(t, err)
	s, c := p.configs(t, cl)
	r := handshake(t, s, c)
	require.Error(t, r.serverErr)
	assert.Contains(t, r.serverErr.Error(), "certificate signed by unknown authority")
	require.Error(t, r.clientErr)
}

func TestServerFromAnotherCARefused(t *testing.T) {
	p := newPKI(t, Ed25519)
	other := newPKI(t, Ed25519)
	cl, err := p.ca.IssueClient(3, nil)
	require.NoError(t, err)
	s, err := ServerConfig(p.caPEM, other.server.TLS())
	require.NoError(t, err)
	c, err := ClientConfig(p.caPEM, cl.TLS(), "localhost")
	require.NoError(t, err)
	r := handshake(t, s, c)
	require.Error(t, r.clientErr)
	assert.Contains(t, r.clientErr.Error(), "unknown authority")
}

func TestExpiredCertificatesRefused(t *testing.T) {
	p := newPKI(t, Ed25519)
	expired := &Options{NotBefore: time.Now().Add(-48 * time.Hour), Lifetime: 24 * time.Hour}
	notYet := &Options{NotBefore: time.Now().Add(24 * time.Hour), Lifetime: 24 * time.Hour}
	for name, o := range map[string]*Options{"expired": expired, "not yet valid": notYet} {
		t.Run("client "+name, func(t *testing.T) {
			cl, err := p.ca.IssueClient(1, o)
			require.NoError(t, err)
			s, c := p.configs(t, cl)
			r := handshake(t, s, c)
			require.Error(t, r.serverErr)
			assert.Contains(t, r.serverErr.Error(), "expired or is not yet valid")
		})
	}
	t.Run("server expired", func(t *testing.T) {
		srv, err := p.ca.IssueServer([]string{"localhost"}, expired)
		require.NoError(t, err)
		cl, err := p.ca.IssueClient(1, nil)
		require.NoError(t, err)
		s, err := ServerConfig(p.caPEM, srv.TLS())
		require.NoError(t, err)
		c, err := ClientConfig(p.caPEM, cl.TLS(), "localhost")
		require.NoError(t, err)
		r := handshake(t, s, c)
		require.Error(t, r.clientErr)
		assert.Contains(t, r.clientErr.Error(), "expired or is not yet valid")
	})
}

func TestTLS12Refused(t *testing.T) {
	p := newPKI(t, ECDSAP256)
	cl, err := p.ca.IssueClient(1, &Options{KeyType: ECDSAP256})
	require.NoError(t, err)
	s, c := p.configs(t, cl)
	c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	r := handshake(t, s, c)
	require.Error(t, r.serverErr)
	assert.Contains(t, r.serverErr.Error(), "unsupported versions")
	require.Error(t, r.clientErr)

	// And a server offering TLS 1.2 only is refused by our client.
	s2, c2 := p.configs(t, cl)
	s2.MinVersion, s2.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	r = handshake(t, s2, c2)
	require.Error(t, r.clientErr)
}

func TestWrongUsageRefused(t *testing.T) {
	p := newPKI(t, Ed25519)
	// A server certificate (serverAuth only) presented as a client
	// certificate: issued by the right CA, but not for client use.
	s, err := ServerConfig(p.caPEM, p.server.TLS())
	require.NoError(t, err)
	c, err := ClientConfig(p.caPEM, p.server.TLS(), "localhost")
	require.NoError(t, err)
	r := handshake(t, s, c)
	require.Error(t, r.serverErr)
	assert.Contains(t, r.serverErr.Error(), "usage")

	// A client certificate whose identity is malformed is refused by the
	// server's VerifyConnection.
	u, _ := url.Parse("privml://client/007")
	tmpl := &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{u}}
	bad, err := p.ca.issueLeaf(tmpl, &Options{})
	require.NoError(t, err)
	s, c = p.configs(t, bad)
	r = handshake(t, s, c)
	require.ErrorIs(t, r.serverErr, ErrIdentity)
}

func TestClientID(t *testing.T) {
	mk := func(uris ...string) *x509.Certificate {
		c := &x509.Certificate{}
		for _, s := range uris {
			u, err := url.Parse(s)
			require.NoError(t, err)
			c.URIs = append(c.URIs, u)
		}
		return c
	}
	id, err := ClientID(mk("https://example.com", "privml://client/42"))
	require.NoError(t, err)
	assert.Equal(t, 42, id)
	id, err = ClientID(mk("privml://client/0"))
	require.NoError(t, err)
	assert.Equal(t, 0, id)
	id, err = ClientID(mk("privml://client/65535"))
	require.NoError(t, err)
	assert.Equal(t, MaxClientID, id)
	for _, bad := range [][]string{
		nil,
		{"privml://server"},
		{"privml://client/"},
		{"privml://client/007"},
		{"privml://client/+7"},
		{"privml://client/-1"},
		{"privml://client/65536"},
		{"privml://client/1/2"},
		{"privml://client/1", "privml://client/2"},
		{"privml://client/1", "privml://client/1"},
	} {
		_, err := ClientID(mk(bad...))
		assert.ErrorIs(t, err, ErrIdentity, "%q", bad)
	}
	_, err = ClientID(nil)
	assert.ErrorIs(t, err, ErrIdentity)
	_, err = PeerClientID(tls.ConnectionState{})
	assert.ErrorIs(t, err, ErrIdentity)
}

func TestWriteDevPKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	require.NoError(t, WriteDevPKI(dir, DevPKI{Clients: 3}))
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	for _, name := range []string{CAKeyFile, ServerKeyFile, ClientKeyFile(0), ClientKeyFile(2)} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), name)
	}
	st, err = os.Stat(filepath.Join(dir, ClientCertFile(1)))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	// Existing files are never overwritten unless asked.
	before, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	require.NoError(t, err)
	err = WriteDevPKI(dir, DevPKI{Clients: 3})
	require.ErrorIs(t, err, ErrFiles)
	assert.Contains(t, err.Error(), "already exists")
	after, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// The roster's keys are the clients' identity keys.
	roster, err := LoadRoster(dir, 3)
	require.NoError(t, err)
	for id := range 3 {
		sk, err := LoadIdentity(dir, id)
		require.NoError(t, err)
		assert.True(t, sk.Public().(ed25519.PublicKey).Equal(roster[id]))
	}

	// The loaded configurations talk to each other and carry the id.
	s, err := LoadServerConfig(dir)
	require.NoError(t, err)
	c, err := LoadClientConfig(dir, 2, "localhost")
	require.NoError(t, err)
	r := handshake(t, s, c)
	require.NoError(t, r.serverErr)
	require.NoError(t, r.clientErr)
	assert.Equal(t, 2, r.id)

	_, err = LoadRoster(dir, 4)
	require.ErrorIs(t, err, ErrFiles)

	// A certificate file swapped for another client's is caught.
	crt1, err := os.ReadFile(filepath.Join(dir, ClientCertFile(1)))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ClientCertFile(0)), crt1, 0o644))
	_, err = LoadRoster(dir, 3)
	require.ErrorIs(t, err, ErrIdentity)
	_, err = LoadClientConfig(dir, 0, "localhost")
	require.Error(t, err) // the key no longer matches the certificate

	_, err = LoadClientConfig(t.TempDir(), 0, "localhost")
	require.ErrorIs(t, err, ErrFiles)
}

func TestRosterRefusesForeignAndECDSA(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteDevPKI(dir, DevPKI{Clients: 2, Options: Options{KeyType: ECDSAP256}}))
	_, err := LoadRoster(dir, 2)
	require.ErrorIs(t, err, ErrIdentity)
	_, err = LoadIdentity(dir, 0)
	require.ErrorIs(t, err, ErrIdentity)

	other := t.TempDir()
	require.NoError(t, WriteDevPKI(other, DevPKI{Clients: 2}))
	crt, err := os.ReadFile(filepath.Join(other, ClientCertFile(1)))
	require.NoError(t, err)
	dir2 := t.TempDir()
	require.NoError(t, WriteDevPKI(dir2, DevPKI{Clients: 2}))
	require.NoError(t, os.WriteFile(filepath.Join(dir2, ClientCertFile(1)), crt, 0o644))
	_, err = LoadRoster(dir2, 2)
	require.ErrorIs(t, err, ErrFiles)
	assert.Contains(t, err.Error(), "unknown authority")
}

func TestOptionsErrors(t *testing.T) {
	ca, err := NewCA("x", nil)
	require.NoError(t, err)
	_, err = ca.IssueClient(-1, nil)
	assert.ErrorIs(t, err, ErrOptions)
	_, err = ca.IssueClient(MaxClientID+1, nil)
	assert.ErrorIs(t, err, ErrOptions)
	_, err = ca.IssueServer(nil, nil)
	assert.ErrorIs(t, err, ErrOptions)
	_, err = NewCA("x", &Options{KeyType: 9})
	assert.ErrorIs(t, err, ErrOptions)
	_, err = ParseKeyType("rsa")
	assert.ErrorIs(t, err, ErrOptions)
	kt, err := ParseKeyType("ecdsa-p256")
	require.NoError(t, err)
	assert.Equal(t, ECDSAP256, kt)
	_, err = ServerConfig([]byte("not a pem"), tls.Certificate{})
	assert.ErrorIs(t, err, ErrFiles)
	assert.ErrorIs(t, WriteDevPKI(t.TempDir(), DevPKI{}), ErrOptions)
}
