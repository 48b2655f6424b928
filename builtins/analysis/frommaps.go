package analysis

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"starlab/stats"
)

// PointsFromMaps turns a table given as dicts (a sweep's JSON, or a seed's
// table typed into a plan) into Points. Numbers may be any Go integer or
// float, json.Number, or a string that parses as a float ("inf" for a closed
// loop). Nested maps are flattened with dots ("server_metrics.max_running"),
// except `ci`, whose [lo, hi] pairs become the fields' intervals (LoadPoint.Interval;
// a pair with a null end is no interval), and stopped_early, which sets StoppedEarly.
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
		if prefix == "" {
			switch k {
			case "ci":
				if err := setIntervals(p, v, index); err != nil {
					return err
				}
				continue
			case "stopped_early":
				p.StoppedEarly, _ = v.(bool)
				continue
			}
		}
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

// setIntervals reads a point's ci: field -> [lo, hi]. A null ci (or a null end, which is how
// JSON carries NaN) means no interval; anything else that is not a pair of numbers is an error,
// since a verdict would silently lose its uncertainty.
func setIntervals(p *LoadPoint, v any, index int) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("point %d: field \"ci\": got %T, want a dict of field -> [lo, hi]", index, v)
	}
	for field, pair := range m {
		if pair == nil {
			continue
		}
		var ends []any
		switch x := pair.(type) {
		case []any:
			ends = x
		case []float64:
			for _, e := range x {
				ends = append(ends, e)
			}
		case [2]float64:
			ends = []any{x[0], x[1]}
		}
		if len(ends) != 2 {
			return fmt.Errorf("point %d: ci.%s: got %v, want [lo, hi]", index, field, pair)
		}
		if ends[0] == nil || ends[1] == nil {
			continue
		}
		lo, ok1 := toFloat(ends[0])
		hi, ok2 := toFloat(ends[1])
		if !ok1 || !ok2 {
			return fmt.Errorf("point %d: ci.%s: got %v, want two numbers", index, field, pair)
		}
		p.SetInterval(field, stats.Interval{Lo: lo, Hi: hi})
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

// RampSlices returns the slices of a table that is one ramp point (a sweep with ramp = ...), as
// rows PointsFromMaps reads: each slice carries a point's field names (request_rate, the ramp's
// mean target rate over it; request_throughput; median_ttft_ms; ...), so one ramp is analysed
// like a sweep of as many loads. Each row also gets client.achieved_send_rate, the slice's sends
// over its length, the load it really offered. A slice nothing was sent in measured no load and
// is left out. ok is false for any other table.
func RampSlices(rows []map[string]any) (out []map[string]any, ok bool) {
	if len(rows) != 1 {
		return nil, false
	}
	list, isList := rows[0]["slices"].([]any)
	if !isList || len(list) == 0 {
		return nil, false
	}
	for _, item := range list {
		s, isMap := item.(map[string]any)
		if !isMap {
			continue
		}
		sent, _ := toFloat(s["sent"])
		from, ok1 := toFloat(s["start_s"])
		to, ok2 := toFloat(s["end_s"])
		if !(sent > 0) {
			continue
		}
		row := make(map[string]any, len(s)+1)
		for k, v := range s {
			row[k] = v
		}
		if ok1 && ok2 && to > from {
			row["client"] = map[string]any{"achieved_send_rate": sent / (to - from)}
		}
		out = append(out, row)
	}
	return out, true
}
