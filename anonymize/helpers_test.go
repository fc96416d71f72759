package anonymize

// cell returns the value at row i, column j of tb; the callers know the
// cell exists, so an error is a bug of the test.
func cell(tb *Table, i, j int) string {
	v, err := tb.Value(i, j)
	if err != nil {
		panic(err)
	}
	return v
}

// colCell returns the value of row i of c (see cell).
func colCell(c *Column, i int) string {
	v, err := c.Value(i)
	if err != nil {
		panic(err)
	}
	return v
}
