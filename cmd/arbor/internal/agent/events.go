package agent

import (
	"sync"
	"time"

	"github.com/arborgo/arbor/supervisor"
)

// Event is one supervisor event as GET /v1/events streams it.
type Event struct {
	Time        time.Time `json:"time"`
	Kind        string    `json:"kind"` // such as "child_exited"
	Supervisor  string    `json:"supervisor"`
	Child       string    `json:"child,omitempty"`
	Incarnation uint64    `json:"incarnation,omitempty"`
	Restarted   bool      `json:"restarted,omitempty"`
	Error       string    `json:"error,omitempty"`
	// Term is, for a singleton's leadership events, its name and the term's
	// fencing token, such as "root.scheduler /arbor/singletons/root.scheduler/694d…@42".
	Term string `json:"term,omitempty"`
}

// Subscribe returns a channel of every event of the tree from now on, and
// the function that ends the subscription. A subscriber that falls more than
// a few hundred events behind misses some.
func (a *Agent) Subscribe() (<-chan Event, func()) { return a.events.subscribe() }

// subscriberBuffer is how many events a slow subscriber may lag behind
// before it misses some; a hook must never block its supervisor's events.
const subscriberBuffer = 256

// broadcaster hands every event to every subscriber, dropping events for a
// subscriber whose buffer is full.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan Event]struct{} // guarded by mu
}

func (b *broadcaster) hook(ev supervisor.Event) {
	e := Event{Time: ev.Time, Kind: ev.Kind.String(), Supervisor: ev.Supervisor, Child: ev.Child,
		Incarnation: ev.Incarnation, Restarted: ev.Restarted}
	if ev.Err != nil {
		e.Error = ev.Err.Error()
	}
	if ev.Term != nil {
		e.Term = ev.Term.String()
	}
	b.publish(e)
}

func (b *broadcaster) subscribe() (<-chan Event, func()) {
	ch := make(chan Event, subscriberBuffer)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[chan Event]struct{}{}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

// publish hands e to every subscriber, as hook does for supervisor events.
func (b *broadcaster) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
