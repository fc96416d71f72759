package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoIdentityWithoutAClientCertificate: the handshake fails for a
// client with no certificate, one presenting the CA's own certificate and
// key, and one with two client names or a non-canonical id, so no
// connection ever gets an id it was not issued.
func TestNoIdentityWithoutAClientCertificate(t *testing.T) {
	p := newPKI(t, Ed25519)
	s, err := ServerConfig(p.caPEM, p.server.TLS())
	require.NoError(t, err)

	t.Run("no certificate", func(t *testing.T) {
		c, err := ClientConfig(p.caPEM, tls.Certificate{}, "localhost")
		require.NoError(t, err)
		c.Certificates = nil
		r := handshake(t, s, c)
		require.Error(t, r.serverErr)
		assert.Contains(t, r.serverErr.Error(), "didn't provide a certificate")
	})
	t.Run("CA certificate as client", func(t *testing.T) {
		_, c := p.configs(t, &p.ca.Issued)
		r := handshake(t, s, c)
		require.ErrorIs(t, r.serverErr, ErrIdentity)
	})
	for name, uris := range map[string][]string{
		"two ids":           {"privml://client/1", "privml://client/2"},
		"leading zeros":     {"privml://client/007"},
		"plus sign":         {"privml://client/+7"},
		"dot segments":      {"privml://client/1/../2"},
		"upper-case scheme": {"PRIVML://client/1", "privml://client/2"},
	} {
		t.Run(name, func(t *testing.T) {
			tmpl := &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
			for _, s := range uris {
				u, err := url.Parse(s)
				require.NoError(t, err)
				tmpl.URIs = append(tmpl.URIs, u)
			}
			bad, err := p.ca.issueLeaf(tmpl, &Options{})
			require.NoError(t, err)
			_, c := p.configs(t, bad)
			r := handshake(t, s, c)
			require.ErrorIs(t, r.serverErr, ErrIdentity)
		})
	}
}
