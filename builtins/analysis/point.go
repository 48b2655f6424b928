package analysis

import (
	"fmt"
	"math"
	"sort"
)

// Point is one load level of a sweep. Field names follow `vllm bench serve`
// (request_rate, request_throughput, median_ttft_ms, ...) so that a table
// copied from a report analyses the same way as a starlab sweep.
//
// A Point built as a Go struct literal reports every named field as present.
// A Point built by PointsFromMaps (or changed with Set) reports only the
// fields it was given, so an analysis that needs a missing field fails with
// an error naming it instead of silently using zero.
type Point struct {
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

	// present records which named fields were given; nil means all of them.
	present map[string]bool
}

// namedFields maps each vLLM bench field name to its slot in Point.
var namedFields = map[string]func(*Point) *float64{
	"request_rate":           func(p *Point) *float64 { return &p.RequestRate },
	"max_concurrency":        func(p *Point) *float64 { return &p.MaxConcurrency },
	"duration":               func(p *Point) *float64 { return &p.Duration },
	"completed":              func(p *Point) *float64 { return &p.Completed },
	"failed":                 func(p *Point) *float64 { return &p.Failed },
	"total_input_tokens":     func(p *Point) *float64 { return &p.TotalInputTokens },
	"total_output_tokens":    func(p *Point) *float64 { return &p.TotalOutputTokens },
	"request_throughput":     func(p *Point) *float64 { return &p.RequestThroughput },
	"output_throughput":      func(p *Point) *float64 { return &p.OutputThroughput },
	"total_token_throughput": func(p *Point) *float64 { return &p.TotalTokenThroughput },
	"request_goodput":        func(p *Point) *float64 { return &p.RequestGoodput },
	"mean_ttft_ms":           func(p *Point) *float64 { return &p.MeanTTFTms },
	"median_ttft_ms":         func(p *Point) *float64 { return &p.MedianTTFTms },
	"std_ttft_ms":            func(p *Point) *float64 { return &p.StdTTFTms },
	"p90_ttft_ms":            func(p *Point) *float64 { return &p.P90TTFTms },
	"p99_ttft_ms":            func(p *Point) *float64 { return &p.P99TTFTms },
	"mean_tpot_ms":           func(p *Point) *float64 { return &p.MeanTPOTms },
	"median_tpot_ms":         func(p *Point) *float64 { return &p.MedianTPOTms },
	"std_tpot_ms":            func(p *Point) *float64 { return &p.StdTPOTms },
	"p90_tpot_ms":            func(p *Point) *float64 { return &p.P90TPOTms },
	"p99_tpot_ms":            func(p *Point) *float64 { return &p.P99TPOTms },
	"mean_itl_ms":            func(p *Point) *float64 { return &p.MeanITLms },
	"median_itl_ms":          func(p *Point) *float64 { return &p.MedianITLms },
	"std_itl_ms":             func(p *Point) *float64 { return &p.StdITLms },
	"p90_itl_ms":             func(p *Point) *float64 { return &p.P90ITLms },
	"p99_itl_ms":             func(p *Point) *float64 { return &p.P99ITLms },
	"mean_e2el_ms":           func(p *Point) *float64 { return &p.MeanE2ELms },
	"median_e2el_ms":         func(p *Point) *float64 { return &p.MedianE2ELms },
	"std_e2el_ms":            func(p *Point) *float64 { return &p.StdE2ELms },
	"p90_e2el_ms":            func(p *Point) *float64 { return &p.P90E2ELms },
	"p99_e2el_ms":            func(p *Point) *float64 { return &p.P99E2ELms },
}

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
func (p Point) Field(name string) (float64, bool) {
	if slot, known := namedFields[name]; known {
		if p.present != nil && !p.present[name] {
			return 0, false
		}
		return *slot(&p), true
	}
	v, ok := p.Extra[name]
	return v, ok
}

// Set assigns a field by name (a named field or an Extra one) and marks it
// present. After the first Set on a struct-literal Point, only fields given
// by Set count as present.
func (p *Point) Set(name string, v float64) {
	if slot, known := namedFields[name]; known {
		if p.present == nil {
			p.present = map[string]bool{}
		}
		*slot(p) = v
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
func column(who string, points []Point, name string) ([]float64, error) {
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
func suggestField(points []Point, name string) string {
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
