// Package secagg implements secure aggregation (SecAgg and SecAgg+) as pure
// state machines with no I/O.
package secagg
