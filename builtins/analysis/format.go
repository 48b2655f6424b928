package analysis

import (
	"math"
	"strconv"
)

// num formats a number for reasons and diagnoses: four significant digits,
// no exponent, so messages read like the seeds' own tables ("13.68", "6899").
func num(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case math.IsNaN(v):
		return "nan"
	case v == 0:
		return "0"
	}
	digits := 4 - int(math.Floor(math.Log10(math.Abs(v)))) - 1
	if digits < 0 {
		scale := math.Pow(10, float64(-digits))
		return strconv.FormatFloat(math.Round(v/scale)*scale, 'f', 0, 64)
	}
	scale := math.Pow(10, float64(digits))
	return strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
}
