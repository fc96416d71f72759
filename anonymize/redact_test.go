package anonymize

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/privml/privml/anonymize/ff1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyForms returns the renderings of key an accidental print could
// produce: raw bytes, hex, base64 (all variants), and the decimal and
// quoted forms fmt uses for byte slices.
func keyForms(key []byte) []string {
	dec := strings.Trim(fmt.Sprint(key), "[]")
	forms := []string{string(key), hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)),
		base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key),
		dec, fmt.Sprintf("%q", key), fmt.Sprintf("% x", key), fmt.Sprintf("%#v", key)}
	// A leading part is enough to leak: check the first half too.
	half := key[:len(key)/2]
	return append(forms, string(half), hex.EncodeToString(half), strings.Trim(fmt.Sprint(half), "[]"))
}

// printedForms prints v under every fmt verb and through log/slog's text
// and JSON handlers.
func printedForms(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "% x", "%T"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["Sprint"] = fmt.Sprint(v)
	out["Sprintln"] = fmt.Sprintln(v)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", v)
	out["slog text"] = buf.String()
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", v)
	out["slog json"] = buf.String()
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", slog.Group("g", slog.Any("v", v)))
	out["slog json group"] = buf.String()
	return out
}

func TestKeyHoldersNeverPrintTheKey(t *testing.T) {
	// A printable key, so that a raw print would show it verbatim.
	key := []byte("0123456789abcdefSECRET-KEY-BYTES")
	p, err := NewPseudonymizer(key)
	require.NoError(t, err)
	c, err := ff1.New(key, ff1.Digits)
	require.NoError(t, err)
	type holder struct {
		P  *Pseudonymizer
		V  Pseudonymizer
		C  *ff1.Cipher
		CV ff1.Cipher
	}
	type hidden struct {
		p *Pseudonymizer
		v Pseudonymizer
		c *ff1.Cipher
		w ff1.Cipher
	}
	values := map[string]any{
		"*Pseudonymizer":        p,
		"Pseudonymizer":         *p,
		"*ff1.Cipher":           c,
		"ff1.Cipher":            *c,
		"struct, exported":      holder{p, *p, c, *c},
		"*struct, exported":     &holder{p, *p, c, *c},
		"struct, unexported":    hidden{p, *p, c, *c},
		"[]*Pseudonymizer":      []*Pseudonymizer{p},
		"[]Pseudonymizer":       []Pseudonymizer{*p},
		"map of *Pseudonymizer": map[string]*Pseudonymizer{"k": p},
	}
	forms := keyForms(key)
	for name, v := range values {
		for how, s := range printedForms(t, v) {
			for _, f := range forms {
				assert.NotContains(t, s, f, "%s printed with %s: %s", name, how, s)
			}
		}
	}
	// The redacted texts say what the value is.
	assert.Equal(t, redactedPseudonymizer, fmt.Sprintf("%x", p))
	assert.Contains(t, fmt.Sprintf("%v", c), "radix: 10")
	// And the key still works.
	assert.Len(t, p.Pseudonym("c", "v"), 32)
}
