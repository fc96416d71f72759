// Package anonymize provides k-anonymity, l-diversity and t-closeness,
// information-loss and risk metrics, and pseudonymization.
package anonymize
