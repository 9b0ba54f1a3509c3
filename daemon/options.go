package daemon

import (
	"fmt"
	"os"
	"time"

	"github.com/arborgo/arbor/supervisor"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultShutdownBudget is the total shutdown budget when [WithShutdownBudget]
// is not given: it leaves slack inside Kubernetes' default 30 s
// terminationGracePeriodSeconds.
const DefaultShutdownBudget = 25 * time.Second

// KubernetesShutdownDelay is the shutdown delay ([WithShutdownDelay]) to use
// behind a Kubernetes Service or Ingress: the time for a terminating pod's
// removal from the endpoints to reach kube-proxy and the load balancers, so
// that no new connection arrives once the listeners close. It fits, with a
// 20 s stop, inside [DefaultShutdownBudget] and the default 30 s
// terminationGracePeriodSeconds.
const KubernetesShutdownDelay = 5 * time.Second

// reportTimeout bounds the calls Run makes to report what is still running
// after a forced exit or an overrun budget.
const reportTimeout = time.Second

// Option configures [Run].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	budget  time.Duration
	delay   time.Duration
	signals <-chan os.Signal
	logger  *zap.Logger
	err     error // the first invalid option
}

func newOptions(opts []Option) options {
	o := options{budget: DefaultShutdownBudget}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if o.logger == nil {
		o.logger = stderrLogger()
	}
	if o.delay >= o.budget {
		o.invalid("WithShutdownDelay(%v): must be shorter than the shutdown budget (%v), which includes it", o.delay, o.budget)
	}
	return o
}

func (o *options) invalid(format string, args ...any) {
	if o.err == nil {
		// arbor has one ErrInvalidOption, the supervisor's, for every package.
		o.err = fmt.Errorf("%w: daemon: %s", supervisor.ErrInvalidOption, fmt.Sprintf(format, args...))
	}
}

// WithShutdownBudget sets the total time the shutdown may take, from the
// first signal until every child has stopped. It must be positive. Each child
// gets the smaller of its own child.Spec.Shutdown budget and the time left.
// Default [DefaultShutdownBudget]. The last one wins.
func WithShutdownBudget(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d <= 0 {
			o.invalid("WithShutdownBudget(%v): must be positive", d)
			return
		}
		o.budget = d
	})
}

// WithShutdownDelay makes Run wait d between the first signal and the stop
// of the tree: at the signal, readiness turns 503 (health.Unready), while the
// tree, its listeners included, goes on serving for d; then the tree stops as
// without a delay. It gives load balancers the time to stop sending new
// requests before the listeners close, as the Kubernetes API server's
// --shutdown-delay-duration does. Use [KubernetesShutdownDelay] behind a
// Kubernetes Service. The delay is part of the shutdown budget, so d must be
// shorter than it (the tree then has the rest to stop), and not negative.
// The end of Run's context during the delay cuts it short; a second signal
// forces the exit, as during the stop. Default 0: no delay, which is right
// where no load balancer routes to the process. The last one wins.
func WithShutdownDelay(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d < 0 {
			o.invalid("WithShutdownDelay(%v): must not be negative", d)
			return
		}
		o.delay = d
	})
}

// WithSignals makes Run read stop requests from c instead of installing
// handlers for SIGINT and SIGTERM: each value received counts as one signal.
// Tests use it to drive a daemon without real signals; a program that has
// its own signal.Notify channel can pass it. Default: Run calls
// signal.Notify for os.Interrupt and syscall.SIGTERM itself and undoes it
// with signal.Stop before returning. The last one wins.
func WithSignals(c <-chan os.Signal) Option {
	return optionFunc(func(o *options) {
		if c == nil {
			o.invalid("WithSignals(nil)")
			return
		}
		o.signals = c
	})
}

// WithLogger sets where Run logs its progress and its reports, under the
// name "arbor.daemon". Default: plain text lines on standard error, at Info
// level and above. Run never calls Sync; the owner of the logger does. The
// last one wins.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) {
		if l == nil {
			o.invalid("WithLogger(nil): pass zap.NewNop() for no logging")
			return
		}
		o.logger = l
	})
}

// stderrLogger writes console lines to standard error.
func stderrLogger() *zap.Logger {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.EncodeDuration = zapcore.StringDurationEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.Lock(os.Stderr), zapcore.InfoLevel)
	return zap.New(core)
}
