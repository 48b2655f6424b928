package traces

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// csvTrace reads a CSV trace whose columns are found by header name. The three columns are, in
// order, the timestamp, the input length and the output length.
type csvTrace struct {
	path  string
	r     *csv.Reader
	names [3]string
	col   [3]int
	// stamp turns the timestamp cell into the row's time; it reports false for a malformed cell.
	stamp func(cell string) (float64, bool)
	// want says what a timestamp should look like, for the error.
	want string
	// burstgpt allows Request tokens 0 in failed rows (Response tokens 0), as the published trace has.
	burstgpt bool
}

func newCSV(path string, in io.Reader, names [3]string) (*csvTrace, error) {
	r := csv.NewReader(bufio.NewReaderSize(in, 1<<16))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1 // a short row is reported by column name below
	c := &csvTrace{path: path, r: r, names: names}
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file; want a header row naming %s", path, strings.Join(names[:], ", "))
	}
	if err != nil {
		return nil, c.csvError(err)
	}
	for i, name := range names {
		c.col[i] = -1
		for j, h := range header {
			if j == 0 {
				h = strings.TrimPrefix(h, "\ufeff") // a byte-order mark, as spreadsheet exports write
			}
			if strings.EqualFold(strings.TrimSpace(h), name) {
				c.col[i] = j
				break
			}
		}
		if c.col[i] < 0 {
			return nil, fmt.Errorf("%s:1: header has no %q column (header: %s)", path, name, strings.Join(header, ","))
		}
	}
	return c, nil
}

func (c *csvTrace) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %v", c.path, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %w", c.path, err)
}

func (c *csvTrace) next() (Row, float64, string, string, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return Row{}, 0, "", "", io.EOF
	}
	if err != nil {
		return Row{}, 0, "", "", c.csvError(err)
	}
	line, _ := c.r.FieldPos(0)
	row := Row{Line: line}
	fail := func(i int, format string, args ...any) (Row, float64, string, string, error) {
		return Row{}, 0, "", "", fmt.Errorf("%s:%d: %s: %s", c.path, line, c.names[i], fmt.Sprintf(format, args...))
	}
	for i, j := range c.col {
		if j >= len(rec) {
			return fail(i, "missing (the row has %d columns, the header names it as column %d)", len(rec), j+1)
		}
	}
	text := strings.TrimSpace(rec[c.col[0]])
	stamp, ok := c.stamp(text)
	if !ok {
		return fail(0, "want %s, got %q", c.want, text)
	}
	out, why := parseWhole(rec[c.col[2]], 0)
	if why != "" {
		return fail(2, "%s, got %q", why, rec[c.col[2]])
	}
	lo := 1
	if c.burstgpt && out == 0 {
		lo = 0
	}
	in, why := parseWhole(rec[c.col[1]], lo)
	if why != "" {
		return fail(1, "%s, got %q", why, rec[c.col[1]])
	}
	row.InputLen, row.OutputLen = in, out
	return row, stamp, c.names[0], strconv.Quote(text), nil
}

// newAzure reads the Azure LLM inference trace: TIMESTAMP, ContextTokens, GeneratedTokens.
func newAzure(path string, in io.Reader) (*csvTrace, error) {
	c, err := newCSV(path, in, [3]string{"TIMESTAMP", "ContextTokens", "GeneratedTokens"})
	if err != nil {
		return nil, err
	}
	// Times are kept as nanoseconds since the first row: seconds since 1970 in a float64 would lose
	// the sub-microsecond digits the trace carries.
	var first time.Time
	started := false
	c.want = `a date and time like "2023-11-16 18:15:46.6805900"`
	c.stamp = func(cell string) (float64, bool) {
		t, ok := parseDateTime(cell)
		if !ok {
			return 0, false
		}
		if !started {
			first, started = t, true
		}
		return t.Sub(first).Seconds(), true
	}
	return c, nil
}

// dateLayouts are the accepted TIMESTAMP shapes, after a 'T' separator is turned into a space. Go
// accepts a fractional second of any length after the seconds even when a layout does not show one.
var dateLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05Z07",
	"2006-01-02 15:04:05 Z07:00",
}

func parseDateTime(s string) (time.Time, bool) {
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10] + " " + s[11:]
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// newBurstGPT reads the BurstGPT trace: Timestamp (seconds), Request tokens, Response tokens; the
// other published columns (Model, Total tokens, Log Type) are not needed.
func newBurstGPT(path string, in io.Reader) (*csvTrace, error) {
	c, err := newCSV(path, in, [3]string{"Timestamp", "Request tokens", "Response tokens"})
	if err != nil {
		return nil, err
	}
	c.burstgpt = true
	c.want = "a number of seconds"
	c.stamp = parseStamp
	return c, nil
}
