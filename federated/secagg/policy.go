package secagg

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// ClientPolicy is what a client requires of a session, set from sources
// outside the server. A [Config] is whatever the server hands out: a
// malicious server could list identities of its own (so that every other
// "client" is a sybil), lower the threshold, choose the session seed, or
// shrink the sum. [NewClient] checks the Config against the policy and
// refuses with [ErrPolicy], before the client sends anything.
//
// In the malicious model Roster and SessionSeed are required (unless
// InsecureTrustServerConfig is set): they are the two inputs that decide
// whom the client's secrets are shared with.
type ClientPolicy struct {
	// Roster is the [RosterDigest] of the identities the client expects
	// (Config.Identities, in client-id order), learnt from the
	// application (an enrolment service, a signed manifest), not from the
	// server. Zero means unchecked.
	Roster [32]byte
	// SessionSeed is the seed the client expects, derived outside the
	// server: [BeaconSessionSeed] of a public randomness beacon value, or
	// the outcome of a commit-and-reveal among the clients. Nil means
	// unchecked.
	SessionSeed *[32]byte
	// Threat is the weakest threat model accepted: Malicious refuses a
	// semi-honest session. A policy with a Roster requires Malicious
	// whatever Threat says.
	Threat Threat
	// MinThreshold is the smallest Shamir threshold accepted.
	MinThreshold int
	// MinInputs is the smallest Config.MinInputs accepted: the client
	// never takes part in a sum of fewer inputs.
	MinInputs int
	// CorruptRate is the largest fraction of the clients that the client
	// assumes may collude with the server. Config.CorruptRate, Degree,
	// Threshold and MinInputs are the server's word: a server that
	// configures a CorruptRate below the true one (or a Threshold below
	// the secure minimum, with InsecureAllowLowThreshold) gets a threshold
	// its colluders can reach. In the malicious model the client
	// recomputes the secure minimum threshold ([MinThreshold]) and the
	// default MinInputs floor ([DefaultMinInputs]) of the session's n and
	// degree for the larger of CorruptRate and Config.CorruptRate, and
	// refuses a session below either, or a degree that no threshold makes
	// secure. Zero takes Config.CorruptRate as given, but still refuses a
	// threshold below its secure minimum.
	CorruptRate float64
	// InsecureTrustServerConfig accepts a malicious-model session without
	// Roster or SessionSeed, taking the server's word for both, and for a
	// threshold below the secure minimum. Roster and SessionSeed are still
	// checked when set. For tests and simulations only.
	InsecureTrustServerConfig bool
}

// RosterDigest is the SHA-256 digest of a list of identities, in client-id
// order, with a domain-separation prefix and the count: the value an
// application distributes so that clients can check Config.Identities.
func RosterDigest(ids []ed25519.PublicKey) [32]byte {
	h := sha256.New()
	h.Write([]byte("privml/secagg/v2/roster\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(ids)))
	h.Write(b[:])
	for _, pk := range ids {
		binary.BigEndian.PutUint64(b[:], uint64(len(pk)))
		h.Write(b[:])
		h.Write(pk)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// BeaconSessionSeed derives a session seed from a public randomness
// beacon value (for example a drand round fixed before the roster and the
// session were announced), bound to the roster and the Sequence, so that
// one beacon value serves one session of one population. Every client
// computes it itself and sets it as ClientPolicy.SessionSeed; the server
// cannot then choose the neighbour graph.
//
// Neither the beacon round nor the Sequence may be the server's free
// choice once the beacon value is public: a server that may name a past
// round, or pick any Sequence above the clients' last one against a value
// it already knows, draws one seed per choice offline and keeps the graph
// it likes. The application fixes the round from its own schedule (for
// example a function of the Sequence, for a round published after the
// session is announced) and the client derives both without the server.
func BeaconSessionSeed(beacon []byte, roster [32]byte, sequence uint64) [32]byte {
	h := sha256.New()
	h.Write([]byte("privml/secagg/v2/beacon-session-seed\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(beacon)))
	h.Write(b[:])
	h.Write(beacon)
	h.Write(roster[:])
	binary.BigEndian.PutUint64(b[:], sequence)
	h.Write(b[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// check refuses a session that violates the policy.
func (pol *ClientPolicy) check(p *Params, id int) error {
	const r = RoundAdvertise
	cfg := &p.cfg
	refuse := func(format string, args ...any) error {
		return errorf(ServerID, r, ErrPolicy, "client %d: "+format, append([]any{id}, args...)...)
	}
	if pol.Threat == Malicious && cfg.Threat != Malicious {
		return refuse("the session is %v, the client requires %v", cfg.Threat, pol.Threat)
	}
	// A roster only means something in the malicious model: a client
	// given one runs that model, whatever Policy.Threat says, so that a
	// server cannot switch off the signatures and the consistency round
	// by handing out the same session as semi-honest.
	if pol.Roster != ([32]byte{}) && cfg.Threat != Malicious {
		return refuse("the session is %v, but a client given a Roster requires %v", cfg.Threat, Malicious)
	}
	if cfg.Threat == Malicious && !pol.InsecureTrustServerConfig {
		if pol.Roster == ([32]byte{}) {
			return refuse("a malicious-model session needs ClientPolicy.Roster, the expected identities' digest from outside the server")
		}
		if pol.SessionSeed == nil {
			return refuse("a malicious-model session needs ClientPolicy.SessionSeed, derived outside the server (BeaconSessionSeed)")
		}
	}
	if pol.Roster != ([32]byte{}) {
		got := RosterDigest(cfg.Identities)
		if subtle.ConstantTimeCompare(got[:], pol.Roster[:]) != 1 {
			return refuse("Config.Identities (%d keys) do not match the expected roster", len(cfg.Identities))
		}
	}
	if pol.SessionSeed != nil && subtle.ConstantTimeCompare(pol.SessionSeed[:], cfg.SessionSeed[:]) != 1 {
		return refuse("Config.SessionSeed is not the expected one: the server may not choose the neighbour graph")
	}
	if err := pol.checkThreshold(p, refuse); err != nil {
		return err
	}
	if p.t < pol.MinThreshold {
		return refuse("threshold %d is below the policy's minimum %d", p.t, pol.MinThreshold)
	}
	if cfg.MinInputs < pol.MinInputs {
		return refuse("MinInputs=%d is below the policy's minimum %d", cfg.MinInputs, pol.MinInputs)
	}
	return nil
}

// checkThreshold refuses, in the malicious model (or whenever
// pol.CorruptRate is set), a session whose degree, threshold or MinInputs
// is not secure for the larger of the policy's and the session's corrupt
// rate: the server chooses Config, the client does not take its word for
// the rate.
func (pol *ClientPolicy) checkThreshold(p *Params, refuse func(string, ...any) error) error {
	cfg := &p.cfg
	if !(pol.CorruptRate > 0) && (cfg.Threat != Malicious || pol.InsecureTrustServerConfig) {
		return nil
	}
	if !(pol.CorruptRate >= 0 && pol.CorruptRate < 1) {
		return refuse("ClientPolicy.CorruptRate=%v, want [0, 1)", pol.CorruptRate)
	}
	rate := max(cfg.CorruptRate, pol.CorruptRate)
	minT, err := MinThreshold(p.n, p.k, cfg.DropoutRate, rate, cfg.Threat)
	if err != nil {
		return refuse("degree %d on %d clients is not secure at corrupt rate %g: %v", p.k, p.n, rate, err)
	}
	if p.t < minT {
		return refuse("threshold %d is below the secure minimum %d for n=%d, k=%d, corrupt rate %g, %v server",
			p.t, minT, p.n, p.k, rate, cfg.Threat)
	}
	if floor := DefaultMinInputs(p.n, minT, cfg.DropoutRate, rate); cfg.MinInputs < floor {
		return refuse("MinInputs=%d is below the floor %d for corrupt rate %g", cfg.MinInputs, floor, rate)
	}
	return nil
}

// SequenceStore remembers the Sequence of the last session a client took
// part in, so that it never takes part twice in sessions with the same
// configuration digest (see Config.Sequence). It must survive restarts:
// [FileSequenceStore] keeps it in a file.
type SequenceStore interface {
	// Advance records seq if it is above the recorded one (any seq when
	// none is), atomically, and otherwise returns an error wrapping
	// [ErrReplay] and records nothing.
	Advance(seq uint64) error
}

// MemorySequenceStore is a [SequenceStore] held in memory: it protects a
// process that runs many sessions, but forgets across restarts. It is safe
// for concurrent use.
type MemorySequenceStore struct {
	mu   sync.Mutex
	set  bool
	last uint64
}

// Advance implements [SequenceStore].
func (m *MemorySequenceStore) Advance(seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set && seq <= m.last {
		return fmt.Errorf("%w: session sequence %d is not above the last one taken part in, %d", ErrReplay, seq, m.last)
	}
	m.set, m.last = true, seq
	return nil
}

// FileSequenceStore is a [SequenceStore] kept in the file at Path: one
// line "privml-secagg-sequence <decimal>". A missing file means no session
// yet; a file in any other form is an error (never read as zero). Advance
// writes a temporary file in the same directory, syncs it and renames it
// over Path, so that a crash leaves the old or the new value, never a
// mix. Advance calls of one process are serialised (two clients that
// share the file cannot both pass the check with one Sequence); it is not
// safe for concurrent use by several processes.
type FileSequenceStore struct {
	Path string
}

// fileSequenceMu serialises FileSequenceStore.Advance within the process:
// the read, check and rename must not interleave.
var fileSequenceMu sync.Mutex

const seqFilePrefix = "privml-secagg-sequence "

// Last returns the recorded sequence, and false when there is none.
func (f FileSequenceStore) Last() (uint64, bool, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("%w: sequence file %s: %w", ErrConfig, f.Path, err)
	}
	rest, ok := bytes.CutPrefix(b, []byte(seqFilePrefix))
	rest, nl := bytes.CutSuffix(rest, []byte("\n"))
	v, perr := strconv.ParseUint(string(rest), 10, 64)
	if !ok || !nl || perr != nil || strconv.FormatUint(v, 10) != string(rest) {
		return 0, false, fmt.Errorf("%w: sequence file %s is corrupt (want one line %q followed by a decimal number)", ErrConfig, f.Path, seqFilePrefix)
	}
	return v, true, nil
}

// Advance implements [SequenceStore].
func (f FileSequenceStore) Advance(seq uint64) error {
	fileSequenceMu.Lock()
	defer fileSequenceMu.Unlock()
	last, ok, err := f.Last()
	if err != nil {
		return err
	}
	if ok && seq <= last {
		return fmt.Errorf("%w: session sequence %d is not above %d, recorded in %s", ErrReplay, seq, last, f.Path)
	}
	dir, base := filepath.Split(f.Path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp*")
	if err != nil {
		return fmt.Errorf("%w: cannot write sequence file %s: %w", ErrConfig, f.Path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	_, werr := tmp.WriteString(seqFilePrefix + strconv.FormatUint(seq, 10) + "\n")
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("%w: cannot write sequence file %s: %w", ErrConfig, f.Path, err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("%w: cannot replace sequence file %s: %w", ErrConfig, f.Path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	return nil
}

// Commit-and-reveal session seeds. Without a beacon, the clients can draw
// the seed themselves: each draws a random 32-byte contribution and
// publishes SeedCommitment of it (through the server, which relays); once
// a client holds the commitments of every client of the roster, it
// reveals its contribution; once it holds every reveal, it computes
// CommitRevealSessionSeed and sets it as ClientPolicy.SessionSeed. The
// seed is uniform as long as one contribution is: the commitments bind
// the corrupt clients before they see an honest contribution. Clients
// shown different commitments or reveals compute different seeds, hence
// different configuration digests, and the session fails for them rather
// than running with a graph the server chose. A server (or the last
// revealer) can still abort after seeing the reveals and start over (the
// clients' SequenceStore advances only when a client joins a session, so
// the same Sequence serves again): each abort buys one fresh uniform
// seed, so the 2^-40 bound becomes about A*2^-40 after A aborted draws,
// and an application should bound the aborts it tolerates. The
// commitments need no signature as long as each client puts its own
// commitment and contribution in its slot, not the relayed ones: clients
// shown different commitments derive different seeds.

// SeedCommitment is client's commitment to its contribution to the seed
// of the session with the given roster and Sequence.
func SeedCommitment(roster [32]byte, sequence uint64, client int, contribution *[32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("privml/secagg/v2/seed-commitment\x00"))
	h.Write(roster[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], sequence)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(client))
	h.Write(b[:])
	h.Write(contribution[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// CommitRevealSessionSeed checks that contributions[i] opens
// commitments[i] for every client i of the roster (one entry per client,
// none missing) and returns the session seed: the SHA-256 of the roster,
// the Sequence and every contribution in client-id order. It fails with
// [ErrPolicy] naming the first client whose reveal does not match.
func CommitRevealSessionSeed(roster [32]byte, sequence uint64, commitments, contributions [][32]byte) ([32]byte, error) {
	if len(commitments) != len(contributions) || len(commitments) == 0 {
		return [32]byte{}, fmt.Errorf("%w: %d commitments and %d contributions to the session seed, want one of each per client",
			ErrPolicy, len(commitments), len(contributions))
	}
	h := sha256.New()
	h.Write([]byte("privml/secagg/v2/commit-reveal-session-seed\x00"))
	h.Write(roster[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], sequence)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(len(contributions)))
	h.Write(b[:])
	for i := range contributions {
		c := SeedCommitment(roster, sequence, i, &contributions[i])
		if subtle.ConstantTimeCompare(c[:], commitments[i][:]) != 1 {
			return [32]byte{}, fmt.Errorf("%w: the seed contribution of client %d does not open its commitment", ErrPolicy, i)
		}
		h.Write(contributions[i][:])
	}
	var d [32]byte
	h.Sum(d[:0])
	return d, nil
}
