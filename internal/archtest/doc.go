// Package archtest holds a test that enforces the import rules of
// DESIGN.md: which privml packages may import which. It has no other code.
package archtest
