package jsonnum

import (
	"encoding/json"
	"math"
	"strconv"
)

// Float is a float64 whose JSON form survives values JSON cannot hold: +Inf is "inf" (the offered
// rate of a closed loop), -Inf is "-inf" and NaN (a metric with no samples) is null.
type Float float64

// MarshalJSON writes Inf as a string and NaN as null.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte("null"), nil
	case math.IsInf(v, 1):
		return []byte(`"inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes (and plain numbers).
func (f *Float) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch s {
	case "null":
		*f = Float(math.NaN())
		return nil
	case `"inf"`, `"+inf"`, `"Infinity"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-inf"`, `"-Infinity"`:
		*f = Float(math.Inf(-1))
		return nil
	case `"nan"`, `"NaN"`:
		*f = Float(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}
