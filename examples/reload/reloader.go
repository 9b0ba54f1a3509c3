package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/supervisor"
)

// Reloader is the child that watches the configuration file and applies it
// to its target supervisor. It works one change at a time: a change that
// comes while another is being applied waits for it, since the reloader's one
// goroutine reads the next trigger only once the apply in hand has returned,
// and triggers that pile up meanwhile count as one.
type Reloader struct {
	Path   string                 // the configuration file
	Target *supervisor.Supervisor // the supervisor the file configures
	// Parse turns the file into the target's configuration.
	Parse func([]byte) (supervisor.Config, error)
	// Poll is how often the file is read for a change; 0: never (SIGHUP only).
	Poll time.Duration
	// Hangup delivers SIGHUP: read the file now, and apply it even if it is
	// unchanged, so a rejected file is retried. Nil: no signal.
	Hangup <-chan os.Signal
	// Ack, if set, is the file written with the applied file's hash once the
	// tree runs it, for a deploy tool to wait on.
	Ack string
	Log *zap.Logger
	// Applied, if set, receives every attempt's result, in order.
	Applied func(Result)
}

// Result is the outcome of one attempt to apply the file.
type Result struct {
	Hash    string             // of the file's content: the first 12 hex digits of its SHA-256
	Changes supervisor.Changes // what Apply did
	// Err is nil once the new configuration runs, every changed and added
	// child started. Otherwise the tree still runs the previous configuration.
	Err error
}

var (
	// errRejected: the file is invalid; nothing was touched.
	errRejected = errors.New("reload: configuration rejected")
	// errRolledBack: children of the new configuration failed to start, and
	// the previous configuration was applied again.
	errRolledBack = errors.New("reload: children failed to start; previous configuration restored")
)

// Serve applies the file once, in case it changed while the reloader was not
// running, reports ready, then applies each change.
func (r *Reloader) Serve(ctx context.Context) error {
	var w watch
	r.reload(ctx, &w, false)
	child.Ready(ctx)
	var tick <-chan time.Time
	if r.Poll > 0 {
		t := time.NewTicker(r.Poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			r.reload(ctx, &w, false)
		case <-r.Hangup:
			r.reload(ctx, &w, true)
		case <-ctx.Done():
			return nil
		}
	}
}

// watch is what one incarnation of the reloader remembers of the file.
type watch struct {
	applied  string // hash of the file last applied
	rejected string // hash of the file last rejected: not retried until it changes or SIGHUP
}

// reload reads the file and, if it changed (or force), applies it.
func (r *Reloader) reload(ctx context.Context, w *watch, force bool) {
	data, err := os.ReadFile(r.Path)
	if err != nil {
		r.report(Result{Err: err})
		return
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:6])
	if !force && (hash == w.applied || hash == w.rejected) {
		return
	}
	res := Result{Hash: hash}
	cfg, err := r.Parse(data)
	if err != nil {
		w.rejected = hash
		res.Err = fmt.Errorf("%w: %w", errRejected, err)
		r.report(res)
		return
	}
	prev := r.Target.Config()
	res.Changes, err = r.Target.Apply(ctx, cfg)
	switch {
	case err != nil && transient(err):
		// Not applied; the next poll or SIGHUP tries again.
		res.Err = err
	case err != nil:
		// Invalid as a whole (duplicate IDs, a bad budget): nothing touched.
		w.rejected = hash
		res.Err = fmt.Errorf("%w: %w", errRejected, err)
	case len(res.Changes.Failed) > 0:
		w.rejected = hash
		_, rbErr := r.Target.Apply(ctx, prev)
		res.Err = errors.Join(errRolledBack, errors.Join(res.Changes.Failed...), rbErr)
	default:
		w.applied, w.rejected = hash, ""
		if r.Ack != "" {
			res.Err = os.WriteFile(r.Ack, []byte(hash+"\n"), 0o644)
		}
	}
	r.report(res)
}

// transient reports an Apply error that says nothing about the file: the
// target was not serving, or stopping, or the reloader is being stopped.
func transient(err error) bool {
	return errors.Is(err, supervisor.ErrNotRunning) || errors.Is(err, supervisor.ErrStopping) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (r *Reloader) report(res Result) {
	if res.Err == nil {
		r.Log.Info("configuration applied", zap.String("hash", res.Hash),
			zap.Strings("added", res.Changes.Added), zap.Strings("removed", res.Changes.Removed),
			zap.Strings("changed", res.Changes.Changed), zap.Strings("unchanged", res.Changes.Unchanged))
	} else {
		r.Log.Error("configuration not applied", zap.String("hash", res.Hash), zap.Error(res.Err))
	}
	if r.Applied != nil {
		r.Applied(res)
	}
}
