package analysis

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"starlab/builtins/sweep/pointschema"
	"starlab/stats"
)

// LoadPoint is one load level of a sweep. Field names are those of the sweep's
// point schema (pointschema.LoadPoint), which follow `vllm bench serve`
// (request_rate, request_throughput, median_ttft_ms, ...) so that a table
// copied from a report analyses the same way as a starlab sweep.
//
// A LoadPoint built as a Go struct literal reports every named field as present.
// A LoadPoint built by PointsFromMaps (or changed with Set) reports only the
// fields it was given, so an analysis that needs a missing field fails with
// an error naming it instead of silently using zero.
type LoadPoint struct {
	RequestRate    float64 // offered load, req/s; +Inf for a closed loop
	MaxConcurrency float64 // client concurrency cap; 0 when none
	Duration       float64 // measured window, s

	Completed         float64
	Failed            float64
	TotalInputTokens  float64
	TotalOutputTokens float64

	RequestThroughput    float64 // completed requests / window
	OutputThroughput     float64 // output tokens / window
	TotalTokenThroughput float64 // input + output tokens / window
	RequestGoodput       float64 // requests meeting every SLO / window

	MeanTTFTms, MedianTTFTms, StdTTFTms, P90TTFTms, P99TTFTms float64
	MeanTPOTms, MedianTPOTms, StdTPOTms, P90TPOTms, P99TPOTms float64
	MeanITLms, MedianITLms, StdITLms, P90ITLms, P99ITLms      float64
	MeanE2ELms, MedianE2ELms, StdE2ELms, P90E2ELms, P99E2ELms float64

	// Extra holds any other numeric field by name, e.g. "avg_ttft_ms" from a
	// colleague's table or "server_metrics.max_running" (nested maps are
	// flattened with dots).
	Extra map[string]float64

	// CI holds the interval of a field by name, as the point's `ci` gives it (at its
	// `confidence`): the figures a verdict rests on carry their uncertainty (see Interval).
	CI map[string]stats.Interval
	// StoppedEarly is the point's stopped_early: its sweep's stop rule fired, which it does only
	// on clear overload.
	StoppedEarly bool

	// present records which named fields were given; nil means all of them.
	present map[string]bool
}

// namedFields maps each named field's JSON name to its slot (field index) in Point. The names are
// the point schema's: every float64 slot of Point is the top-level number of pointschema.Point
// with the same Go name, case aside (MeanTTFTms is MeanTTFTMs). A slot without one stops the
// program at start rather than reading nothing.
var namedFields = slotsFromSchema()

func slotsFromSchema() map[string]int {
	numbers := map[string]string{} // lower-case Go name -> JSON name
	for _, f := range pointschema.Fields() {
		if (f.Kind == pointschema.KindInt || f.Kind == pointschema.KindFloat) && f.Path == f.Key() {
			numbers[strings.ToLower(f.Go)] = f.Path
		}
	}
	slots := map[string]int{}
	t := reflect.TypeFor[LoadPoint]()
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Type.Kind() != reflect.Float64 {
			continue
		}
		name, ok := numbers[strings.ToLower(sf.Name)]
		if !ok {
			panic(fmt.Sprintf("analysis: Point.%s has no top-level number of that name in pointschema.Point", sf.Name))
		}
		slots[name] = i
	}
	return slots
}

// slot is the named field at index i of Point.
func (p *LoadPoint) slot(i int) reflect.Value { return reflect.ValueOf(p).Elem().Field(i) }

// FieldNames lists the named (non-Extra) fields, sorted.
func FieldNames() []string {
	names := make([]string, 0, len(namedFields))
	for n := range namedFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Field returns the value of a field by its vLLM bench name, looking in
// Extra for names that are not named fields. ok is false when the point does
// not have the field.
func (p LoadPoint) Field(name string) (float64, bool) {
	if i, known := namedFields[name]; known {
		if p.present != nil && !p.present[name] {
			return 0, false
		}
		return (&p).slot(i).Float(), true
	}
	v, ok := p.Extra[name]
	return v, ok
}

// Interval returns the interval of a field (the point's ci.<field>); ok is false when the point
// carries none or only a partial one.
func (p LoadPoint) Interval(name string) (stats.Interval, bool) {
	ci, ok := p.CI[name]
	if !ok || ci.Unknown() {
		return stats.NoInterval, false
	}
	return ci, true
}

// SetInterval records a field's interval.
func (p *LoadPoint) SetInterval(name string, ci stats.Interval) {
	if p.CI == nil {
		p.CI = map[string]stats.Interval{}
	}
	p.CI[name] = ci
}

// Set assigns a field by name (a named field or an Extra one) and marks it
// present. After the first Set on a struct-literal Point, only fields given
// by Set count as present.
func (p *LoadPoint) Set(name string, v float64) {
	if i, known := namedFields[name]; known {
		if p.present == nil {
			p.present = map[string]bool{}
		}
		p.slot(i).SetFloat(v)
		p.present[name] = true
		return
	}
	if p.Extra == nil {
		p.Extra = map[string]float64{}
	}
	p.Extra[name] = v
}

// column reads one field from every point, failing with the field name and
// the point index when a point lacks it or holds NaN.
func column(who string, points []LoadPoint, name string) ([]float64, error) {
	out := make([]float64, len(points))
	for i, p := range points {
		v, ok := p.Field(name)
		if !ok {
			return nil, fmt.Errorf("%s: point %d has no field %q%s", who, i, name, suggestField(points, name))
		}
		if math.IsNaN(v) {
			return nil, fmt.Errorf("%s: point %d: field %q is NaN", who, i, name)
		}
		out[i] = v
	}
	return out, nil
}

// suggestField hints at the fields the first point does have, so a typo or a
// table with other column names is easy to fix.
func suggestField(points []LoadPoint, name string) string {
	if len(points) == 0 {
		return ""
	}
	var have []string
	for _, n := range FieldNames() {
		if _, ok := points[0].Field(n); ok && points[0].present != nil {
			have = append(have, n)
		}
	}
	for n := range points[0].Extra {
		have = append(have, n)
	}
	if len(have) == 0 {
		return ""
	}
	sort.Strings(have)
	return fmt.Sprintf(" (point 0 has %v)", have)
}
