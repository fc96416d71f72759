package he

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecretKeyRoundTrip: a client read back from its encoding decrypts
// what the original encrypted and the server evaluated, and encrypts what
// the original decrypts.
func TestSecretKeyRoundTrip(t *testing.T) {
	f := newFixture(t, Latency)
	var buf bytes.Buffer
	n, err := f.client.WriteSecretKey(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	enc := bytes.Clone(buf.Bytes())

	c2, err := ReadClient(bytes.NewReader(enc), f.plan.Parameters())
	require.NoError(t, err)
	require.Equal(t, enc, marshalSK(t, c2), "decode then encode is the identity")

	out, err := f.server.Evaluate(f.cts[0])
	require.NoError(t, err)
	want, err := f.client.Decrypt(out)
	require.NoError(t, err)
	got, err := c2.Decrypt(out)
	require.NoError(t, err)
	require.InDeltaSlice(t, want[0], got[0], 1e-9)

	cts, err := c2.Encrypt(f.plan, f.xs[:1])
	require.NoError(t, err)
	back, err := f.client.Decrypt(cts[0])
	require.NoError(t, err)
	require.InDeltaSlice(t, f.xs[0], back[0], 1e-4)
}

func marshalSK(t *testing.T, c *Client) []byte {
	t.Helper()
	var b bytes.Buffer
	_, err := c.WriteSecretKey(&b)
	require.NoError(t, err)
	return b.Bytes()
}

// TestSecretKeyTamper: a flipped bit anywhere, a truncation, a key for
// other parameters, and a non-ternary key with a recomputed checksum are
// all refused, with errors that carry no key material.
func TestSecretKeyTamper(t *testing.T) {
	f := newFixture(t, Latency)
	params := f.plan.Parameters()
	enc := marshalSK(t, f.client)
	var pb bytes.Buffer
	params.encode(&encoder{w: &pb})
	head := 6 + pb.Len()

	for _, at := range []int{0, 5, 6 + 3, head, head + 8*100 + 1, len(enc) - 40, len(enc) - 1} {
		b := bytes.Clone(enc)
		b[at] ^= 0x10
		_, err := ReadClient(bytes.NewReader(b), params)
		require.Error(t, err, "bit flipped at byte %d", at)
		require.True(t, errorsIsAny(err, ErrMalformed, ErrMismatch), "byte %d: %v", at, err)
	}
	for _, n := range []int{0, 3, head, head + 1000, len(enc) - 1} {
		_, err := ReadClient(bytes.NewReader(enc[:n]), params)
		require.ErrorIs(t, err, ErrMalformed, "truncated to %d bytes", n)
	}

	// A reduced but non-ternary coefficient, checksum recomputed: only the
	// structural check catches it.
	b := bytes.Clone(enc[:len(enc)-sha256.Size])
	b[head] ^= 0x01
	b[head+1] ^= 0x02
	sum := sha256.Sum256(b)
	b = append(b, sum[:]...)
	_, err := ReadClient(bytes.NewReader(b), params)
	require.ErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "ternary")

	// Wrong parameters: another ring degree, and the same ring with
	// another depth.
	for _, other := range []*Parameters{testParams(t, 11, 3), testParams(t, 10, 2)} {
		_, err := ReadClient(bytes.NewReader(enc), *other)
		require.ErrorIs(t, err, ErrMismatch)
	}
	_, err = ReadClient(bytes.NewReader(enc), Parameters{})
	require.ErrorIs(t, err, ErrInput)
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if strings.Contains(err.Error(), t.Error()) {
			return true
		}
	}
	return false
}

// TestSecretKeyFile: the file has mode 0600, reads back, and a failed
// write leaves the previous file as it was.
func TestSecretKeyFile(t *testing.T) {
	f := newFixture(t, Batch)
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.key")
	require.NoError(t, f.client.WriteSecretKeyFile(path))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, SecretKeyFileMode, fi.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, marshalSK(t, f.client), raw)

	// A closed client cannot write; the file keeps its content.
	other, err := NewClient(f.plan.Parameters())
	require.NoError(t, err)
	other.Close()
	require.ErrorIs(t, other.WriteSecretKeyFile(path), ErrInput)
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, raw, again)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left")
	// A missing folder is an error naming the path.
	err = f.client.WriteSecretKeyFile(filepath.Join(dir, "no", "secret.key"))
	require.ErrorContains(t, err, filepath.Join(dir, "no"))
}

// TestClientRedacted: no fmt verb prints key material.
func TestClientRedacted(t *testing.T) {
	f := newFixture(t, Latency)
	coef := fmt.Sprint(f.client.sk.Value.Q.Coeffs[0][0])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		s := fmt.Sprintf(verb, f.client)
		assert.Contains(t, s, "redacted", verb)
		assert.NotContains(t, s, coef, verb)
	}
	s := fmt.Sprintf("%+v", struct{ C *Client }{f.client})
	assert.Contains(t, s, "redacted")
	f.client.Close()
	assert.Contains(t, f.client.String(), "closed")
}

// TestReadCiphertextFor: inputs of the plan decode; ciphertexts of
// another plan's layout, of outputs, or at another level are refused.
func TestReadCiphertextFor(t *testing.T) {
	f := newFixture(t, Latency)
	fb := newFixture(t, Batch)
	c, err := ReadCiphertextFor(bytes.NewReader(marshal(f.cts[0])), f.plan)
	require.NoError(t, err)
	require.Equal(t, marshal(f.cts[0]), marshal(c))
	require.LessOrEqual(t, f.cts[0].Bytes(), f.plan.MaxCiphertextBytes())
	require.LessOrEqual(t, fb.cts[0].Bytes(), fb.plan.MaxCiphertextBytes())

	_, err = ReadCiphertextFor(bytes.NewReader(marshal(fb.cts[0])), f.plan)
	require.ErrorIs(t, err, ErrMismatch)
	_, err = ReadCiphertextFor(bytes.NewReader(marshal(f.cts[0])), fb.plan)
	require.ErrorIs(t, err, ErrMismatch)
	out, err := f.server.Evaluate(f.cts[0])
	require.NoError(t, err)
	require.LessOrEqual(t, out.Bytes(), f.plan.MaxCiphertextBytes())
	_, err = ReadCiphertextFor(bytes.NewReader(marshal(out)), f.plan)
	require.ErrorIs(t, err, ErrMismatch)
	_, err = ReadCiphertextFor(bytes.NewReader(marshal(f.cts[0])), nil)
	require.ErrorIs(t, err, ErrInput)
}

func FuzzReadClient(f *testing.F) {
	params, err := InsecureTestParameters(10, 1)
	if err != nil {
		f.Fatal(err)
	}
	c, err := NewClient(params)
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := c.WriteSecretKey(&b); err != nil {
		f.Fatal(err)
	}
	var pb bytes.Buffer
	params.encode(&encoder{w: &pb})
	head := 6 + pb.Len()
	headerSeeds(f, b.Bytes(), 6, head, head+64)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		r := bytes.NewReader(data)
		c, err := ReadClient(r, params)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := c.WriteSecretKey(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data[:len(data)-r.Len()]) {
			t.Fatalf("decode then encode is not the identity")
		}
	})
}

func FuzzReadCiphertextFor(f *testing.F) {
	fx := newFixture(f, Latency)
	full := marshal(fx.cts[0])
	headerSeeds(f, full, 6, 27, 31, 40, 40+64)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2*len(full) {
			return
		}
		r := bytes.NewReader(data)
		c, err := ReadCiphertextFor(r, fx.plan)
		if err != nil {
			return
		}
		if !bytes.Equal(marshal(c), data[:len(data)-r.Len()]) {
			t.Fatalf("decode then encode is not the identity")
		}
		if _, err := fx.server.Evaluate(c); err != nil {
			t.Fatalf("a ciphertext accepted for the plan does not evaluate: %v", err)
		}
	})
}
