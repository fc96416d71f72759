// Package accounting provides privacy accountants (RDP, PLD, zCDP),
// composition, subsampling and inverse calibration.
package accounting
