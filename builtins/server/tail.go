package server

import (
	"strings"
	"sync"
)

// tailBuffer keeps the last lines a server printed, for error messages, while the whole log goes
// to servers/<name>.log.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
	part  string
	max   int
	all   strings.Builder // start-up output, until the server is ready (parsed for the KV cache)
	keep  bool
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max, keep: true} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keep {
		t.all.Write(p)
	}
	text := t.part + string(p)
	parts := strings.Split(text, "\n")
	t.part = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		t.lines = append(t.lines, strings.TrimRight(l, "\r"))
	}
	if len(t.lines) > t.max {
		t.lines = append([]string(nil), t.lines[len(t.lines)-t.max:]...)
	}
	return len(p), nil
}

// Tail returns the last n lines.
func (t *tailBuffer) Tail(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if t.part != "" {
		lines = append(append([]string(nil), lines...), t.part)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Startup returns everything printed so far and stops keeping the full text.
func (t *tailBuffer) Startup() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keep = false
	s := t.all.String()
	t.all = strings.Builder{}
	return s
}

// Peek returns everything printed so far, while the full text is still kept.
func (t *tailBuffer) Peek() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.all.String()
}
