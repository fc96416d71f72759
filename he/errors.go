package he

import "errors"

// Sentinel errors. Every error returned by this package that stems from one
// of these conditions wraps the matching sentinel, so callers can test with
// [errors.Is].
var (
	// ErrInsecureParameters reports parameters below 128-bit security that
	// were not explicitly requested through an insecure option.
	ErrInsecureParameters = errors.New("he: insecure parameters")
	// ErrDepth reports a model whose multiplicative depth exceeds what any
	// preset (or the chosen parameters) can evaluate without bootstrapping.
	ErrDepth = errors.New("he: insufficient multiplicative depth")
	// ErrModel reports a malformed model: bad shapes, non-finite weights,
	// unknown activations.
	ErrModel = errors.New("he: invalid model")
	// ErrMalformed reports bytes that do not decode: a bad header, version,
	// length or inconsistent content.
	ErrMalformed = errors.New("he: malformed encoding")
	// ErrTooLarge reports an encoded object above the decoder's size limits.
	ErrTooLarge = errors.New("he: encoding exceeds size limit")
	// ErrMismatch reports objects that do not belong together: a ciphertext
	// or key set made for other parameters or another compiled model.
	ErrMismatch = errors.New("he: parameters or layout mismatch")
	// ErrInput reports plaintext input of the wrong shape or non-finite
	// values.
	ErrInput = errors.New("he: invalid input")
	// ErrMissingKey reports an evaluation key the compiled model needs but
	// the key set does not hold.
	ErrMissingKey = errors.New("he: missing evaluation key")
	// ErrPrecision reports a noise-flooded decryption that would leave
	// fewer bits of precision than required, or overflow the modulus.
	ErrPrecision = errors.New("he: flooding leaves too little precision")
	// ErrRange reports an input outside the interval the plan was
	// calibrated for.
	ErrRange = errors.New("he: input outside the calibrated range")
)
