package proc

import (
	"bytes"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Line is one line a process wrote.
type Line struct {
	Seq    uint64    `json:"seq"` // 1 for the first line the child ever wrote, counting up
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	PID    int       `json:"pid"`
	Text   string    `json:"text"`
}

// Ring keeps a child's last lines, across its incarnations, for arbor logs
// and crash reports. Its methods are safe for concurrent use.
type Ring struct {
	mu      sync.Mutex
	lines   []Line        // guarded by mu; circular, len(lines) == capacity once full
	next    int           // guarded by mu; where the next line goes once full
	seq     uint64        // guarded by mu; Seq of the last line added
	changed chan struct{} // guarded by mu; closed and replaced by each Add
}

// NewRing returns a ring that keeps the last n lines.
func NewRing(n int) *Ring {
	if n <= 0 {
		n = DefaultRing
	}
	return &Ring{lines: make([]Line, 0, n), changed: make(chan struct{})}
}

// Add appends l, giving it the next Seq.
func (r *Ring) Add(l Line) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	l.Seq = r.seq
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, l)
	} else {
		r.lines[r.next] = l
		r.next = (r.next + 1) % len(r.lines)
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// ordered returns the kept lines, oldest first. r.mu must be held.
func (r *Ring) orderedLocked() []Line {
	out := make([]Line, 0, len(r.lines))
	out = append(out, r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}

// Since returns the kept lines with a Seq above after (at most the last n if
// n > 0), and a channel closed when the next line is added.
func (r *Ring) Since(after uint64, n int) ([]Line, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := r.orderedLocked()
	i := 0
	for i < len(all) && all[i].Seq <= after {
		i++
	}
	all = all[i:]
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all, r.changed
}

// Tail returns the texts of the last n lines of stream written by pid.
func (r *Ring) Tail(stream string, pid, n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := r.orderedLocked()
	var out []string
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		if all[i].Stream == stream && all[i].PID == pid {
			out = append(out, all[i].Text)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// lineWriter splits one output stream of one incarnation into lines, each
// logged and kept in the ring. exec.Cmd's copying goroutine is its only
// writer, and flush is called after Wait, so it needs no lock.
type lineWriter struct {
	ring   *Ring
	log    *zap.Logger
	stream string
	pid    int
	now    func() time.Time
	gate   <-chan struct{} // closed once pid is set
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.gate != nil {
		<-w.gate
		w.gate = nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) >= MaxLine {
				w.emit(w.buf[:MaxLine])
				w.buf = w.buf[MaxLine:]
				continue
			}
			break
		}
		if i > MaxLine {
			i = MaxLine
			w.emit(w.buf[:i])
			w.buf = w.buf[i:]
			continue
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) == 0 {
		w.buf = w.buf[:0:0] // let a large buffer go
	}
	return len(p), nil
}

func (w *lineWriter) emit(b []byte) {
	text := string(bytes.TrimSuffix(b, []byte("\r")))
	w.ring.Add(Line{Time: w.now(), Stream: w.stream, PID: w.pid, Text: text})
	w.log.Info(text, zap.String("stream", w.stream), zap.Int("pid", w.pid))
}

// flush emits a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}
