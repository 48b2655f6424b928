package sweep

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"starlab/runtime/atomicfile"
)

// Writer keeps a sweep's results on disk as it runs: <dir>/<name>.json (all points so far,
// atomically rewritten after each point) and <dir>/<name>.requests.jsonl (one line per request,
// appended and flushed about once a second), so a killed run keeps what it measured.
type Writer struct {
	dir, name string
	mu        sync.Mutex
	f         *os.File
	bw        *bufio.Writer
	lastFlush time.Time
	err       error
}

// NewWriter creates dir (the run's sweeps/ directory) and opens the requests file for appending:
// a resumed sweep adds the requests of the points it measures to those already there.
func NewWriter(dir, name string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".requests.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &Writer{dir: dir, name: name, f: f, bw: bufio.NewWriterSize(f, 256<<10), lastFlush: time.Now()}, nil
}

// PointsPath and RequestsPath are the files written.
func (w *Writer) PointsPath() string   { return filepath.Join(w.dir, w.name+".json") }
func (w *Writer) RequestsPath() string { return filepath.Join(w.dir, w.name+".requests.jsonl") }

// WritePoints replaces the points file.
func (w *Writer) WritePoints(points []Point) error { return WritePointsFile(w.PointsPath(), points) }

// WritePointsFile writes points as a JSON array, atomically: a reader never sees half a file.
func WritePointsFile(path string, points []Point) error {
	if points == nil {
		points = []Point{}
	}
	data, err := json.MarshalIndent(points, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'))
}

// RequestLine is one line of the requests file. Times are ms from the point's origin.
type RequestLine struct {
	Point         int     `json:"point"`
	Repeat        int     `json:"repeat,omitempty"` // which repeat of the point's load (sweep repeats)
	RequestRate   Float   `json:"request_rate"`
	Concurrency   int     `json:"concurrency,omitempty"`
	Index         int     `json:"index"`
	Warmup        bool    `json:"warmup,omitempty"`
	IntendedMs    float64 `json:"intended_ms"`
	SentMs        float64 `json:"sent_ms"`
	TTFTMs        Float   `json:"ttft_ms"`
	E2ELMs        Float   `json:"e2el_ms"`
	InputTokens   int     `json:"input_tokens"`
	OutputTokens  int     `json:"output_tokens"`
	UsageReported bool    `json:"usage_reported"`
	Error         string  `json:"error,omitempty"`
	Detail        string  `json:"detail,omitempty"`
	Incomplete    bool    `json:"incomplete,omitempty"`
}

// Line converts a record of the given repeat of spec's load for the requests file.
func Line(spec PointSpec, repeat int, r *RequestRecord) RequestLine {
	l := RequestLine{Point: spec.Index, Repeat: repeat, RequestRate: Float(spec.Rate), Concurrency: spec.Concurrency, Index: r.Index,
		Warmup: r.Warmup, IntendedMs: ms(r.Intended), SentMs: ms(r.Sent), InputTokens: r.InputTokens,
		OutputTokens: r.OutputTokens, UsageReported: r.UsageReported, Error: r.Err, Detail: r.Detail,
		Incomplete: r.Incomplete, TTFTMs: Float(nan), E2ELMs: Float(nan)}
	if r.ChunkCount > 0 {
		l.TTFTMs, l.E2ELMs = Float(ms(r.TTFT())), Float(ms(r.E2EL()))
	}
	return l
}

// WriteRecord appends one request of the given repeat (0 without repeats); safe for
// concurrent use. The first error sticks and is returned by Flush.
func (w *Writer) WriteRecord(spec PointSpec, repeat int, r *RequestRecord) {
	data, err := json.Marshal(Line(spec, repeat, r))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if err != nil {
		w.err = err
		return
	}
	w.bw.Write(append(data, '\n'))
	if time.Since(w.lastFlush) > time.Second {
		w.flushLocked()
	}
}

func (w *Writer) flushLocked() {
	w.lastFlush = time.Now()
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = fmt.Errorf("writing %s: %w", w.RequestsPath(), err)
	}
}

// Flush writes buffered request lines.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.err
}

// Close flushes and closes the requests file.
func (w *Writer) Close() error {
	err := w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
