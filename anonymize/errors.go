package anonymize

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them,
// so callers can branch with [errors.Is]; the message says what was wrong
// and where (file, line, column or value).
var (
	// ErrInput reports malformed input data: a ragged CSV row, a value that
	// is not a number in a numeric column, an empty table.
	ErrInput = errors.New("anonymize: invalid input")
	// ErrColumn reports a column name that the table does not have, or a
	// column given two roles.
	ErrColumn = errors.New("anonymize: unknown or conflicting column")
	// ErrHierarchy reports a malformed generalization hierarchy, or a value
	// of the data that the hierarchy does not cover.
	ErrHierarchy = errors.New("anonymize: invalid hierarchy")
	// ErrParameter reports an invalid privacy parameter (k < 2, k larger
	// than the table, l < 1, t outside [0,1], a suppression limit outside
	// [0,1]).
	ErrParameter = errors.New("anonymize: invalid parameter")
	// ErrUnsatisfiable reports a privacy model that no output of the chosen
	// algorithm can meet on this table (for example l larger than the
	// number of distinct sensitive values).
	ErrUnsatisfiable = errors.New("anonymize: privacy model cannot be satisfied")
	// ErrVerify reports an output table that does not meet the privacy
	// model, or that lost, altered or invented rows.
	ErrVerify = errors.New("anonymize: verification failed")
	// ErrDependent reports a column that would be released unchanged but
	// determines, or is determined by, a quasi-identifier (see
	// DependentColumns).
	ErrDependent = errors.New("anonymize: a column left unchanged reveals a quasi-identifier")
	// ErrIndex reports a row or column index outside the table.
	ErrIndex = errors.New("anonymize: index out of range")
	// ErrKey reports a missing or too short pseudonymization key.
	ErrKey = errors.New("anonymize: invalid key")
)
