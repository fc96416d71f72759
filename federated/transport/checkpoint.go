package transport

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/privml/privml/internal/atomicfile"
)

// Checkpoint is what a server keeps across restarts: the last completed
// round, the start count (see ServerConfig.Epoch) and the application's
// state (the global model and the privacy accountant's state, encoded by
// the application), so that a restarted server resumes after the last
// completed round and epsilon never resets.
type Checkpoint struct {
	// Round is the last completed round (0 before the first).
	Round uint64
	// Epoch is the number of starts so far.
	Epoch uint32
	// State is the application's opaque state.
	State []byte
}

// Checkpoint file format, version 1, all integers big-endian:
//
//	offset 0    magic "privmlCP", 8 bytes
//	offset 8    version, uint16 (1)
//	offset 10   round, uint64
//	offset 18   epoch, uint32
//	offset 22   state length L, uint64
//	offset 30   state, L bytes
//	offset 30+L SHA-256 of bytes 0 to 30+L, 32 bytes
//
// The checksum catches a truncated or corrupted file (it is no
// authenticator: whoever can write the file can write a valid one).
const (
	checkpointMagic   = "privmlCP"
	checkpointVersion = 1
	checkpointHeader  = 30
	// MaxCheckpointState bounds the state a checkpoint may hold: 1 GiB.
	MaxCheckpointState = 1 << 30
)

// MarshalBinary encodes c with its checksum.
func (c *Checkpoint) MarshalBinary() ([]byte, error) {
	if len(c.State) > MaxCheckpointState {
		return nil, errorf(ErrCheckpoint, "state of %d bytes exceeds %d", len(c.State), MaxCheckpointState)
	}
	b := make([]byte, 0, checkpointHeader+len(c.State)+sha256.Size)
	b = append(b, checkpointMagic...)
	b = binary.BigEndian.AppendUint16(b, checkpointVersion)
	b = binary.BigEndian.AppendUint64(b, c.Round)
	b = binary.BigEndian.AppendUint32(b, c.Epoch)
	b = binary.BigEndian.AppendUint64(b, uint64(len(c.State)))
	b = append(b, c.State...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// UnmarshalBinary decodes a checkpoint, checking its magic, version,
// length and checksum. State is a copy.
func (c *Checkpoint) UnmarshalBinary(data []byte) error {
	if len(data) < checkpointHeader+sha256.Size {
		return errorf(ErrCheckpoint, "%d bytes, shorter than the %d-byte minimum", len(data), checkpointHeader+sha256.Size)
	}
	if string(data[:8]) != checkpointMagic {
		return errorf(ErrCheckpoint, "not a privml checkpoint (bad magic)")
	}
	if v := binary.BigEndian.Uint16(data[8:10]); v != checkpointVersion {
		return errorf(ErrCheckpoint, "version %d, want %d", v, checkpointVersion)
	}
	n := binary.BigEndian.Uint64(data[22:30])
	if n > MaxCheckpointState || n != uint64(len(data)-checkpointHeader-sha256.Size) {
		return errorf(ErrCheckpoint, "state length %d does not match the file's %d bytes (truncated or corrupted)", n, len(data))
	}
	body := data[:len(data)-sha256.Size]
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(sum[:], data[len(body):]) != 1 {
		return errorf(ErrCheckpoint, "checksum mismatch (corrupted)")
	}
	*c = Checkpoint{
		Round: binary.BigEndian.Uint64(data[10:18]),
		Epoch: binary.BigEndian.Uint32(data[18:22]),
		State: append([]byte(nil), data[checkpointHeader:len(body)]...),
	}
	return nil
}

// WriteCheckpoint writes c to path atomically (write-then-rename, mode
// 0600): after a crash the file holds the previous checkpoint or this
// one, never a mix.
func WriteCheckpoint(path string, c *Checkpoint) error {
	b, err := c.MarshalBinary()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	return nil
}

// ReadCheckpoint reads the checkpoint at path. A missing file returns
// (nil, nil): the federation starts afresh. Any other problem is an
// error wrapping [ErrCheckpoint] naming the file; a corrupted checkpoint
// is never silently replaced by a fresh start.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	var c Checkpoint
	if err := c.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}
