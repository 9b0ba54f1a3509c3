package supervisor

// unbuilt reports whether s was not made by [New] or [NewSimple]: a zero
// Supervisor, or the nil one inside a zero [Simple]. Its methods return
// [ErrNotBuilt] (or a harmless value) instead of panicking. A built
// supervisor always has a clock: New, NewSimple and Apply reject a nil one.
func (s *Supervisor) unbuilt() bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.clock == nil
}

// idleErr is the error of a call to a supervisor that is not serving.
func (s *Supervisor) idleErr() error {
	if s.unbuilt() {
		return ErrNotBuilt
	}
	return ErrNotRunning
}
