package federated

// ServerOptimizer turns the aggregated client update of a round into the
// next global model. The aggregated update is the weighted mean of the
// clients' deltas, delta_i = w_i(local) - w(global), as produced by an
// [Aggregator] or decoded from a secure sum. Implementations keep their own
// state (momentum, second moments) between rounds; they are not safe for
// concurrent use.
type ServerOptimizer interface {
	// Step updates global in place from the aggregated delta. len(delta)
	// must equal len(global).
	Step(global, delta []float64) error
	// Name is the strategy's name as printed in reports ("fedavg",
	// "fedavgm", "fedadam", "fedyogi", "fedadagrad").
	Name() string
}

// Aggregator combines individual client updates that the server sees in
// the clear (plaintext mode, no secure aggregation) into one update.
// Robust aggregators ignore or bound the contribution of up to f
// Byzantine clients.
type Aggregator interface {
	// Aggregate writes the combined update into dst. updates[i] is client
	// i's delta and weights[i] its weight (for example its number of
	// examples); every update has len(dst) coordinates.
	Aggregate(dst []float64, updates [][]float64, weights []float64) error
	// Name is the aggregator's name as printed in reports.
	Name() string
}
