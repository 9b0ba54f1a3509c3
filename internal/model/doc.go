// Package model holds the model-based test of the supervisor: random
// sequences of child exits, API calls and clock advances, run both against
// a real supervisor and against a small pure model of OTP's rules (the
// restart matrix, the strategies, the intensity window and giving up), and
// compared step by step. The package has no API; see its tests and
// docs/reliability.md.
package model
