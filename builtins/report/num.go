package report

import (
	"math"
	"starlab/runtime/jsonnum"
	"strconv"
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
