package model_test

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

// defaultChecks is how many random sequences TestModel runs when
// -rapid.checks is not given: rapid's default of 100 is too few for the
// state space, and 1,000 take about a second under -race.
const defaultChecks = "1000"

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set {
		if err := flag.Set("rapid.checks", defaultChecks); err != nil {
			panic(err)
		}
	}
	goleak.VerifyTestMain(m)
}
