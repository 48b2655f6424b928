package runtime

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"go.starlark.net/starlark"
)

// FromJSON converts a value decoded from JSON (json.Number or float64 numbers) into a Starlark
// value, for builtins that hand plans their results in the form they have on disk: objects become
// dicts with sorted keys, arrays lists, the strings "inf" and "-inf" floats (how result files
// spell infinity), and a number an int when isInt(key) says its field counts things and the
// number is whole, a float otherwise. key is the field the value sits under ("" at the top).
func FromJSON(key string, x any, isInt func(key string) bool) starlark.Value {
	num := func(f float64) starlark.Value {
		if isInt != nil && isInt(key) && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return starlark.MakeInt64(int64(f))
		}
		return starlark.Float(f)
	}
	switch x := x.(type) {
	case nil:
		return starlark.None
	case bool:
		return starlark.Bool(x)
	case json.Number:
		if isInt != nil && isInt(key) {
			if n, err := x.Int64(); err == nil {
				return starlark.MakeInt64(n)
			}
		}
		f, _ := x.Float64()
		return starlark.Float(f)
	case float64:
		return num(x)
	case int:
		return num(float64(x))
	case string:
		switch x {
		case "inf", "+inf":
			return starlark.Float(math.Inf(1))
		case "-inf":
			return starlark.Float(math.Inf(-1))
		}
		return starlark.String(x)
	case []string:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			l[i] = starlark.String(e)
		}
		return starlark.NewList(l)
	case []any:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			l[i] = FromJSON(key, e, isInt)
		}
		return starlark.NewList(l)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := starlark.NewDict(len(x))
		for _, k := range keys {
			d.SetKey(starlark.String(k), FromJSON(k, x[k], isInt))
		}
		return d
	}
	return starlark.String(fmt.Sprint(x))
}
