package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdultEmbeddedCounts(t *testing.T) {
	all, err := AdultEmbedded(AdultOptions{})
	require.NoError(t, err)
	assert.Len(t, all, 32561, "UCI adult.data has 32,561 rows")
	clean, err := AdultEmbedded(AdultOptions{DropMissing: true})
	require.NoError(t, err)
	require.Len(t, clean, 30162, "30,162 rows have no missing value")

	d, err := AdultNumeric(clean)
	require.NoError(t, err)
	require.NoError(t, d.Validate())
	counts := d.ClassCounts()
	// Published class balance of the clean rows: 22,654 <=50K, 7,508 >50K.
	assert.Equal(t, []int{22654, 7508}, counts)
	// 5 numeric columns + one indicator per category value seen:
	// workclass 7, education 16, marital 7, occupation 14, relationship 6,
	// race 5, sex 2, native-country 41.
	assert.Equal(t, 5+7+16+7+14+6+5+2+41, d.Cols)
	// Each row has exactly one indicator set per categorical column.
	for i := range d.Rows {
		ones := 0.0
		for _, v := range d.Row(i)[5:] {
			ones += v
		}
		require.Equal(t, float64(len(adultCategorical)), ones, "row %d", i)
	}
	// The first row of adult.data: 39, State-gov, ..., Male, 2174, 0, 40, <=50K.
	r0 := d.Row(0)
	assert.Equal(t, 39.0, r0[0])
	assert.Equal(t, 13.0, r0[1])
	assert.InDelta(t, 7.684784, r0[2], 1e-6) // log1p(2174)
	assert.Equal(t, 0, d.Y[0])
}

func TestAdultEmbeddedBytes(t *testing.T) {
	sum := sha256.Sum256(adultDataGz)
	// The gzip of the published file; README.md gives the file's own sha256.
	assert.Equal(t, "d933e2f90f933c0bbe56dbe6fd36c1fbea7e665a1e976fc0c2bb7d524e985132", hex.EncodeToString(sum[:]))
}

func TestAdultNumericBadLabel(t *testing.T) {
	recs, err := AdultEmbedded(AdultOptions{DropMissing: true})
	require.NoError(t, err)
	recs = recs[:3]
	recs[2][AdultSalary] = "rich"
	_, err = AdultNumeric(recs)
	require.ErrorIs(t, err, ErrFormat)
	assert.Contains(t, err.Error(), "row 3")
	_, err = AdultNumeric(nil)
	require.ErrorIs(t, err, ErrFormat)
}
