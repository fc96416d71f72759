package he

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"os"

	"github.com/privml/privml/internal/atomicfile"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// kindSecretKey is the object kind of an encoded secret key.
const kindSecretKey = 'S'

// SecretKeyFileMode is the permission [Client.WriteSecretKeyFile] gives
// a secret-key file: readable and writable by its owner only.
const SecretKeyFileMode os.FileMode = 0o600

// WriteSecretKey writes the client's parameters and secret key: the
// header, the parameters, the coefficients of the key modulo Q then P (in
// lattigo's NTT and Montgomery form) and a SHA-256 checksum of all of it.
// The checksum detects corruption, not a forger, who can recompute it:
// whoever can write the file owns the key. Keep the output private; the
// secret key decrypts everything encrypted under it and every ciphertext
// the server returns.
func (c *Client) WriteSecretKey(w io.Writer) (int64, error) {
	if c.sk == nil {
		return 0, fmt.Errorf("he: WriteSecretKey: client is closed: %w", ErrInput)
	}
	h := sha256.New()
	e := &encoder{w: io.MultiWriter(w, h)}
	e.header(kindSecretKey)
	c.params.encode(e)
	e.poly(c.sk.Value.Q)
	if c.sk.Value.P.Coeffs != nil {
		e.poly(c.sk.Value.P)
	}
	if e.err != nil {
		return e.n, e.err
	}
	sum := h.Sum(nil)
	k, err := w.Write(sum)
	return e.n + int64(k), err
}

// WriteSecretKeyFile writes [Client.WriteSecretKey] to path with mode
// [SecretKeyFileMode], through a temporary file in the same folder that is
// renamed over path once complete and synced: a failure leaves any file
// at path as it was, and the key is never readable by others, not even
// while it is written.
func (c *Client) WriteSecretKeyFile(path string) error {
	var buf bytes.Buffer
	if _, err := c.WriteSecretKey(&buf); err != nil {
		return err
	}
	defer clear(buf.Bytes())
	return atomicfile.WriteFile(path, buf.Bytes(), SecretKeyFileMode)
}

// ReadClient decodes a secret key written by [Client.WriteSecretKey] for
// params (the plan's [Plan.Parameters]) and returns a Client holding it.
// It fails with [ErrMismatch] if the key was written for other
// parameters, and with [ErrMalformed] if the bytes are truncated, a
// coefficient is not reduced, the checksum does not match, or the key is
// not ternary (every coefficient in {-1, 0, 1}, the same modulo every
// prime). Errors never include key material.
func ReadClient(r io.Reader, params Parameters) (*Client, error) {
	if len(params.p.Q()) == 0 {
		return nil, fmt.Errorf("he: ReadClient: zero Parameters: %w", ErrInput)
	}
	h := sha256.New()
	d := &decoder{r: io.TeeReader(r, h), what: "secret key"}
	d.header(kindSecretKey)
	var want bytes.Buffer
	params.encode(&encoder{w: &want})
	got := make([]byte, want.Len())
	d.read(got)
	if d.err != nil {
		return nil, d.err
	}
	if !bytes.Equal(got, want.Bytes()) {
		d.fail(ErrMismatch, "a key for other parameters than %s", params.Name())
		return nil, d.err
	}
	sk := rlwe.NewSecretKey(params.p)
	d.poly(sk.Value.Q, params.p.Q(), "modulo Q")
	if sk.Value.P.Coeffs != nil {
		d.poly(sk.Value.P, params.p.P(), "modulo P")
	}
	if d.err != nil {
		return nil, d.err
	}
	sum := h.Sum(nil)
	stored := make([]byte, len(sum))
	d.r = r // the checksum is not part of what it sums
	d.read(stored)
	if d.err != nil {
		return nil, d.err
	}
	if subtle.ConstantTimeCompare(sum, stored) != 1 {
		d.fail(ErrMalformed, "checksum mismatch (corrupted file)")
		return nil, d.err
	}
	if !ternary(params, sk) {
		d.fail(ErrMalformed, "not a ternary secret key")
		return nil, d.err
	}
	return newClientWithKey(params, sk), nil
}

// ternary reports whether sk, in NTT and Montgomery form, has the same
// coefficient in {-1, 0, 1} modulo every prime of Q and P.
func ternary(params Parameters, sk *rlwe.SecretKey) bool {
	rq := params.p.RingQ()
	coef := make([]int8, params.p.N())
	ok := checkTernary(rq, sk.Value.Q, coef, true)
	if rp := params.p.RingP(); ok && rp != nil && sk.Value.P.Coeffs != nil {
		ok = checkTernary(rp, sk.Value.P, coef, false)
	}
	clear(coef)
	return ok
}

// checkTernary converts a copy of p out of NTT and Montgomery form and
// checks every residue against coef (filling coef first when first).
func checkTernary(r *ring.Ring, p ring.Poly, coef []int8, first bool) bool {
	t := r.NewPoly()
	defer t.Zero()
	r.IMForm(p, t)
	r.INTT(t, t)
	ok := true
	for i, row := range t.Coeffs {
		q := r.SubRings[i].Modulus
		for k, v := range row {
			var c int8
			switch v {
			case 0:
			case 1:
				c = 1
			case q - 1:
				c = -1
			default:
				ok = false
				continue
			}
			if first && i == 0 {
				coef[k] = c
			} else if coef[k] != c {
				ok = false
			}
		}
	}
	return ok
}

func newClientWithKey(params Parameters, sk *rlwe.SecretKey) *Client {
	return &Client{
		params: params,
		sk:     sk,
		kgen:   rlwe.NewKeyGenerator(params.p),
		ecd:    ckks.NewEncoder(params.p),
		enc:    rlwe.NewEncryptor(params.p, sk),
		dec:    rlwe.NewDecryptor(params.p, sk),
	}
}

// String describes the client without its secret key.
func (c *Client) String() string {
	if c == nil {
		return "he.Client(nil)"
	}
	state := "secret key redacted"
	if c.sk == nil {
		state = "closed"
	}
	return fmt.Sprintf("he.Client{%s, %s}", c.params.Name(), state)
}

// GoString is [Client.String], so that %#v prints no key material.
func (c *Client) GoString() string { return c.String() }

// Format prints [Client.String] for every verb, so that no fmt verb
// (%v, %+v, %#v, %x, %s) prints key material.
func (c *Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }
