package supervisor

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
)

// Option configures a [Supervisor] in [New].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	flags        Flags // what Apply can change; Config carries the same type
	newBackoff   func() BackOff
	logger       *zap.Logger
	hooks        []Hook
	loggerSet    bool          // WithLogger was given: a nested supervisor does not inherit its parent's
	leakGrace    time.Duration // WithLeakCheck: 0 for no check
	clock        Clock
	startTimeout time.Duration
	crashOnPanic bool
	simple       bool // built by NewSimple: the strategy is simple_one_for_one
}

// applyOptions applies opts to the defaults; a nil Option is a mistake (an
// option built by a function that failed, say), so it is reported, not skipped.
func applyOptions(opts []Option) (options, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i)
		}
		opt.apply(&o)
	}
	return o, nil
}

func defaultOptions() options {
	return options{
		flags:  Flags{Strategy: strategy.OneForOne, Intensity: escalation.Default},
		logger: zap.NewNop(),
		clock:  systemClock{},
	}
}

func (o *options) validate() error {
	if !o.flags.Strategy.Valid() {
		return fmt.Errorf("%w: WithStrategy(%v): unknown strategy", ErrInvalidOption, o.flags.Strategy)
	}
	if o.simple != (o.flags.Strategy == strategy.SimpleOneForOne) {
		return fmt.Errorf("%w: WithStrategy(%v): simple_one_for_one supervisors are built with NewSimple, and only with it", ErrInvalidOption, o.flags.Strategy)
	}
	if int(o.flags.AutoShutdown) >= len(autoNames) {
		return fmt.Errorf("%w: WithAutoShutdown(%v): unknown value", ErrInvalidOption, o.flags.AutoShutdown)
	}
	if o.simple && o.flags.AutoShutdown != AutoShutdownNever {
		return fmt.Errorf("%w: WithAutoShutdown(%v): a simple_one_for_one supervisor cannot auto-shutdown (bad combination)", ErrInvalidOption, o.flags.AutoShutdown)
	}
	if err := o.flags.Intensity.Validate(); err != nil {
		return fmt.Errorf("%w: WithIntensity: %w", ErrInvalidOption, err)
	}
	if o.startTimeout < 0 {
		return fmt.Errorf("%w: WithStartTimeout(%v): must be positive, or 0 for none", ErrInvalidOption, o.startTimeout)
	}
	if o.logger == nil {
		return fmt.Errorf("%w: WithLogger(nil): pass zap.NewNop() for no logging", ErrInvalidOption)
	}
	if o.clock == nil {
		return fmt.Errorf("%w: WithClock(nil)", ErrInvalidOption)
	}
	if o.leakGrace < 0 {
		return fmt.Errorf("%w: WithLeakCheck(%v): the grace must be positive", ErrInvalidOption, o.leakGrace)
	}
	return nil
}

// WithStrategy sets the restart strategy. Default [strategy.OneForOne]. The last one wins.
func WithStrategy(s strategy.Strategy) Option {
	return optionFunc(func(o *options) { o.flags.Strategy = s })
}

// WithIntensity sets the restart intensity: past MaxRestarts restarts within
// Period the supervisor gives up and escalates. Default [escalation.Default]
// (1 in 5 s, as OTP). The last one wins.
func WithIntensity(i escalation.Intensity) Option {
	return optionFunc(func(o *options) { o.flags.Intensity = i })
}

// BackOff is a policy of delays between restarts. Its method set is that of
// github.com/cenkalti/backoff's BackOff, so that package's policies (such as
// *backoff.ExponentialBackOff) can be used as they are, while arbor's API does
// not depend on one major version of it.
type BackOff interface {
	// NextBackOff returns the delay before the next restart, or [BackOffStop]
	// to make the supervisor give up.
	NextBackOff() time.Duration
	// Reset starts the policy over, from its initial delay.
	Reset()
}

// BackOffStop, returned by [BackOff.NextBackOff], makes the supervisor give
// up as if its intensity was exceeded; it equals backoff.Stop.
const BackOffStop time.Duration = -1

// WithBackoff sets a delay between a child's exit and its restart. newBackOff
// is called once per child to build that child's policy (a policy is not safe
// to share); with cenkalti/backoff:
//
//	supervisor.WithBackoff(func() supervisor.BackOff {
//		b := backoff.NewExponentialBackOff()
//		b.MaxElapsedTime = 0 // never give up
//		return b
//	})
//
// The supervisor only asks it for delays: each delay is
// waited as a timer on the supervisor's clock, never a sleep, and a stop
// interrupts it. The policy is reset once the child has stayed up a whole
// intensity period. Build exponential policies with MaxElapsedTime 0: a
// policy that returns [BackOffStop] makes the supervisor give up. Default none:
// restarts are immediate, as in OTP. The last one wins.
func WithBackoff(newBackOff func() BackOff) Option {
	return optionFunc(func(o *options) { o.newBackoff = newBackOff })
}

// WithLogger sets where reports are logged. Default: a nested supervisor
// logs through its parent's logger (each report names its path); a root
// logs nothing (zap.NewNop()). Reports carry no caller and no stack trace of
// arbor's own loop: a panic's stack, or an abandoned child's, is the entry's
// stack. The last one wins.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) { o.logger, o.loggerSet = l, true })
}

// WithHook adds a function that receives every [Event]. Hooks are additive
// and called in the order given, on a goroutine of their own, never on the
// supervisor's: a slow hook delays only later events, and a hook may call the
// supervisor's methods. A panicking hook is recovered and logged. A nested
// supervisor without hooks of its own sends its events to its parent's hooks
// (Event.Supervisor tells them apart).
func WithHook(h Hook) Option {
	return optionFunc(func(o *options) {
		if h != nil {
			o.hooks = append(o.hooks, h)
		}
	})
}

// WithClock sets the clock used for restart windows, backoff delays and start
// and shutdown budgets. Default the system clock. Tests use supervisortest.Clock.
func WithClock(c Clock) Option {
	return optionFunc(func(o *options) { o.clock = c })
}

// WithStartTimeout bounds the whole ordered start of the children when Serve
// begins; each child's own [child.Spec.StartTimeout] applies within it.
// Default 0: no overall deadline.
func WithStartTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.startTimeout = d })
}

// WithAutoShutdown lets significant children shut the supervisor down when
// they end by themselves (see [child.Spec.Significant]); the supervisor then
// stops its other children and Serve returns nil, a normal exit. Default
// [AutoShutdownNever]. The last one wins.
func WithAutoShutdown(a AutoShutdown) Option {
	return optionFunc(func(o *options) { o.flags.AutoShutdown = a })
}

// WithCrashOnPanic lets a child's panic crash the process instead of being
// recovered and treated as an abnormal exit. Default off.
func WithCrashOnPanic() Option {
	return optionFunc(func(o *options) { o.crashOnPanic = true })
}
