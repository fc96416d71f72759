// Package ff1 implements the FF1 format-preserving encryption mode of
// NIST SP 800-38G (Dworkin 2016, including Revision 1's domain-size
// requirement) with AES as the block cipher: it encrypts a string of
// numerals in base radix to another string of the same length and
// alphabet, under a key and a public tweak.
//
// # Domain size
//
// FF1 is only as strong as its domain is large. Following SP 800-38G Rev. 1,
// a [Cipher] refuses inputs whose domain radix^n is below one million, so
// radix 10 needs at least 6 digits and radix 36 at least 4 characters.
//
// # What is not here
//
// FF3 and FF3-1 are not implemented: FF3 was withdrawn after practical
// attacks (Durak and Vaudenay 2017; Beyne 2021) and NIST has proposed
// withdrawing FF3-1 as well.
//
// # Threat model
//
// FF1 is a deterministic cipher: equal plaintexts under equal tweaks give
// equal ciphertexts, so it hides values but not their equality. Use a
// different tweak per column (or per context) to prevent linking across
// columns. The key must come from the caller and be kept secret; this
// package never stores it except inside the AES key schedule.
package ff1

import (
	"crypto/aes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
)

// Alphabets for the common radixes.
const (
	Digits       = "0123456789"
	Alphanumeric = "0123456789abcdefghijklmnopqrstuvwxyz"
)

// Sentinel errors.
var (
	// ErrKeySize reports a key that is not 16, 24 or 32 bytes.
	ErrKeySize = errors.New("ff1: key must be 16, 24 or 32 bytes")
	// ErrAlphabet reports an invalid alphabet, or input with a symbol
	// outside it.
	ErrAlphabet = errors.New("ff1: invalid alphabet or symbol")
	// ErrDomain reports an input whose domain radix^len is below 10^6, or
	// longer than 2^32 numerals.
	ErrDomain = errors.New("ff1: domain too small or input too long")
	// ErrTweak reports a tweak longer than MaxTweak bytes.
	ErrTweak = errors.New("ff1: tweak too long")
)

// MaxTweak is the longest tweak accepted, in bytes.
const MaxTweak = 1 << 16

// MinDomain is the smallest allowed domain size radix^n (SP 800-38G Rev. 1).
const MinDomain = 1_000_000

// Cipher is an FF1-AES cipher over one alphabet. It is safe for concurrent
// use. Its key schedule never prints: every fmt verb and log/slog show a
// fixed text with the radix only.
type Cipher struct {
	// encrypt is the AES block encryption, held as a function value so
	// that no reflective print of a Cipher (or of a struct holding one)
	// can reach the key schedule: fmt shows a function as an address.
	encrypt func(dst, src []byte)
	alpha   []rune
	index   map[rune]uint32
	radix   uint32
	minLen  int
}

// New returns an FF1 cipher with an AES key of 16, 24 or 32 bytes over
// the given alphabet (2 to 65536 distinct symbols; symbol i is numeral i).
func New(key []byte, alphabet string) (*Cipher, error) {
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("%w (got %d)", ErrKeySize, len(key))
	}
	alpha := []rune(alphabet)
	if len(alpha) < 2 || len(alpha) > 1<<16 {
		return nil, fmt.Errorf("%w: alphabet has %d symbols, need 2 to 65536", ErrAlphabet, len(alpha))
	}
	idx := make(map[rune]uint32, len(alpha))
	for i, r := range alpha {
		if _, dup := idx[r]; dup {
			return nil, fmt.Errorf("%w: symbol %q appears twice in the alphabet", ErrAlphabet, r)
		}
		idx[r] = uint32(i)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	c := &Cipher{encrypt: b.Encrypt, alpha: alpha, index: idx, radix: uint32(len(alpha))}
	dom := 1.0
	for dom < MinDomain {
		dom *= float64(c.radix)
		c.minLen++
	}
	return c, nil
}

// String returns a description without key material.
func (c Cipher) String() string {
	return "ff1.Cipher{radix: " + strconv.Itoa(int(c.radix)) + ", key: [REDACTED]}"
}

// GoString returns the same text as String (for %#v).
func (c Cipher) GoString() string { return c.String() }

// Format writes the text of String for every verb (%v, %x, %d, ...), so
// no verb can print the key schedule.
func (c Cipher) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// LogValue makes log/slog print the text of String.
func (c Cipher) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Radix returns the size of the alphabet.
func (c *Cipher) Radix() int { return int(c.radix) }

// MinLen returns the shortest input accepted.
func (c *Cipher) MinLen() int { return c.minLen }

// Encrypt encrypts s, a string over the alphabet, under tweak.
func (c *Cipher) Encrypt(s string, tweak []byte) (string, error) {
	return c.str(s, tweak, true)
}

// Decrypt inverts [Cipher.Encrypt].
func (c *Cipher) Decrypt(s string, tweak []byte) (string, error) {
	return c.str(s, tweak, false)
}

func (c *Cipher) str(s string, tweak []byte, enc bool) (string, error) {
	rs := []rune(s)
	x := make([]uint32, len(rs))
	for i, r := range rs {
		v, ok := c.index[r]
		if !ok {
			return "", fmt.Errorf("%w: position %d holds a symbol outside the alphabet", ErrAlphabet, i+1)
		}
		x[i] = v
	}
	y, err := c.numerals(x, tweak, enc)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, v := range y {
		sb.WriteRune(c.alpha[v])
	}
	return sb.String(), nil
}

// EncryptNumerals encrypts numerals (each below Radix()) into a new slice.
func (c *Cipher) EncryptNumerals(x []uint32, tweak []byte) ([]uint32, error) {
	return c.numerals(x, tweak, true)
}

// DecryptNumerals inverts [Cipher.EncryptNumerals].
func (c *Cipher) DecryptNumerals(x []uint32, tweak []byte) ([]uint32, error) {
	return c.numerals(x, tweak, false)
}

// numerals runs FF1.Encrypt (Algorithm 7) or FF1.Decrypt (Algorithm 8).
func (c *Cipher) numerals(x []uint32, tweak []byte, enc bool) ([]uint32, error) {
	n := len(x)
	if n < c.minLen || n < 2 || uint64(n) > 1<<32 {
		return nil, fmt.Errorf("%w: length %d, radix %d needs at least %d numerals", ErrDomain, n, c.radix, max(c.minLen, 2))
	}
	if len(tweak) > MaxTweak {
		return nil, fmt.Errorf("%w: %d bytes", ErrTweak, len(tweak))
	}
	for i, v := range x {
		if v >= c.radix {
			return nil, fmt.Errorf("%w: numeral %d at position %d is not below radix %d", ErrAlphabet, v, i+1, c.radix)
		}
	}
	radix := new(big.Int).SetUint64(uint64(c.radix))
	u := n / 2
	v := n - u
	A := append([]uint32(nil), x[:u]...)
	B := append([]uint32(nil), x[u:]...)
	// b = ⌈⌈v·log2(radix)⌉/8⌉; ⌈log2(radix^v)⌉ is the bit length of radix^v − 1.
	rv := new(big.Int).Exp(radix, big.NewInt(int64(v)), nil)
	ru := new(big.Int).Exp(radix, big.NewInt(int64(u)), nil)
	b := (new(big.Int).Sub(rv, big.NewInt(1)).BitLen() + 7) / 8
	d := 4*((b+3)/4) + 4
	t := len(tweak)
	P := [16]byte{1, 2, 1, byte(c.radix >> 16), byte(c.radix >> 8), byte(c.radix), 10, byte(u),
		byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(t >> 24), byte(t >> 16), byte(t >> 8), byte(t)}
	pad := ((-t-b-1)%16 + 16) % 16
	Q := make([]byte, t+pad+1+b)
	copy(Q, tweak)
	var R, blk [16]byte
	S := make([]byte, ((d+15)/16)*16)
	num, y, mod := new(big.Int), new(big.Int), new(big.Int)
	for step := 0; step < 10; step++ {
		i := step
		if !enc {
			i = 9 - step
		}
		Q[t+pad] = byte(i)
		// [NUM_radix(B)]^b for encryption, of A for decryption.
		src := B
		if !enc {
			src = A
		}
		numRadix(num, src, radix)
		nb := num.Bytes()
		clear(Q[t+pad+1:])
		copy(Q[len(Q)-len(nb):], nb)
		// R = PRF(P || Q): CBC-MAC with a zero IV.
		R = [16]byte{}
		c.encrypt(R[:], P[:])
		for off := 0; off < len(Q); off += 16 {
			for j := 0; j < 16; j++ {
				R[j] ^= Q[off+j]
			}
			c.encrypt(R[:], R[:])
		}
		copy(S, R[:])
		for j := 1; j*16 < d; j++ {
			blk = R
			blk[15] ^= byte(j)
			blk[14] ^= byte(j >> 8)
			blk[13] ^= byte(j >> 16)
			blk[12] ^= byte(j >> 24)
			c.encrypt(S[16*j:], blk[:])
		}
		y.SetBytes(S[:d])
		m, rm := u, ru
		if i%2 == 1 {
			m, rm = v, rv
		}
		if enc {
			numRadix(num, A, radix)
			num.Add(num, y)
		} else {
			numRadix(num, B, radix)
			num.Sub(num, y)
		}
		mod.Mod(num, rm)
		C := strRadix(mod, m, c.radix)
		if enc {
			A, B = B, C
		} else {
			B, A = A, C
		}
	}
	clear(S)
	clear(R[:])
	return append(A, B...), nil
}

// numRadix sets z to the number whose base-radix numerals are x, most
// significant first.
func numRadix(z *big.Int, x []uint32, radix *big.Int) {
	z.SetInt64(0)
	var t big.Int
	for _, v := range x {
		z.Mul(z, radix)
		z.Add(z, t.SetUint64(uint64(v)))
	}
}

// strRadix returns the m base-radix numerals of x, most significant first.
func strRadix(x *big.Int, m int, radix uint32) []uint32 {
	out := make([]uint32, m)
	q := new(big.Int).Set(x)
	r := new(big.Int)
	br := new(big.Int).SetUint64(uint64(radix))
	for i := m - 1; i >= 0; i-- {
		q.QuoRem(q, br, r)
		out[i] = uint32(r.Uint64())
	}
	return out
}
