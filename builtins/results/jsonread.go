package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// obj is a decoded JSON object; numbers stay json.Number so counts are read exactly.
type obj = map[string]any

// decodeAll reads every top-level JSON value of data: one for a result file, several for a file
// vLLM bench appended to (--append-result). Python's json writes NaN and Infinity bare, which JSON
// has no words for; they are read as null and "inf". Errors carry the line.
func decodeAll(path string, data []byte) ([]any, error) {
	data = pythonLiterals(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			off := dec.InputOffset()
			var se *json.SyntaxError
			if errors.As(err, &se) {
				off = se.Offset
			}
			if err == io.ErrUnexpectedEOF {
				// The value was cut short: the line is the file's last non-blank one.
				off = int64(len(bytes.TrimRight(data, " \t\r\n")))
			}
			return nil, fmt.Errorf("%s:%d: invalid JSON: %v", path, lineAt(data, off), err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	return out, nil
}

func lineAt(data []byte, off int64) int {
	off = max(0, min(off, int64(len(data))))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// pythonLiterals rewrites the bare NaN, Infinity and -Infinity that Python's json.dump writes
// outside strings into null, "inf" and "-inf". Newlines are kept, so lines still match the file.
func pythonLiterals(data []byte) []byte {
	if !bytes.Contains(data, []byte("NaN")) && !bytes.Contains(data, []byte("Infinity")) {
		return data
	}
	var out bytes.Buffer
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out.WriteByte(c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		rest := data[i:]
		switch {
		case c == '"':
			inString = true
			out.WriteByte(c)
		case bytes.HasPrefix(rest, []byte("NaN")):
			out.WriteString("null")
			i += len("NaN") - 1
		case bytes.HasPrefix(rest, []byte("-Infinity")):
			out.WriteString(`"-inf"`)
			i += len("-Infinity") - 1
		case bytes.HasPrefix(rest, []byte("Infinity")):
			out.WriteString(`"inf"`)
			i += len("Infinity") - 1
		default:
			out.WriteByte(c)
		}
	}
	return out.Bytes()
}

// number reads a JSON number, or the strings Python and starlab write for what JSON cannot hold
// ("inf", "Infinity", "nan"). null, absence and anything else are not a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "inf", "+inf", "infinity", "+infinity":
			return math.Inf(1), true
		case "-inf", "-infinity":
			return math.Inf(-1), true
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, true
		}
	}
	return 0, false
}

// at follows a dotted path of object keys ("metrics.request_totals.successful").
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// num is the number at path, NaN when absent or null: a figure the file does not give is unknown,
// never 0.
func num(v any, path string) float64 {
	if f, ok := number(at(v, path)); ok {
		return f
	}
	return math.NaN()
}

// firstNum is the first of paths that holds a number (NaN when none does).
func firstNum(v any, paths ...string) float64 {
	for _, p := range paths {
		if f, ok := number(at(v, p)); ok {
			return f
		}
	}
	return math.NaN()
}

// str is the string at path ("" when absent or not a string).
func str(v any, path string) string {
	s, _ := at(v, path).(string)
	return s
}

// count rounds a known figure to a count; unknown is 0, as counts cannot be null.
func count(f float64) int {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return int(math.Round(f))
}
