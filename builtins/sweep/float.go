package sweep

import "starlab/runtime/jsonnum"

// Float is a float64 whose JSON form survives Inf ("inf", a closed loop's offered rate) and NaN
// (null, a metric with no samples); see jsonnum.
type Float = jsonnum.Float
