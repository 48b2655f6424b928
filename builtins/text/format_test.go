package text

import (
	"math"
	"strings"
	"testing"
)

func num(f float64) Arg { return Arg{IsNum: true, Num: f, Str: "x", Repr: "x"} }
func integer(i int64) Arg {
	return Arg{IsNum: true, Num: float64(i), Int: &i, Str: "i", Repr: "i"}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		format string
		args   []Arg
		want   string
	}{
		{"%.2f req/s", []Arg{num(13.456)}, "13.46 req/s"},
		{"%6.1f%%", []Arg{num(42.25)}, "  42.2%"}, // half to even on the binary value
		{"%-6s|%4d", []Arg{{Str: "ab", Repr: `"ab"`}, integer(7)}, "ab    |   7"},
		{"%r", []Arg{{Str: "ab", Repr: `"ab"`}}, `"ab"`},
		{"%d", []Arg{num(3.9)}, "3"},
		{"%05.1f", []Arg{num(-2.25)}, "-02.2"},
		{"%+.3e", []Arg{num(1234.5)}, "+1.234e+03"},
		{"%.3g", []Arg{num(0.00012345)}, "0.000123"},
		{"%x %o", []Arg{integer(255), integer(8)}, "ff 10"},
		{"%.2f %s", []Arg{num(math.Inf(1)), num(math.NaN())}, "+inf x"},
		{"%s", []Arg{{Str: "None", Repr: "None", IsNone: true}}, "None"},
		{"100%%", nil, "100%"},
		{"[%6.2f]", []Arg{{Str: "None", Repr: "None", IsNone: true}}, "[  None]"},
	}
	for _, tc := range tests {
		got, err := Format(tc.format, tc.args)
		if err != nil || got != tc.want {
			t.Errorf("Format(%q) = %q, %v; want %q", tc.format, got, err, tc.want)
		}
	}
	for _, bad := range []struct {
		format string
		args   []Arg
		err    string
	}{
		{"%f", nil, "wants more arguments"},
		{"%f", []Arg{num(1), num(2)}, "uses 1 of the 2"},
		{"%f", []Arg{{Str: "a", Repr: `"a"`}}, `argument 1 (%f): got "a", want a number`},
		{"%q", []Arg{num(1)}, "unknown verb %q"},
		{"%.2", []Arg{num(1)}, "ends inside"},
		{"%x", []Arg{num(1.5)}, "want an int"},
	} {
		if _, err := Format(bad.format, bad.args); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("Format(%q): error %v, want one containing %q", bad.format, err, bad.err)
		}
	}
}

func TestRoundIsPythons(t *testing.T) {
	tests := []struct {
		x    float64
		n    int
		want float64
	}{
		{2.675, 2, 2.67}, {0.125, 2, 0.12}, {0.375, 2, 0.38}, {1.5, 0, 2}, {2.5, 0, 2}, {-2.5, 0, -2},
		{1234.5678, 1, 1234.6}, {1250, -2, 1200}, {1350, -2, 1400}, {-0.0049, 2, -0.0},
		{math.Inf(1), 2, math.Inf(1)}, {1e300, -400, 0},
	}
	for _, tc := range tests {
		if got := Round(tc.x, tc.n); got != tc.want {
			t.Errorf("Round(%v, %d) = %v, want %v", tc.x, tc.n, got, tc.want)
		}
	}
}
