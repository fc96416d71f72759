// Package dp provides differential-privacy noise mechanisms, calibration,
// clipping and privacy budgets.
package dp
