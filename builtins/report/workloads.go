package report

import (
	"encoding/json"
	"math"
	"reflect"

	"starlab/builtins/analysis"
	"starlab/builtins/sweep/pointschema"
)

// Fields of the workload parts of a point (trace replays, ramps, conversations) that the report
// reads. They are not in pointschema's names list; TestWorkloadNamesAreInTheSchema checks them
// against the schema instead, so a renamed tag fails a test.
const (
	fieldPrefixQueries = "server_metrics.prefix_cache_queries"
	fieldPrefixHitRate = "server_metrics.prefix_cache_hit_rate"
	fieldTrace         = "trace"
	fieldRamp          = "ramp"
	fieldSlices        = "slices"
	fieldSessions      = "sessions"
)

// pointWork is what a point says about a production-shaped workload, decoded with the schema's
// own types; each part is nil when the point does not carry it.
type pointWork struct {
	Trace    *pointschema.TraceInfo
	Ramp     *pointschema.RampInfo
	Slices   []pointschema.Slice
	Sessions *pointschema.SessionStats
}

// workOf decodes the workload parts of each row. A part that does not decode (a given table
// that happens to use the same key for something else) is left out rather than failing the
// report: the points table still shows the row.
func workOf(rows []map[string]any) []pointWork {
	out := make([]pointWork, len(rows))
	for i, r := range rows {
		decodePart(r[fieldTrace], &out[i].Trace)
		decodePart(r[fieldRamp], &out[i].Ramp)
		decodePart(r[fieldSlices], &out[i].Slices)
		decodePart(r[fieldSessions], &out[i].Sessions)
	}
	return out
}

// decodePart round-trips a decoded JSON value into dst; dst is left zero on nil or error.
func decodePart[T any](v any, dst *T) {
	if v == nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	var t T
	if json.Unmarshal(data, &t) == nil {
		*dst = t
	}
}

// prefixHitRate is point i's prefix-cache hit rate (0..1); NaN when the server exported no
// prefix-cache counters or looked nothing up, since a rate over no lookups says nothing (a point
// built in Go without the counters has zeros there, not nulls).
func (s Sweep) prefixHitRate(i int) float64 {
	if !(s.value(i, fieldPrefixQueries) > 0) {
		return math.NaN()
	}
	return s.value(i, fieldPrefixHitRate)
}

// hasPrefixHits reports whether any point found prefixes in the cache, and so the column: a
// server that caches but was sent prompts sharing nothing (random datasets) would fill it with
// 0.0%, which the plain sweep table does without.
func (s Sweep) hasPrefixHits() bool {
	for i := range s.Points {
		if r := s.prefixHitRate(i); r > 0 {
			return true
		}
	}
	return false
}

// workAt is point i's workload parts; none for a sweep built without them (a Sweep literal).
func (s Sweep) workAt(i int) pointWork {
	if i < len(s.work) {
		return s.work[i]
	}
	return pointWork{}
}

// hasWork reports whether any point of the sweep carries the part that pick selects.
func (s Sweep) hasWork(pick func(pointWork) bool) bool {
	for _, w := range s.work {
		if pick(w) {
			return true
		}
	}
	return false
}

// hasSlices reports a ramp sweep: some point is cut into time slices.
func (s Sweep) hasSlices() bool {
	return s.hasWork(func(w pointWork) bool { return len(w.Slices) > 0 })
}

// slicePoints are the indices of the points that have slices, in load order.
func (s Sweep) slicePoints() []int {
	var out []int
	for _, i := range s.sorted() {
		if len(s.workAt(i).Slices) > 0 {
			out = append(out, i)
		}
	}
	return out
}

// sliceRows are point i's slices as the sweep JSON holds them (numbers as written).
func (s Sweep) sliceRows(i int) []map[string]any {
	list, _ := s.Rows[i][fieldSlices].([]any)
	var out []map[string]any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// sliceSweep is point i's slices as a sweep of their own, so that the chart machinery draws
// them like load points: a slice has a point's field names, its target rate as request_rate.
func (s Sweep) sliceSweep(i int, name string) (Sweep, bool) {
	rows := s.sliceRows(i)
	pts, err := analysis.PointsFromMaps(rows)
	if err != nil || len(rows) == 0 {
		return Sweep{}, false
	}
	return Sweep{Name: name, Rows: rows, Points: pts, work: workOf(rows), warnings: make([][]warning, len(rows))}, true
}

// slicesCSV is every slice of the sweep's ramp points, one row each, columns in the schema's
// order (pointschema.Slice) and any key the schema does not know after them, sorted. A sweep
// with more than one ramp point leads with the point's request_rate to tell them apart.
func slicesCSV(s Sweep) ([]byte, error) {
	idx := s.slicePoints()
	known := map[string]bool{}
	var cols []string
	if len(idx) > 1 {
		cols = append(cols, "point_request_rate")
	}
	for _, f := range pointschema.Describe(reflect.TypeFor[pointschema.Slice]()) {
		cols = append(cols, f.Path)
		known[f.Path] = true
	}
	extra := map[string]bool{}
	var rows []map[string]any
	for _, i := range idx {
		for _, r := range s.sliceRows(i) {
			row := map[string]any{}
			for k, v := range r {
				row[k] = v
				if !known[k] {
					extra[k] = true
				}
			}
			if len(idx) > 1 {
				row["point_request_rate"] = s.Rows[i][pointschema.RequestRate]
			}
			rows = append(rows, row)
		}
	}
	return tableCSV(append(cols, sortedKeys(extra)...), rows)
}
