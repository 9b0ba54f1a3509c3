package cluster

import (
	"context"
	"fmt"
	"time"
)

// Token is a fencing token: it names one term of leadership. Key is the
// engine's record of the term and Revision a number that increases from one
// term to the next, cluster-wide, so an external system can refuse a write
// carrying a lower revision than one it has already seen.
type Token struct {
	Key      string
	Revision int64
}

// String returns the token as "key@revision".
func (t Token) String() string { return fmt.Sprintf("%s@%d", t.Key, t.Revision) }

// IsZero reports whether t is the zero Token (no term).
func (t Token) IsZero() bool { return t == Token{} }

// Lease is one term of leadership of a name, granted by an [Elector].
type Lease interface {
	// Token returns the term's fencing token. It does not change during
	// the term.
	Token() Token
	// Lost returns a channel closed when the holder must stop the work it
	// guards at once, within the elector's Margin: the term has ended or
	// may end without the holder's consent (its engine session is lost or
	// has not been renewed in time), or the elector asks for the term back
	// (a takeover by a candidate of higher priority).
	Lost() <-chan struct{}
	// Release ends the term and lets the next candidate be promoted. Call
	// it only once the guarded work has stopped. It is safe to call after
	// Lost has closed and more than once.
	Release(ctx context.Context) error
}

// Elector grants leadership of names, one holder at a time per name.
type Elector interface {
	// Campaign blocks until the caller leads name and returns the term, or
	// returns ctx.Err() once ctx is done. It returns only a term that was
	// verified to be held when it returned.
	Campaign(ctx context.Context, name string) (Lease, error)
	// Margin is the time a holder has, from the moment Lost closes, before
	// another candidate can be promoted, or [child.Infinity] if a term is
	// never lost. A child guarded by a Lease must stop within it:
	// [Singleton] checks that its shutdown budget is shorter.
	Margin() time.Duration
}

type tokenKey struct{}

// WithToken returns a copy of ctx carrying t. [Singleton] uses it to hand
// the term's token to the child it starts.
func WithToken(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// TokenFrom returns the fencing token carried by ctx, if any: inside a
// child started by [Singleton], the token of the term it runs in.
func TokenFrom(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(Token)
	return t, ok
}
