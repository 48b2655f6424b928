// Package jsonnum holds Float, the float64 every result file of starlab writes: JSON has no
// spelling for infinity (a closed loop's offered rate) or NaN (a metric with no samples), so
// Float writes them as "inf", "-inf" and null, and reads them back. It imports nothing of
// Starlark, so engines use it too.
package jsonnum
