package anonymize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/privml/privml/anonymize/ff1"
)

// MinKeySize is the shortest pseudonymization key accepted, in bytes.
const MinKeySize = 16

// pseudonymDomain separates the column keys of this scheme from any other
// use of the same master key.
const pseudonymDomain = "privml/anonymize/pseudonym/v1"

// Pseudonymizer maps identifiers to keyed pseudonyms: HMAC-SHA256 under a
// per-column key derived from the caller's master key, so the same value
// gets unrelated pseudonyms in different columns and nobody without the key
// can recompute or test a guess. There is deliberately no unkeyed mode: a
// plain hash of an identifier is reversed by hashing every candidate. The
// key never leaves the Pseudonymizer: it prints as [REDACTED] under every
// fmt verb and in log/slog, and the key lives only inside a function
// value, so even a reflective print of a struct holding a Pseudonymizer in
// an unexported field (where fmt cannot call these methods) shows an
// address, not key bytes. It is safe for concurrent use. Make one with
// [NewPseudonymizer]; the zero value has no key and must not be used.
type Pseudonymizer struct {
	// columnKey derives K_col = HMAC-SHA256(key, domain || 0 || column);
	// the key is captured by the closure and reachable nowhere else.
	columnKey func(column string) []byte
}

// redactedPseudonymizer is how a [Pseudonymizer] prints.
const redactedPseudonymizer = "anonymize.Pseudonymizer{key: " + Redacted + "}"

// String returns a fixed text without the key.
func (Pseudonymizer) String() string { return redactedPseudonymizer }

// GoString returns a fixed text without the key (for %#v).
func (Pseudonymizer) GoString() string { return redactedPseudonymizer }

// Format writes a fixed text without the key for every verb (%v, %x, %d,
// ...), so no verb can print the key bytes.
func (Pseudonymizer) Format(f fmt.State, _ rune) { io.WriteString(f, redactedPseudonymizer) }

// LogValue makes log/slog print a fixed text without the key.
func (Pseudonymizer) LogValue() slog.Value { return slog.StringValue(redactedPseudonymizer) }

// NewPseudonymizer returns a pseudonymizer keyed with a copy of key, which
// must be at least [MinKeySize] bytes of secret randomness (32 advised).
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("%w: pseudonymization key has %d bytes, need at least %d", ErrKey, len(key), MinKeySize)
	}
	k := append([]byte(nil), key...)
	return &Pseudonymizer{columnKey: func(column string) []byte {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(pseudonymDomain))
		m.Write([]byte{0})
		m.Write([]byte(column))
		return m.Sum(nil)
	}}, nil
}

// Pseudonym returns the pseudonym of value in column: the first 128 bits
// of HMAC-SHA256(K_col, value), in hex (32 characters).
func (p *Pseudonymizer) Pseudonym(column, value string) string {
	k := p.columnKey(column)
	defer clear(k)
	return pseudonym(k, value)
}

func pseudonym(k []byte, value string) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// PseudonymizeColumn returns a copy of t whose column holds pseudonyms. Only
// the dictionary is transformed, so the cost is one HMAC per distinct
// value. A nil t is an error wrapping [ErrInput]; p must not be nil.
func (p *Pseudonymizer) PseudonymizeColumn(t *Table, column string) (*Table, error) {
	k := p.columnKey(column)
	defer clear(k)
	return t.MapColumn(column, func(v string) (string, error) { return pseudonym(k, v), nil })
}

// EncryptColumn returns a copy of t whose column is encrypted with FF1
// (NIST SP 800-38G) under the cipher c, with the column name appended to
// tweak so equal values in different columns encrypt differently. Every
// value must be a string over the cipher's alphabet of at least
// c.MinLen() symbols. A nil t or c is an error wrapping [ErrInput].
func EncryptColumn(t *Table, column string, c *ff1.Cipher, tweak []byte) (*Table, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil FF1 cipher", ErrInput)
	}
	tw := append(append(append([]byte(nil), tweak...), 0), column...)
	return t.MapColumn(column, func(v string) (string, error) {
		out, err := c.Encrypt(v, tw)
		if err != nil {
			return "", fmt.Errorf("%w: column %q: %w", ErrInput, column, err)
		}
		return out, nil
	})
}

// Mask keeps the first keepPrefix and last keepSuffix characters of s and
// replaces the others by mask ('*' when zero): Mask("4111111111111111", 0,
// 4, 0) is "************1111".
func Mask(s string, keepPrefix, keepSuffix int, mask rune) string {
	if mask == 0 {
		mask = '*'
	}
	r := []rune(s)
	keepPrefix = min(max(keepPrefix, 0), len(r))
	keepSuffix = min(max(keepSuffix, 0), len(r)-keepPrefix)
	var sb strings.Builder
	sb.WriteString(string(r[:keepPrefix]))
	sb.WriteString(strings.Repeat(string(mask), len(r)-keepPrefix-keepSuffix))
	sb.WriteString(string(r[len(r)-keepSuffix:]))
	return sb.String()
}

// Redacted is the value [Table.Redact] writes.
const Redacted = "[REDACTED]"

// Redact returns a copy of t whose column holds [Redacted] in every row.
func (t *Table) Redact(column string) (*Table, error) {
	return t.MapColumn(column, func(string) (string, error) { return Redacted, nil })
}

// MapColumn returns a copy of t in which every value v of column is
// replaced by f(v). f is called once per distinct value; values that map to
// the same result share a code. Other columns are shared with t. A nil t
// or f is an error wrapping [ErrInput].
func (t *Table) MapColumn(column string, f func(string) (string, error)) (*Table, error) {
	if t == nil || f == nil {
		return nil, fmt.Errorf("%w: nil table or function", ErrInput)
	}
	j := t.Index(column)
	if j < 0 {
		_, err := t.Column(column)
		return nil, err
	}
	old := t.cols[j]
	nc := &Column{Name: old.Name, index: map[string]int32{}, Codes: make([]int32, len(old.Codes))}
	remap := make([]int32, len(old.Dict))
	for k, v := range old.Dict {
		w, err := f(v)
		if err != nil {
			return nil, err
		}
		remap[k] = nc.code(w)
	}
	for i, c := range old.Codes {
		nc.Codes[i] = remap[c]
	}
	out := &Table{cols: append([]*Column(nil), t.cols...), byName: t.byName, rows: t.rows, dropped: t.dropped}
	out.cols[j] = nc
	return out, nil
}
