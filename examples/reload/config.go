package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
	"github.com/arborgo/arbor/supervisor"
)

// File is the configuration file: the flags and children of the "app"
// supervisor. Unknown fields are an error, so a typo is not ignored.
//
//	{
//	  "strategy": "one_for_one",
//	  "max_restarts": 3, "period": "10s",
//	  "children": [
//	    {"id": "hello", "message": "hello", "every": "2s", "restart": "permanent", "shutdown": "1s"}
//	  ]
//	}
type File struct {
	Strategy    strategy.Strategy `json:"strategy"`     // default one_for_one
	MaxRestarts *int              `json:"max_restarts"` // default 1, as OTP
	Period      Duration          `json:"period"`       // default 5s, as OTP
	Children    []Entry           `json:"children"`
}

// Entry is one child of the file: a Greeter.
type Entry struct {
	ID       string        `json:"id"`
	Message  string        `json:"message"`
	Every    Duration      `json:"every"`
	Restart  child.Restart `json:"restart"`  // default permanent
	Shutdown Duration      `json:"shutdown"` // default child.DefaultShutdown
}

// Duration is a time.Duration written as "1.5s" in the file.
type Duration time.Duration

// UnmarshalText parses a duration such as "1.5s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// parse reads a file into the configuration of the app supervisor. It checks
// only what the file format says; the checks every configuration gets
// (duplicate IDs, budgets) are Apply's, which rejects a bad one whole.
func parse(data []byte, log *zap.Logger) (supervisor.Config, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return supervisor.Config{}, fmt.Errorf("config: %w", err)
	}
	if dec.More() {
		return supervisor.Config{}, errors.New("config: text after the JSON object")
	}
	cfg := supervisor.Config{Flags: supervisor.Flags{
		Strategy:  f.Strategy,
		Intensity: escalation.Intensity{MaxRestarts: 1, Period: 5 * time.Second},
	}}
	if f.MaxRestarts != nil {
		cfg.Intensity.MaxRestarts = *f.MaxRestarts
	}
	if f.Period != 0 {
		cfg.Intensity.Period = time.Duration(f.Period)
	}
	for i, e := range f.Children {
		if e.Every <= 0 {
			return supervisor.Config{}, fmt.Errorf("config: children[%d] (%q): every must be positive", i, e.ID)
		}
		cfg.Children = append(cfg.Children, child.Spec{
			ID:         e.ID,
			Service:    Greeter{Message: e.Message, Every: time.Duration(e.Every), Log: log},
			Restart:    e.Restart,
			Shutdown:   time.Duration(e.Shutdown),
			AwaitReady: true,
		})
	}
	return cfg, nil
}

// Greeter logs its message at every tick. It is a comparable value, so
// Apply leaves a greeter whose entry did not change running as it was.
type Greeter struct {
	Message string
	Every   time.Duration
	Log     *zap.Logger
}

// Serve reports ready at once, then greets until it is stopped.
func (g Greeter) Serve(ctx context.Context) error {
	child.Ready(ctx)
	t := time.NewTicker(g.Every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			g.Log.Info(g.Message, zap.String("child", child.Path(ctx)))
		case <-ctx.Done():
			return nil
		}
	}
}
