package proc

import (
	"fmt"
	"os"
	"sync"
)

// Rotation of the file: log mode.
const (
	// LogFileMaxSize is the size past which a log file is rotated.
	LogFileMaxSize = 10 << 20
	// LogFileBackups is how many rotated files are kept: path.1 (the newest)
	// to path.3.
	LogFileBackups = 3
)

// rotatingFile appends to a file and rotates it by size. Both output
// streams of a process may write to it, so it is guarded by mu.
type rotatingFile struct {
	path    string
	max     int64
	backups int

	mu   sync.Mutex
	f    *os.File // guarded by mu
	size int64    // guarded by mu
}

func openRotating(path string, max int64, backups int) (*rotatingFile, error) {
	r := &rotatingFile{path: path, max: max, backups: backups}
	if err := r.openLocked(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) openLocked() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotateLocked(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotateLocked renames path.N-1 to path.N, ..., path to path.1, and opens
// a new path.
func (r *rotatingFile) rotateLocked() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	r.f = nil
	for i := r.backups - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	if r.backups > 0 {
		if err := os.Rename(r.path, r.path+".1"); err != nil {
			return err
		}
	} else if err := os.Truncate(r.path, 0); err != nil {
		return err
	}
	return r.openLocked()
}

// Close closes the file.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
