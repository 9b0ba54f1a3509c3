package soak_test

import (
	"context"
	"flag"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/arborgo/arbor/internal/soak"
)

var (
	duration = flag.Duration("soak.duration", 0, "run the chaos soak for this long (0: only the smoke test)")
	seed     = flag.Uint64("soak.seed", 0, "the soak's seed (0: from the time); a failure prints it")
	full     = flag.Bool("soak.full", false, "the full tree (about 1,000 workers, a pool of 10,000) instead of the short one")
	strict   = flag.Bool("soak.strict", true, "count the once-known core bugs (fixed since) as violations; -soak.strict=false only counts them")
	report   = flag.String("soak.report", "", "write the report to this file")
)

func pickSeed(t *testing.T) uint64 {
	s := *seed
	if env := os.Getenv("ARBOR_SOAK_SEED"); s == 0 && env != "" {
		v, err := strconv.ParseUint(env, 10, 64)
		if err != nil {
			t.Fatalf("ARBOR_SOAK_SEED: %v", err)
		}
		s = v
	}
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	return s
}

// TestSoak is the chaos soak: -soak.duration=45s (make soak-short) or
// -soak.full -soak.duration=10m (make soak). -soak.seed replays a workload.
func TestSoak(t *testing.T) {
	if *duration == 0 {
		t.Skip("the soak runs with -soak.duration (make soak, make soak-short)")
	}
	s := pickSeed(t)
	cfg := soak.Short(s, *duration)
	if *full {
		cfg = soak.Full(s, *duration)
	}
	cfg.Logf = t.Logf
	cfg.Strict = *strict
	t.Logf("soak seed %d (replay: -soak.seed=%d)", s, s)
	rep, err := soak.Run(context.Background(), cfg)
	t.Log("\n" + rep.String())
	if *report != "" {
		if werr := os.WriteFile(*report, []byte(rep.String()), 0o644); werr != nil {
			t.Error(werr)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestSoakSmoke runs one short round of a small tree, so that make test
// exercises the soak's code and checks.
func TestSoakSmoke(t *testing.T) {
	s := pickSeed(t)
	cfg := soak.Short(s, 0)
	cfg.L1, cfg.L2, cfg.Workers, cfg.PoolMax, cfg.Callers = 2, 2, 4, 50, 2
	cfg.Round = 2 * time.Second
	rep, err := soak.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, rep)
	}
}
