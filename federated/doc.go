// Package federated provides federated-learning rounds: fixed-point codecs,
// aggregation strategies and client-level differential privacy.
package federated
