package sweep

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"starlab/runtime/atomicfile"
)

// Writer keeps a sweep's results on disk as it runs: <dir>/<name>.json (all points so far,
// atomically rewritten after each point) and <dir>/<name>.requests.jsonl (one line per request).
// A point's requests go to a segment file, flushed about once a second, and join the requests
// file when the point's step completes (CommitPoint), before the step is journaled: the requests
// file holds whole points only, so a point that failed to be written (a full disk) is measured
// again by --resume, never half kept. A segment a killed run left is moved to
// <name>.requests.interrupted.jsonl, so nothing measured is lost.
type Writer struct {
	dir, name string
	mu        sync.Mutex
	f         *os.File // the requests file, appended to
	seg       *os.File // the point being measured
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
	w := &Writer{dir: dir, name: name, f: f, lastFlush: time.Now()}
	if err := w.keepInterrupted(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// segmentPath is the file of the point being measured.
func (w *Writer) segmentPath() string { return filepath.Join(w.dir, "."+w.name+".requests.point") }

// keepInterrupted moves what a killed run's last point wrote to the interrupted file.
func (w *Writer) keepInterrupted() error {
	data, err := os.ReadFile(w.segmentPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(data) > 0 {
		path := filepath.Join(w.dir, w.name+".requests.interrupted.jsonl")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return os.Remove(w.segmentPath())
}

// CommitPoint appends the point's requests to the requests file and syncs it; on failure the
// requests file is cut back to what it held, so it never holds part of a point.
func (w *Writer) CommitPoint() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seg == nil {
		return w.err
	}
	w.flushLocked()
	seg := w.seg
	w.seg, w.bw = nil, nil
	defer func() {
		seg.Close()
		os.Remove(seg.Name())
	}()
	if w.err != nil {
		return w.err
	}
	st, err := w.f.Stat()
	if err != nil {
		return err
	}
	if _, err = seg.Seek(0, io.SeekStart); err == nil {
		if _, err = io.Copy(w.f, seg); err == nil {
			err = w.f.Sync()
		}
	}
	if err != nil {
		w.f.Truncate(st.Size())
		w.err = fmt.Errorf("writing %s: %w", w.RequestsPath(), err)
		return w.err
	}
	return nil
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
	if w.seg == nil {
		seg, err := os.OpenFile(w.segmentPath(), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
		if err != nil {
			w.err = err
			return
		}
		w.seg, w.bw = seg, bufio.NewWriterSize(seg, 256<<10)
	}
	w.bw.Write(append(data, '\n'))
	if time.Since(w.lastFlush) > time.Second {
		w.flushLocked()
	}
}

func (w *Writer) flushLocked() {
	w.lastFlush = time.Now()
	if w.bw == nil {
		return
	}
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = fmt.Errorf("writing %s: %w", w.segmentPath(), err)
	}
}

// Flush writes buffered request lines.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.err
}

// Close commits what a point left (a sweep that ended on an error keeps its requests) and closes
// the requests file.
func (w *Writer) Close() error {
	err := w.CommitPoint()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
