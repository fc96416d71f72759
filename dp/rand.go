package dp

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"sync"
)

// config collects the options of the constructors in this package.
type config struct {
	testSeed    uint64
	hasTestSeed bool
}

// Option configures a [Sampler] or a mechanism.
type Option func(*config)

// WithSeedForTesting makes every draw of the sampler or mechanism a
// deterministic function of seed, for reproducible tests and examples.
//
// It destroys privacy: anyone who knows or guesses the seed can subtract the
// noise. Never use it in production. A seeded sampler serialises its callers
// behind a mutex so that the output sequence is reproducible.
func WithSeedForTesting(seed uint64) Option {
	return func(c *config) { c.testSeed, c.hasTestSeed = seed, true }
}

// source hands out ChaCha8 streams. By default each stream is keyed with 32
// bytes from crypto/rand and streams are recycled through a sync.Pool, which
// keeps them per-P (per processor) without a global lock: concurrent callers
// draw from independent streams. With a testing seed there is one stream
// guarded by a mutex.
type source struct {
	pool sync.Pool

	mu    sync.Mutex
	fixed *rand.ChaCha8
}

func newSource(c config) *source {
	s := &source{}
	if c.hasTestSeed {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], c.testSeed)
		copy(key[8:], "privml dp testing seed, insecure")
		s.fixed = rand.NewChaCha8(key)
		return s
	}
	s.pool.New = func() any {
		var key [32]byte
		// crypto/rand.Read never returns an error (Go 1.24+): it crashes
		// the program if the kernel cannot supply randomness.
		_, _ = crand.Read(key[:])
		r := rand.NewChaCha8(key)
		clear(key[:])
		return r
	}
	return s
}

// get returns a stream for the exclusive use of the caller until put.
func (s *source) get() *rand.ChaCha8 {
	if s.fixed != nil {
		s.mu.Lock()
		return s.fixed
	}
	return s.pool.Get().(*rand.ChaCha8)
}

func (s *source) put(r *rand.ChaCha8) {
	if s.fixed != nil {
		s.mu.Unlock()
		return
	}
	s.pool.Put(r)
}

// uniformBelow returns a uniform integer in [0, n) for n > 0, exactly, by
// rejection on the top bits (Lemire's method would be faster but this is
// not on a hot path).
func uniformBelow(r *rand.ChaCha8, n uint64) uint64 {
	if n&(n-1) == 0 {
		return r.Uint64() & (n - 1)
	}
	// limit is the largest multiple of n that fits in 2^64.
	limit := -(-n % n) // (2^64 - (2^64 mod n)) mod 2^64; 0 means 2^64.
	for {
		v := r.Uint64()
		if limit == 0 || v < limit {
			return v % n
		}
	}
}
