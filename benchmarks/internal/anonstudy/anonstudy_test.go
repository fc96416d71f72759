package anonstudy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodeGeneralizedValues: a numeric range maps to its midpoint, an
// ordinal range to the uniform mixture of the one-hot codes it covers, a
// plain value to its one-hot code.
func TestEncodeGeneralizedValues(t *testing.T) {
	train := []Row{
		{QI: []string{"30", "Private", "9", "Married", "Sales", "White", "Male", "US"}},
		{QI: []string{"40", "State-gov", "13", "Single", "Tech", "Black", "Female", "India"}},
		{QI: []string{"50", "Self-emp", "10", "Married", "Craft", "White", "Male", "US"}},
	}
	e := newEncoder(train)
	// 2 numeric + 3 workclass + 2 marital + 3 occupation + 2 race + 2 sex + 2 country.
	require.Equal(t, 16, e.width)
	x, err := e.encode([]string{"[30..40]", "[Private..Self-emp]", "13", "Single", "Tech", "[White..Black]", "Male", "US"})
	require.NoError(t, err)
	assert.Equal(t, 35.0, x[e.offset[0]])
	for i := range 3 {
		assert.InDelta(t, 1.0/3, x[e.offset[1]+i], 1e-12)
	}
	assert.Equal(t, 13.0, x[e.offset[2]])
	assert.Equal(t, []float64{0, 1}, x[e.offset[3]:e.offset[3]+2])
	assert.Equal(t, []float64{0.5, 0.5}, x[e.offset[5]:e.offset[5]+2])

	// A test value never seen in training encodes as zeros, not an error.
	x, err = e.encode([]string{"20", "Never-worked", "9", "Married", "Sales", "White", "Male", "US"})
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 0, 0}, x[e.offset[1]:e.offset[1]+3])

	_, err = e.encode([]string{"[30..x]", "Private", "9", "Married", "Sales", "White", "Male", "US"})
	assert.ErrorContains(t, err, "QI age")
	_, err = e.encode([]string{"30", "[Private..Nowhere]", "9", "Married", "Sales", "White", "Male", "US"})
	assert.ErrorContains(t, err, "QI workclass")
}

// TestAnonymizedTrainingMeetsK: on the embedded rows, every variant's
// output is verified and the original table's accuracy is above the
// majority class.
func TestAnonymizedTrainingMeetsK(t *testing.T) {
	rows, err := loadRows("", true)
	require.NoError(t, err)
	train, test := split(rows, 1)
	e := newEncoder(train)
	for _, v := range variants {
		gen, rep, _, err := anonymizeTrain(train, e.spec(5, v), 0)
		require.NoError(t, err, v.Name)
		assert.GreaterOrEqual(t, rep.KMin, 5, v.Name)
		assert.Len(t, gen, len(train))
	}
	qi := make([][]string, len(train))
	for i, r := range train {
		qi[i] = r.QI
	}
	acc, err := accuracy(e, qi, labels(train), test, 1)
	require.NoError(t, err)
	var pos int
	for _, y := range labels(test) {
		pos += y
	}
	majority := max(float64(pos), float64(len(test)-pos)) / float64(len(test))
	assert.Greater(t, acc, majority)
}
