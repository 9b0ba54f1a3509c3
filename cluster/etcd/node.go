package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Defaults for [Config].
const (
	// DefaultTTL is a session's time to live when Config.TTL is 0.
	DefaultTTL = 10 * time.Second
	// DefaultPrefix is the key prefix when Config.Prefix is empty.
	DefaultPrefix = "/arbor/"
	// DefaultRequestTimeout bounds a request made when no caller's context
	// does (a release, a name's removal) when Config.RequestTimeout is 0.
	DefaultRequestTimeout = 2 * time.Second
)

// Errors returned by this package, matched with [errors.Is].
var (
	// ErrInvalidConfig is returned by Open for a bad Config.
	ErrInvalidConfig = errors.New("etcd: invalid config")
	// ErrSessionLost is returned when the node's session (its lease) is
	// over, lost or not renewed in time.
	ErrSessionLost = errors.New("etcd: session lost")
	// ErrFenced is returned by a guarded write whose token is no longer
	// the current term's.
	ErrFenced = errors.New("etcd: fencing token is not current")
	// ErrClosed is returned by a Registry or Node used after Close.
	ErrClosed = errors.New("etcd: closed")
)

// Config configures a [Node].
type Config struct {
	// Client is the etcd client the node uses. Required. The node does not
	// close it; close it after the node.
	Client *clientv3.Client
	// Name identifies this node in the keys it writes. Required.
	Name string
	// Prefix is put before every key arbor writes. Default [DefaultPrefix].
	Prefix string
	// TTL is the time to live of the node's session and of each singleton
	// campaign's session, in whole seconds: a node that stops renewing is
	// considered dead this long after its last renewal. Default
	// [DefaultTTL]. etcd raises a TTL below its minimum (1.5 times its
	// election timeout, in whole seconds: 2 s with etcd's defaults); the
	// node then follows the TTL granted.
	TTL time.Duration
	// Margin is how long before its lease can expire a node steps down:
	// when no renewal has succeeded for TTL minus Margin, a singleton's
	// lease is declared lost and its child stopped. A singleton child's
	// shutdown budget must be shorter. Must be below TTL; default six
	// tenths of TTL (6 s for the default TTL, which fits child's default
	// 5 s budget). Renewals are sent every (TTL-Margin)/3.
	Margin time.Duration
	// RequestTimeout bounds requests made on the node's behalf with no
	// caller's context: releasing a lease, removing a name. Default
	// [DefaultRequestTimeout].
	RequestTimeout time.Duration
	// Priority orders the nodes for takeover (OTP's distributed
	// applications): a leader steps down, as in a hand-off, when a
	// candidate of higher priority campaigns for its singleton, and a
	// candidate promoted while one of higher priority waits gives way
	// before starting anything. Equal priorities keep etcd's first come,
	// first served order. Default 0.
	Priority int
	// Logger receives the node's reports. Default: none.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Margin == 0 {
		c.Margin = c.TTL * 6 / 10
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

func (c Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Client == nil:
		return bad("Client is required")
	case c.Name == "":
		return bad("Name is required")
	case c.TTL < time.Second || c.TTL%time.Second != 0:
		return bad("TTL %v must be a whole number of seconds, at least 1 s", c.TTL)
	case c.Margin <= 0 || c.Margin >= c.TTL:
		return bad("Margin %v must be positive and below TTL %v", c.Margin, c.TTL)
	case c.RequestTimeout < 0:
		return bad("RequestTimeout %v must not be negative", c.RequestTimeout)
	}
	return nil
}

// Node is one member of the cluster: one etcd client, the session (lease)
// that its registered names hang off, and the elector of its singletons.
// Build it with [Open]; it is safe for concurrent use.
type Node struct {
	cfg Config
	// s is the node's own session, for registered names.
	s *session
	// pauseKeepAlives stops every renewal of the node's sessions while
	// true, as a frozen network would. A test seam.
	pauseKeepAlives atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

// Open checks cfg and opens the node's session.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg}
	s, err := n.grant(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("etcd: open node %q: %w", cfg.Name, err)
	}
	n.s = s
	return n, nil
}

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Done returns a channel closed when the node's session is over: expired,
// not renewed for a whole TTL, or closed. Its names are gone (or about to
// go) from the cluster by then; a node whose session is lost must be opened
// again. A shorter interruption costs nothing: renewals resume.
func (n *Node) Done() <-chan struct{} { return n.s.lost }

// Close revokes the node's session, which removes all of its names from the
// cluster at once, and stops renewing it. It does not close the client, nor
// end singleton terms (stop their supervisors first).
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.s.close(ctx, true) })
	return n.closeErr
}

// session is one lease and the goroutine that renews it.
type session struct {
	c        *clientv3.Client
	id       clientv3.LeaseID
	ttl      time.Duration
	interval time.Duration // between renewals: (TTL-Margin)/3
	// margin is how long before the lease can expire the session is
	// declared lost: Config.Margin for a campaign's session, 0 for the
	// node's own (its names need no step-down, and a hiccup shorter than
	// the TTL must not cost them).
	margin time.Duration
	log    *zap.Logger
	paused *atomic.Bool

	// lost is closed when the lease is over or stale: by keepAlive when it
	// returns.
	lost   chan struct{}
	stop   context.CancelFunc
	done   chan struct{} // closed when keepAlive has returned
	closed atomic.Bool
}

// grant creates a lease with the node's TTL and starts renewing it. A
// session that steps down is declared lost Config.Margin before its lease
// can expire; the others when it can have expired.
func (n *Node) grant(ctx context.Context, stepDown bool) (*session, error) {
	sent := time.Now()
	g, err := n.cfg.Client.Grant(ctx, int64(n.cfg.TTL/time.Second))
	if err != nil {
		return nil, err
	}
	kctx, stop := context.WithCancel(context.Background())
	s := &session{
		c: n.cfg.Client, id: g.ID, ttl: n.cfg.TTL, interval: (n.cfg.TTL - n.cfg.Margin) / 3,
		log: n.cfg.Logger, paused: &n.pauseKeepAlives,
		lost: make(chan struct{}), stop: stop, done: make(chan struct{}),
	}
	if stepDown {
		s.margin = n.cfg.Margin
	}
	// Ends when the lease is over or stale, or when close calls stop.
	go s.keepAlive(kctx, sent.Add(time.Duration(g.TTL)*time.Second-s.margin))
	return s, nil
}

// keepAlive renews the lease every (TTL-Margin)/3 until it is over, until no
// renewal has succeeded by deadline (the last successful request's send time
// plus TTL minus Margin, so that the margin starts before the server could
// let the lease expire), or until ctx is done. It closes lost on its way out.
func (s *session) keepAlive(ctx context.Context, deadline time.Time) {
	defer close(s.done)
	defer close(s.lost)
	interval := s.interval
	tick := time.NewTimer(interval)
	defer tick.Stop()
	stale := time.NewTimer(time.Until(deadline))
	defer stale.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stale.C:
			s.log.Warn("etcd: lease not renewed in time: stepping down",
				zap.String("lease", fmt.Sprintf("%x", int64(s.id))), zap.Duration("margin", s.margin))
			return
		case <-tick.C:
		}
		tick.Reset(interval)
		if s.paused.Load() {
			continue
		}
		sent := time.Now()
		rctx, cancel := context.WithDeadline(ctx, deadline)
		resp, err := s.c.KeepAliveOnce(rctx, s.id)
		cancel()
		switch {
		case err == nil:
			deadline = sent.Add(time.Duration(resp.TTL)*time.Second - s.margin)
			stale.Reset(time.Until(deadline))
			if hook := testHookRenewed; hook != nil {
				hook(s.id)
			}
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			s.log.Warn("etcd: lease expired", zap.String("lease", fmt.Sprintf("%x", int64(s.id))))
			return
		}
		// Any other error: try again at the next tick; the stale timer
		// decides when it is too late.
	}
}

// testHookRenewed, nil except in tests (which set it before opening any
// node), is called after each successful renewal.
var testHookRenewed func(id clientv3.LeaseID)

// close stops renewing the lease and, if revoke, revokes it (its keys are
// deleted at once), bounded by ctx. Safe to call more than once; only the
// first call revokes.
func (s *session) close(ctx context.Context, revoke bool) error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	<-s.done
	if !revoke {
		return nil
	}
	if _, err := s.c.Revoke(ctx, s.id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("etcd: revoke lease %x: %w", int64(s.id), err)
	}
	return nil
}

// isLost reports whether the session is over.
func (s *session) isLost() bool {
	select {
	case <-s.lost:
		return true
	default:
		return false
	}
}
