package sweep

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"starlab/runtime"
)

// NotePointEstimates records every interval of the points with the run, so that a decision rule
// given a point's figure (expect(p["request_throughput"], ">=", 10)) finds its interval. Labels
// name the sweep, the point and the field: `sweep "ramp" point 2 (rate=4) request_throughput`.
// Fields are noted in name order so the run's event sequence is the same on every run.
func NotePointEstimates(r *runtime.Run, sweep string, points []Point) {
	for i := range points {
		p := &points[i]
		load := fmt.Sprintf("rate=%g", float64(p.RequestRate))
		if p.Arrival == "closed" {
			load = fmt.Sprintf("concurrency=%d", p.MaxConcurrency)
		}
		for _, field := range slices.Sorted(maps.Keys(p.CI)) {
			v, ok := pointFigure(p, field)
			if !ok {
				continue
			}
			ci := p.CI[field]
			r.NoteEstimate(fmt.Sprintf("sweep %q point %d (%s) %s", sweep, i, load, field), v, float64(ci[0]), float64(ci[1]))
		}
	}
}

// floatFields maps the JSON name of each top-level Float field of Point to its index.
var floatFields = sync.OnceValue(func() map[string]int {
	out := map[string]int{}
	t := reflect.TypeFor[Point]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type != reflect.TypeFor[Float]() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = i
	}
	return out
})

// pointFigure is the value of the point's figure named as in CI.
func pointFigure(p *Point, field string) (float64, bool) {
	i, ok := floatFields()[field]
	if !ok {
		return 0, false
	}
	return float64(reflect.ValueOf(p).Elem().Field(i).Interface().(Float)), true
}
