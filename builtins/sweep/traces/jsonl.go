package traces

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// lines yields the non-blank lines of a JSON-lines file with their 1-based numbers. The scanner's
// buffer grows to the longest line (at most maxLine) and is reused, so memory does not grow with
// the number of rows.
type lines struct {
	path string
	sc   *bufio.Scanner
	line int
}

func newLines(path string, in io.Reader) *lines {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, min(64<<10, maxLine)), maxLine+1)
	return &lines{path: path, sc: sc}
}

// object returns the next non-blank line, checked to be a JSON object and decoded into v.
func (l *lines) object(v any) error {
	for l.sc.Scan() {
		l.line++
		b := bytes.TrimSpace(l.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if b[0] != '{' {
			return fmt.Errorf("%s:%d: want a JSON object, got %s", l.path, l.line, show(b))
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s:%d: invalid JSON: %v", l.path, l.line, err)
		}
		return nil
	}
	if err := l.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			size := fmt.Sprintf("%d bytes", maxLine)
			if maxLine%(1<<20) == 0 {
				size = fmt.Sprintf("%d MiB", maxLine>>20)
			}
			return fmt.Errorf("%s:%d: line longer than %s", l.path, l.line+1, size)
		}
		return fmt.Errorf("%s:%d: %w", l.path, l.line+1, err)
	}
	return io.EOF
}

func (l *lines) fail(field, format string, args ...any) (Row, float64, string, string, error) {
	return Row{}, 0, "", "", fmt.Errorf("%s:%d: %s: %s", l.path, l.line, field, fmt.Sprintf(format, args...))
}

// show is how an error quotes a JSON value: as written (strings keep their quotes), cut short.
func show(raw []byte) string {
	const most = 40
	if len(raw) > most {
		return string(raw[:most]) + "..."
	}
	return string(raw)
}

// given reports whether a field is present and not null.
func given(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// reset empties the fields of a reused row, keeping their buffers.
func reset(fields ...*json.RawMessage) {
	for _, f := range fields {
		*f = (*f)[:0]
	}
}

// mooncake reads {"timestamp" (ms), "input_length", "output_length", "hash_ids"} lines.
type mooncake struct {
	*lines
	v struct {
		Timestamp    json.RawMessage `json:"timestamp"`
		InputLength  json.RawMessage `json:"input_length"`
		OutputLength json.RawMessage `json:"output_length"`
		HashIDs      json.RawMessage `json:"hash_ids"`
	}
}

func newMooncake(path string, in io.Reader) *mooncake {
	return &mooncake{lines: newLines(path, in)}
}

func (m *mooncake) next() (Row, float64, string, string, error) {
	v := &m.v
	reset(&v.Timestamp, &v.InputLength, &v.OutputLength, &v.HashIDs)
	if err := m.object(v); err != nil {
		return Row{}, 0, "", "", err
	}
	row := Row{Line: m.line}
	if !given(v.Timestamp) {
		return m.fail("timestamp", "missing")
	}
	stamp, ok := parseStamp(string(v.Timestamp))
	if !ok {
		return m.fail("timestamp", "want a number of milliseconds, got %s", show(v.Timestamp))
	}
	var why string
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		lo   int
		to   *int
	}{{"input_length", v.InputLength, 1, &row.InputLen}, {"output_length", v.OutputLength, 0, &row.OutputLen}} {
		if !given(f.raw) {
			return m.fail(f.name, "missing")
		}
		if *f.to, why = parseWhole(string(f.raw), f.lo); why != "" {
			return m.fail(f.name, "%s, got %s", why, show(f.raw))
		}
	}
	if given(v.HashIDs) {
		if err := json.Unmarshal(v.HashIDs, &row.HashIDs); err != nil {
			return m.fail("hash_ids", "want a list of whole numbers >= 0, got %s", show(v.HashIDs))
		}
		if n := len(row.HashIDs); n > 0 && row.InputLen > n*MooncakeBlockSize {
			return m.fail("input_length", "%d tokens need at least %d hash_ids of %d tokens, got %d",
				row.InputLen, (row.InputLen+MooncakeBlockSize-1)/MooncakeBlockSize, MooncakeBlockSize, n)
		}
		if len(row.HashIDs) == 0 {
			row.HashIDs = nil
		}
	}
	return row, stamp, "timestamp", string(v.Timestamp), nil
}

// plain reads starlab's own {"t", "input_len", "output_len", "prompt", "session"} lines.
type plain struct {
	*lines
	v struct {
		T         json.RawMessage `json:"t"`
		InputLen  json.RawMessage `json:"input_len"`
		OutputLen json.RawMessage `json:"output_len"`
		Prompt    json.RawMessage `json:"prompt"`
		Session   json.RawMessage `json:"session"`
	}
}

func newPlain(path string, in io.Reader) *plain {
	return &plain{lines: newLines(path, in)}
}

func (p *plain) next() (Row, float64, string, string, error) {
	v := &p.v
	reset(&v.T, &v.InputLen, &v.OutputLen, &v.Prompt, &v.Session)
	if err := p.object(v); err != nil {
		return Row{}, 0, "", "", err
	}
	row := Row{Line: p.line}
	if !given(v.T) {
		return p.fail("t", "missing")
	}
	stamp, ok := parseStamp(string(v.T))
	if !ok {
		return p.fail("t", "want a number of seconds, got %s", show(v.T))
	}
	if given(v.Prompt) {
		if err := json.Unmarshal(v.Prompt, &row.Prompt); err != nil {
			return p.fail("prompt", "want a string, got %s", show(v.Prompt))
		}
	}
	if given(v.Session) {
		if v.Session[0] == '"' {
			if err := json.Unmarshal(v.Session, &row.Session); err != nil {
				return p.fail("session", "want a string or a whole number, got %s", show(v.Session))
			}
		} else if n, err := strconv.ParseInt(string(v.Session), 10, 64); err == nil {
			row.Session = strconv.FormatInt(n, 10)
		} else {
			return p.fail("session", "want a string or a whole number, got %s", show(v.Session))
		}
	}
	var why string
	switch {
	case given(v.InputLen):
		if row.InputLen, why = parseWhole(string(v.InputLen), 1); why != "" {
			return p.fail("input_len", "%s, got %s", why, show(v.InputLen))
		}
	case row.Prompt != "":
		// The simulator's tokenizer: one token per whitespace-separated word.
		if row.InputLen = len(strings.Fields(row.Prompt)); row.InputLen == 0 {
			return p.fail("input_len", "missing, and the prompt has no words")
		}
	default:
		return p.fail("input_len", "missing (give input_len or a prompt)")
	}
	if !given(v.OutputLen) {
		return p.fail("output_len", "missing")
	}
	if row.OutputLen, why = parseWhole(string(v.OutputLen), 0); why != "" {
		return p.fail("output_len", "%s, got %s", why, show(v.OutputLen))
	}
	return row, stamp, "t", string(v.T), nil
}
