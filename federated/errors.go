package federated

import "errors"

// Sentinel errors; every error of the package wraps one of them.
var (
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("federated: invalid configuration")
	// ErrClient reports a client whose update is unusable (wrong length,
	// NaN or infinite values, negative weight) or whose training failed.
	ErrClient = errors.New("federated: bad client update")
	// ErrTooFewReports reports a round in which fewer clients than
	// Config.MinReports delivered an update: the model is left unchanged.
	ErrTooFewReports = errors.New("federated: too few reports")
	// ErrSecAgg reports a secure-aggregation session that failed.
	ErrSecAgg = errors.New("federated: secure aggregation failed")
)
