// Package he provides CKKS homomorphic-encryption primitives for private
// machine-learning inference, built on lattigo v6.
package he
