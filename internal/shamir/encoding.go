package shamir

import (
	"encoding/binary"
	"fmt"
)

// shareVersion is the version byte of the share encoding.
const shareVersion = 1

// Encoding of a Share, version 1 (all integers big-endian):
//
//	offset 0  version byte, 1
//	offset 1  X, uint32, non-zero
//	offset 5  k, the number of Y elements, one byte, 1..MaxChunks
//	offset 6  Y[0..k-1], uint64 each, each < P
//
// The encoding is canonical: a byte string decodes only if it is exactly
// the encoding of the decoded share.

// BinarySize returns the length of the encoding of s.
func (s Share) BinarySize() int { return 6 + 8*len(s.Y) }

// AppendBinary appends the encoding of s to b. It returns ErrInvalidShare
// if s has X = 0, an element outside the field, or a Y of length outside
// 1..MaxChunks.
func (s Share) AppendBinary(b []byte) ([]byte, error) {
	if err := s.validate(); err != nil {
		return b, err
	}
	b = append(b, shareVersion)
	b = binary.BigEndian.AppendUint32(b, s.X)
	b = append(b, byte(len(s.Y)))
	for _, v := range s.Y {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b, nil
}

// MarshalBinary returns the encoding of s (see [Share.AppendBinary]).
func (s Share) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, s.BinarySize()))
}

// UnmarshalBinary decodes a share encoded by [Share.MarshalBinary],
// checking the version, the length and every field. On error s is left
// unchanged and the error wraps ErrMalformed.
func (s *Share) UnmarshalBinary(data []byte) error {
	if len(data) < 6 {
		return fmt.Errorf("%w: %d bytes, need at least 6", ErrMalformed, len(data))
	}
	if data[0] != shareVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrMalformed, data[0], shareVersion)
	}
	x := binary.BigEndian.Uint32(data[1:])
	if x == 0 {
		return fmt.Errorf("%w: X = 0", ErrMalformed)
	}
	k := int(data[5])
	if k < 1 || k > MaxChunks {
		return fmt.Errorf("%w: %d elements, want 1 to %d", ErrMalformed, k, MaxChunks)
	}
	if len(data) != 6+8*k {
		return fmt.Errorf("%w: %d bytes for %d elements, want %d", ErrMalformed, len(data), k, 6+8*k)
	}
	y := make([]uint64, k)
	for c := range y {
		v := binary.BigEndian.Uint64(data[6+8*c:])
		if v >= P {
			return fmt.Errorf("%w: element %d is outside the field", ErrMalformed, c)
		}
		y[c] = v
	}
	s.X, s.Y = x, y
	return nil
}

func (s Share) validate() error {
	if s.X == 0 {
		return fmt.Errorf("%w: X = 0", ErrInvalidShare)
	}
	if len(s.Y) < 1 || len(s.Y) > MaxChunks {
		return fmt.Errorf("%w: %d elements, want 1 to %d", ErrInvalidShare, len(s.Y), MaxChunks)
	}
	for c, v := range s.Y {
		if v >= P {
			return fmt.Errorf("%w: element %d is outside the field", ErrInvalidShare, c)
		}
	}
	return nil
}
