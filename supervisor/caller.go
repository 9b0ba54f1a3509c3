package supervisor

import "context"

// callerKey is the context key an incarnation answers with itself (see
// incarnation.Value), so that a call made with a child's context, or with one
// derived from it, tells the loop which incarnation made it.
type callerKey struct{}

// callerOf returns the incarnation whose context ctx is or derives from, or
// nil.
func callerOf(ctx context.Context) *incarnation {
	i, _ := ctx.Value(callerKey{}).(*incarnation)
	return i
}

// below reports whether i, the incarnation making a call, is the child of r
// whose path is busy (any child of r if busy is r's own path), or runs below
// it. It walks up the tree by identity: from i to the supervisor running it,
// whose Serve context is, for a nested supervisor, its own incarnation in its
// parent, and so on. A child of an unrelated tree with the same path is not
// below. A nil i (a call made without a child's context) is below nothing.
func (i *incarnation) below(r *run, busy string) bool {
	for a := i; a != nil; a = callerOf(a.r.serveCtx) {
		if a.r == r {
			return busy == r.path || a.e.path == busy
		}
	}
	return false
}
