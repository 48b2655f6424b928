package text

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Arg is one value to format: a number, a string (its text, for %s), or anything else with its
// str() and repr() forms.
type Arg struct {
	Num    float64
	Int    *int64 // set for integers, so %d and %s print them exactly
	IsNum  bool
	Str    string // str(x)
	Repr   string // repr(x)
	IsNone bool
}

// Format applies format to args like C's printf with Go's rules: %d %i %f %F %e %E %g %G %x %X
// %o %s %r %v %%, with flags (- + space 0 #), width and precision ("%8.2f", "%-10s", "%.3g").
// %s and %v give str(x), %r repr(x); %d of a float truncates it; a number verb given None writes
// None (a figure not there yet), given another non-number it is an error, as are too few or too
// many arguments and unknown verbs.
func Format(format string, args []Arg) (string, error) {
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ 0#", format[j]) >= 0 {
			j++
		}
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		if j < len(format) && format[j] == '.' {
			j++
			for j < len(format) && format[j] >= '0' && format[j] <= '9' {
				j++
			}
		}
		if j >= len(format) {
			return "", fmt.Errorf("format %q ends inside a %% directive", format)
		}
		spec, verb := format[i+1:j], format[j]
		i = j
		if verb == '%' {
			if spec != "" {
				return "", fmt.Errorf("%%%s%%: a literal %% takes no flags", spec)
			}
			b.WriteByte('%')
			continue
		}
		if next >= len(args) {
			return "", fmt.Errorf("format %q wants more arguments than the %d given", format, len(args))
		}
		a := args[next]
		next++
		out, err := one(spec, verb, a)
		if err != nil {
			return "", fmt.Errorf("argument %d (%%%s%c): %v", next, spec, verb, err)
		}
		b.WriteString(out)
	}
	if next < len(args) {
		return "", fmt.Errorf("format %q uses %d of the %d arguments given", format, next, len(args))
	}
	return b.String(), nil
}

func one(spec string, verb byte, a Arg) (string, error) {
	if a.IsNone && strings.IndexByte("difFeEgGxXo", verb) >= 0 {
		// A figure a plan does not have yet (a knee not found) prints as None, padded.
		return fmt.Sprintf("%"+widthOnly(spec)+"s", "None"), nil
	}
	switch verb {
	case 's', 'v':
		return fmt.Sprintf("%"+spec+"s", a.Str), nil
	case 'r':
		return fmt.Sprintf("%"+spec+"s", a.Repr), nil
	case 'd', 'i':
		if !a.IsNum {
			return "", fmt.Errorf("got %s, want a number", a.Repr)
		}
		if a.Int != nil {
			return fmt.Sprintf("%"+spec+"d", *a.Int), nil
		}
		if math.IsNaN(a.Num) || math.IsInf(a.Num, 0) {
			return fmt.Sprintf("%"+widthOnly(spec)+"s", special(a.Num)), nil
		}
		return fmt.Sprintf("%"+spec+"d", int64(a.Num)), nil
	case 'x', 'X', 'o':
		if a.Int == nil {
			return "", fmt.Errorf("got %s, want an int", a.Repr)
		}
		return fmt.Sprintf("%"+spec+string(verb), *a.Int), nil
	case 'f', 'F', 'e', 'E', 'g', 'G':
		if !a.IsNum {
			return "", fmt.Errorf("got %s, want a number", a.Repr)
		}
		v := verb
		if v == 'F' {
			v = 'f'
		}
		if math.IsInf(a.Num, 0) || math.IsNaN(a.Num) {
			// Go writes +Inf and NaN; plans write them as str() does.
			return fmt.Sprintf("%"+widthOnly(spec)+"s", special(a.Num)), nil
		}
		return fmt.Sprintf("%"+spec+string(v), a.Num), nil
	}
	return "", fmt.Errorf("unknown verb %%%c (want d, i, f, F, e, E, g, G, x, X, o, s, r, v or %%)", verb)
}

// widthOnly keeps a directive's left alignment and width, for text written where a number was
// asked for.
func widthOnly(spec string) string {
	if i := strings.IndexByte(spec, '.'); i >= 0 {
		spec = spec[:i]
	}
	left := strings.Contains(spec, "-")
	spec = strings.TrimLeft(spec, "-+ 0#")
	if left {
		return "-" + spec
	}
	return spec
}

// special is Starlark's str() of an infinity or NaN.
func special(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case x > 0:
		return "+inf"
	}
	return "-inf"
}

// Round rounds x to ndigits decimal places as Python's round does: to the nearest representable
// value of the decimal rounded half to even, so round(2.675, 2) is 2.67 (2.675 is stored just
// below) and round(0.125, 2) is 0.12. Negative ndigits round to tens, hundreds, ...
func Round(x float64, ndigits int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return x
	}
	if ndigits >= 0 {
		if ndigits > 308 {
			return x
		}
		// strconv rounds the exact binary value correctly, half to even.
		r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', ndigits, 64), 64)
		return r
	}
	p := math.Pow(10, float64(-ndigits))
	if math.IsInf(p, 0) {
		return math.Copysign(0, x)
	}
	return math.RoundToEven(x/p) * p
}
