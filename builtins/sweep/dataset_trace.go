package sweep

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"starlab/builtins/sweep/traces"
)

// TraceSpec is a trace file: dataset(kind="trace", path=..., format=...).
type TraceSpec struct {
	Path   string
	Format string
	Seed   uint64 // draws the prompts' words where the trace gives only lengths
	Key    string
}

// traceSource streams a trace's rows as items, in order, never holding the file: item i is the
// (i mod rows)-th row that asks for output tokens (rows without, failed requests in BurstGPT,
// are skipped). Calls come in nearly increasing order (the point runner takes items in send
// order), so one reader moves forward; going back reopens the file.
type traceSource struct {
	spec    TraceSpec
	rows    int     // usable rows, from the check when the dataset was made
	skipped int     // rows without output tokens
	span    float64 // seconds of trace time from the first row to the last usable one

	mu   sync.Mutex
	r    *traces.Reader
	next int // the item index the reader yields next
	err  error
}

// newTraceSource reads the whole trace once, streaming, so that a bad row fails the plan where
// the dataset is made (with the file and line) rather than in the middle of a point.
func newTraceSource(spec TraceSpec) (*traceSource, error) {
	t := &traceSource{spec: spec}
	r, err := traces.Open(spec.Path, spec.Format)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if row.OutputLen < 1 {
			t.skipped++
			continue
		}
		t.rows++
		t.span = row.T
	}
	if t.rows == 0 {
		return nil, fmt.Errorf("%s: no rows with output tokens", spec.Path)
	}
	return t, nil
}

// usable reads r's next row that asks for output tokens.
func usable(r *traces.Reader) (traces.Row, error) {
	for {
		row, err := r.Next()
		if err != nil || row.OutputLen >= 1 {
			return row, err
		}
	}
}

func (t *traceSource) item(i int) Item {
	t.mu.Lock()
	defer t.mu.Unlock()
	want := i % t.rows
	if t.r == nil || want < t.next {
		if t.r != nil {
			t.r.Close()
		}
		var err error
		if t.r, err = traces.Open(t.spec.Path, t.spec.Format); err != nil {
			return t.fail(err)
		}
		t.next = 0
	}
	for {
		row, err := usable(t.r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%s: the trace ended after %d rows; it had %d when it was checked (changed during the run?)", t.spec.Path, t.next, t.rows)
			}
			return t.fail(err)
		}
		t.next++
		if t.next-1 == want {
			if t.next == t.rows {
				t.r.Close()
				t.r = nil
			}
			return t.itemOf(row)
		}
	}
}

// fail keeps the first error for Dataset.Err and gives an item the server rejects.
func (t *traceSource) fail(err error) Item {
	if t.err == nil {
		t.err = err
	}
	return Item{OutputTokens: 1}
}

func (t *traceSource) error() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// close releases the reader between points.
func (t *traceSource) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.r != nil {
		t.r.Close()
		t.r = nil
	}
}

// itemOf turns a row into a request. A row's own prompt is sent as is. Otherwise the prompt is
// made of words: a Mooncake row's blocks each come from the stream of their hash id (rows that
// share hash ids share those tokens, as the trace means), a session's rows from the session's
// stream (each turn's prompt extends the previous one), other rows from their own line.
func (t *traceSource) itemOf(row traces.Row) Item {
	it := Item{PromptTokens: row.InputLen, OutputTokens: row.OutputLen}
	switch {
	case row.Prompt != "":
		it.Prompt = row.Prompt
	case len(row.HashIDs) > 0:
		var b = make([]byte, 0, row.InputLen*6)
		left := row.InputLen
		for _, id := range row.HashIDs {
			n := min(left, traces.MooncakeBlockSize)
			if n <= 0 {
				break
			}
			if len(b) > 0 {
				b = append(b, ' ')
			}
			b = append(b, words(t.spec.Seed, streamKey("trace/mooncake", strconv.FormatUint(id, 10)), n)...)
			left -= n
		}
		if left > 0 { // more tokens than the blocks cover: the row's own words
			b = append(append(b, ' '), words(t.spec.Seed, streamKey("trace/line", t.spec.Key, strconv.Itoa(row.Line)), left)...)
		}
		it.Prompt = string(b)
	case row.Session != "":
		it.Prompt = words(t.spec.Seed, streamKey("trace/session", t.spec.Key, row.Session), row.InputLen)
	default:
		it.Prompt = words(t.spec.Seed, streamKey("trace/line", t.spec.Key, strconv.Itoa(row.Line)), row.InputLen)
	}
	return it
}

// traceArrivals sends each usable row at its trace time divided by scale (2 replays twice as
// fast), and ends with the trace.
type traceArrivals struct {
	r     *traces.Reader
	scale float64
	err   error
}

func newTraceArrivals(spec TraceSpec, scale float64) (*traceArrivals, error) {
	if !(scale > 0) {
		return nil, fmt.Errorf("time_scale must be > 0, got %v", scale)
	}
	r, err := traces.Open(spec.Path, spec.Format)
	if err != nil {
		return nil, err
	}
	return &traceArrivals{r: r, scale: scale}, nil
}

func (a *traceArrivals) next() (time.Duration, bool) {
	if a.r == nil {
		return 0, false
	}
	row, err := usable(a.r)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			a.err = err
		}
		a.close()
		return 0, false
	}
	return time.Duration(row.T / a.scale * float64(time.Second)), true
}

func (a *traceArrivals) close() {
	if a.r != nil {
		a.r.Close()
		a.r = nil
	}
}
