package anonymize

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"text/template"

	"github.com/privml/privml/anonymize/ff1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captureT records what a failing testify assertion prints (its diff uses
// go-spew with methods disabled, which walks unexported fields).
type captureT struct{ buf strings.Builder }

func (c *captureT) Errorf(format string, args ...any) { fmt.Fprintf(&c.buf, format, args...) }

// TestKeyHoldersRedactedBeyondFmt: embedding (by value and pointer),
// errors that wrap a print of the holder, recovered panics, reflect.Value,
// text/template, JSON, XML, gob and testify's failure diff print no key
// material.
func TestKeyHoldersRedactedBeyondFmt(t *testing.T) {
	key := []byte("0123456789abcdefSECRET-KEY-BYTES")
	p, err := NewPseudonymizer(key)
	require.NoError(t, err)
	c, err := ff1.New(key, ff1.Alphanumeric)
	require.NoError(t, err)
	type embedV struct {
		Pseudonymizer
		Name string
	}
	type embedP struct {
		*ff1.Cipher
		n int
	}
	type deep struct{ in struct{ p *Pseudonymizer } }
	var out []string
	for _, v := range []any{p, *p, c, *c, embedV{*p, "x"}, &embedV{*p, "y"}, embedP{c, 1}, deep{struct{ p *Pseudonymizer }{p}}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			out = append(out, fmt.Sprintf(verb, v), fmt.Sprintf(verb, reflect.ValueOf(v)))
		}
		e := fmt.Errorf("wrap: %w", fmt.Errorf("inner %v %+v", v, v))
		out = append(out, e.Error(), errors.Unwrap(e).Error())
		func() {
			defer func() { out = append(out, fmt.Sprint(recover())) }()
			panic(v)
		}()
		var sb strings.Builder
		require.NoError(t, template.Must(template.New("t").Parse("{{.}} {{printf \"%#v\" .}}")).Execute(&sb, v))
		out = append(out, sb.String())
		if b, err := json.Marshal(v); err == nil {
			out = append(out, string(b))
		}
		if b, err := xml.Marshal(v); err == nil {
			out = append(out, string(b))
		}
		var gb bytes.Buffer
		if err := gob.NewEncoder(&gb).Encode(v); err == nil {
			out = append(out, gb.String())
		} else {
			out = append(out, err.Error())
		}
		ct := &captureT{}
		assert.Equal(ct, v, 1)
		out = append(out, ct.buf.String())
	}
	// Two pseudonymizers with different keys: a failing equality shows the
	// diff of their internals.
	q, _ := NewPseudonymizer(bytes.Repeat([]byte("k"), 32))
	ct := &captureT{}
	assert.Equal(ct, p, q)
	out = append(out, ct.buf.String())
	forms := keyForms(key)
	for _, s := range out {
		for _, f := range forms {
			require.NotContains(t, s, f, "printed: %s", s)
		}
	}
}
