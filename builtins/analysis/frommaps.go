package analysis

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// PointsFromMaps turns a table given as dicts (a sweep's JSON, or a seed's
// table typed into a plan) into Points. Numbers may be any Go integer or
// float, json.Number, or a string that parses as a float ("inf" for a closed
// loop). Nested maps are flattened with dots ("server_metrics.max_running").
// Other non-numeric values (names, error lists, booleans) are skipped, since
// no engine computes on them. A named field holding a non-number is an error
// naming the field and the point index.
func PointsFromMaps(rows []map[string]any) ([]LoadPoint, error) {
	points := make([]LoadPoint, len(rows))
	for i, row := range rows {
		p := LoadPoint{present: map[string]bool{}}
		if err := setFromMap(&p, "", row, i); err != nil {
			return nil, err
		}
		points[i] = p
	}
	return points, nil
}

func setFromMap(p *LoadPoint, prefix string, m map[string]any, index int) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error messages
	for _, k := range keys {
		name := prefix + k
		v := m[k]
		if sub, ok := v.(map[string]any); ok {
			if err := setFromMap(p, name+".", sub, index); err != nil {
				return err
			}
			continue
		}
		f, ok := toFloat(v)
		if !ok {
			if _, named := namedFields[name]; named && v != nil {
				return fmt.Errorf("point %d: field %q: got %T (%v), want a number", index, name, v, v)
			}
			continue
		}
		p.Set(name, f)
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}
