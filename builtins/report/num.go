package report

import (
	"fmt"
	"math"
	"strconv"

	"starlab/runtime/jsonnum"
	"starlab/stats"
)

// Num is a float64 whose JSON survives what JSON cannot hold, the same way sweeps write it:
// +Inf is "inf", -Inf "-inf", NaN null. Knees that were not found have NaN rates.
type Num = jsonnum.Float

// fmtNum formats for tables: four significant digits, thousands never in exponent form, so a
// table reads like the seeds' ("13.68", "6899", "17900").
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case v == 0:
		return "0"
	}
	digits := 4 - int(math.Floor(math.Log10(math.Abs(v)))) - 1
	if digits < 0 {
		digits = 0
	}
	scale := math.Pow(10, float64(digits))
	return strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
}

// jsonSafe replaces non-finite floats in a decoded table with their sweep spellings so that the
// table can be marshalled.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		switch {
		case math.IsNaN(x):
			return nil
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	}
	return v
}

// lopsided: an interval with one side more than this many times the other is shown by its ends,
// since a ± would misstate one of them. The report's legend states the rule.
const lopsided = 1.25

// fmtCI formats a figure with its interval for a table. The half-width is rounded to two
// significant digits and the value to the same decimal place (never beyond four significant
// digits, like fmtNum): "9.12 ± 0.31", "6900 ± 410". A lopsided interval (see lopsided), or one
// that misses its value, prints its ends at the value's decimal place: "9.12 [8.71, 9.93]".
// Without an interval it is fmtNum(v).
func fmtCI(v float64, ci stats.Interval) string {
	if ci.Unknown() || math.IsNaN(v) || math.IsInf(v, 0) || math.IsInf(ci.Lo, 0) || math.IsInf(ci.Hi, 0) {
		return fmtNum(v)
	}
	h := ci.HalfWidth()
	if h <= 0 {
		return fmtNum(v) + " ± 0"
	}
	place := decade(h) - 1 // two significant digits of the half-width
	vPlace := place
	if v != 0 {
		vPlace = max(place, decade(v)-3)
	}
	below, above := v-ci.Lo, ci.Hi-v
	if below < 0 || above < 0 || math.Max(below, above) > lopsided*math.Min(below, above) {
		return fmt.Sprintf("%s [%s, %s]", atPlace(v, vPlace), atPlace(ci.Lo, vPlace), atPlace(ci.Hi, vPlace))
	}
	return fmt.Sprintf("%s ± %s", atPlace(v, vPlace), atPlace(h, place))
}

// fmtEnds is "value [lo, hi]" with fmtNum's digits, as verdicts and rules show an interval (they
// are decided on its ends); the value alone without one.
func fmtEnds(v float64, ci stats.Interval) string {
	if ci.Unknown() {
		return fmtNum(v)
	}
	return fmt.Sprintf("%s [%s, %s]", fmtNum(v), fmtNum(ci.Lo), fmtNum(ci.Hi))
}

// decade is the power of ten of v's leading digit (floor(log10 |v|)), robust to a last-bit error
// (0.1 computed as 0.09999999999999998 is in decade -1).
func decade(v float64) int {
	d := math.Floor(math.Log10(math.Abs(v)))
	if math.Abs(v)*(1+1e-12) >= math.Pow(10, d+1) {
		d++
	}
	return int(d)
}

// atPlace rounds v to a multiple of 10^place and prints it with the digits that implies.
func atPlace(v float64, place int) string {
	if place >= 0 {
		scale := math.Pow(10, float64(place))
		return strconv.FormatFloat(math.Round(v/scale)*scale, 'f', 0, 64)
	}
	scale := math.Pow(10, float64(-place))
	r := math.Round(v*scale) / scale
	if r == 0 {
		r = 0 // no "-0.00"
	}
	return strconv.FormatFloat(r, 'f', -place, 64)
}

// fmtP formats a p-value: three significant digits, "< 0.001" below that.
func fmtP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case p < 0.001:
		return "< 0.001"
	}
	return strconv.FormatFloat(p, 'g', 3, 64)
}

// pctLevel is a confidence level as the report names it: "95%".
func pctLevel(level float64) string { return fmtNum(100*level) + "%" }
