package traces

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Row is one request of a trace.
type Row struct {
	Line      int      // 1-based line of the row in the file (for error messages and the requests file)
	T         float64  // seconds since the first row's timestamp (first row: 0); never decreasing
	InputLen  int      // prompt tokens (0 only in BurstGPT failure rows, whose OutputLen is 0)
	OutputLen int      // output tokens (0 in BurstGPT failed requests; the caller decides)
	Prompt    string   // jsonl only, optional
	Session   string   // jsonl only, optional
	HashIDs   []uint64 // mooncake only: ids of the prompt's shared blocks of MooncakeBlockSize tokens
}

// MooncakeBlockSize is the number of prompt tokens one Mooncake hash id stands for.
const MooncakeBlockSize = 512

// maxLine bounds one line of a JSON-lines trace: Mooncake rows with long prompts carry hundreds of
// hash ids, and a bound keeps a corrupt file (no newlines) from taking all memory. A variable so that
// a test can lower it.
var maxLine = 64 << 20

// maxLen bounds token counts so that sums downstream cannot overflow.
const maxLen = math.MaxInt32

var formats = []string{"azure", "burstgpt", "mooncake", "jsonl"}

// Formats lists the format names Open accepts.
func Formats() []string { return append([]string(nil), formats...) }

// decoder reads the next row of one format. stamp is the row's time in the format's own unit (any
// origin); text is how the file wrote it, for the error when times go backwards.
type decoder interface {
	next() (row Row, stamp float64, field, text string, err error)
}

// Reader streams the rows of one trace file. Its memory is bounded by the longest row.
type Reader struct {
	path string
	f    *os.File
	dec  decoder
	unit float64 // stamp units per second
	err  error   // sticky: once a row is bad, the rest of the file is not trusted

	started      bool
	origin, prev float64
	prevText     string
	prevLine     int
}

// Open opens path in the named format. Format "" is taken from the extension only for ".jsonl"
// (Mooncake traces are .jsonl too, so nothing else is guessed).
func Open(path, format string) (*Reader, error) {
	format = strings.ToLower(strings.TrimSpace(format))
	if format == "" {
		if strings.ToLower(filepath.Ext(path)) != ".jsonl" {
			return nil, fmt.Errorf("%s: trace format not given; want one of %s (only .jsonl files default to \"jsonl\")", path, formatList())
		}
		format = "jsonl"
	}
	known := false
	for _, f := range formats {
		known = known || f == format
	}
	if !known {
		return nil, fmt.Errorf("%s: unknown trace format %q; want one of %s", path, format, formatList())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{path: path, f: f, unit: 1}
	switch format {
	case "azure":
		r.dec, err = newAzure(path, f)
	case "burstgpt":
		r.dec, err = newBurstGPT(path, f)
	case "mooncake":
		r.dec, r.unit = newMooncake(path, f), 1000
	case "jsonl":
		r.dec = newPlain(path, f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func formatList() string {
	q := make([]string, len(formats))
	for i, f := range formats {
		q[i] = strconv.Quote(f)
	}
	return strings.Join(q, ", ")
}

// Next returns the next row, or io.EOF after the last one. After an error every call returns it.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	row, stamp, field, text, err := r.dec.next()
	if err != nil {
		r.err = err
		return Row{}, err
	}
	if !r.started {
		r.started, r.origin = true, stamp
	} else if stamp < r.prev {
		r.err = fmt.Errorf("%s:%d: %s: %s is before %s on line %d (a trace must be in time order)",
			r.path, row.Line, field, text, r.prevText, r.prevLine)
		return Row{}, r.err
	}
	r.prev, r.prevText, r.prevLine = stamp, text, row.Line
	row.T = (stamp - r.origin) / r.unit
	return row, nil
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if r.err == nil {
		r.err = fmt.Errorf("%s: trace reader closed", r.path)
	}
	return err
}

// Scan reads the whole file once, streaming, and returns its row count and span (T of the last row)
// for the caller's summary. Errors are those of Next.
func Scan(path, format string) (rows int, span float64, err error) {
	r, err := Open(path, format)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows, span, nil
		}
		if err != nil {
			return 0, 0, err
		}
		rows, span = rows+1, row.T
	}
}

// parseWhole parses a token count: a whole number in [lo, maxLen], written as an integer or as a
// number with an integral value ("472.0", as some CSV exports write integers). On failure it says
// what was wanted; the caller adds the field and how the file wrote the value.
func parseWhole(s string, lo int) (int, string) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f < float64(math.MinInt64) {
			return 0, fmt.Sprintf("want a whole number >= %d", lo)
		}
		if f > maxLen {
			return 0, fmt.Sprintf("want a whole number <= %d", maxLen)
		}
		n = int64(f)
	}
	if n < int64(lo) {
		return 0, fmt.Sprintf("want a whole number >= %d", lo)
	}
	if n > maxLen {
		return 0, fmt.Sprintf("want a whole number <= %d", maxLen)
	}
	return int(n), ""
}

// parseStamp parses a finite number (a timestamp).
func parseStamp(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return v, err == nil && !math.IsInf(v, 0) && !math.IsNaN(v)
}
