package secagg

// SetParallelSizes sets, for the tests of package secagg_test, the piece
// size, mask batch and smallest range of the server's parallel steps, and
// returns the function that restores them.
func SetParallelSizes(piece, batch, rng int) (restore func()) {
	p, b, r := pieceBytes, maskBatch, minRange
	pieceBytes, maskBatch, minRange = piece, batch, rng
	return func() { pieceBytes, maskBatch, minRange = p, b, r }
}
