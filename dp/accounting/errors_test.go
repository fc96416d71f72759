package accounting

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOrderErrorNamesPosition: a bad order is named by its position in
// RDPConfig.Orders and its value, so the index cannot be read as an order.
func TestOrderErrorNamesPosition(t *testing.T) {
	_, err := NewRDPAccountant(RDPConfig{Orders: []float64{2, 0.5}})
	require.ErrorIs(t, err, ErrInvalidParameter)
	assert.Contains(t, err.Error(), "RDPConfig.Orders[1]")
	assert.Contains(t, err.Error(), "= 0.5")
	assert.NotContains(t, err.Error(), "order 1 =")
}

// TestGridSizeError: an oversized PLD grid is a *GridSizeError that wraps
// ErrUnsupportedEvent and names the field and the interval.
func TestGridSizeError(t *testing.T) {
	_, err := PoissonGaussianEpsilonPLD(0.5, 1, 50, 1e-5, PLDConfig{Interval: 1e-7})
	require.ErrorIs(t, err, ErrUnsupportedEvent)
	var g *GridSizeError
	require.True(t, errors.As(err, &g))
	assert.Equal(t, 1e-7, g.Interval)
	assert.Greater(t, g.Points, float64(g.Limit))
	assert.Contains(t, err.Error(), "PLDConfig.Interval = 1e-07")
}
