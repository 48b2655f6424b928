package analysis

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestPointsFromMaps(t *testing.T) {
	pts, err := PointsFromMaps([]map[string]any{
		{"request_rate": "inf", "max_concurrency": 8, "median_ttft_ms": json.Number("181.8"), "name": "c8",
			"errors": map[string]any{"timeout": 2}, "server_metrics": map[string]any{"max_running": int64(8)}, "avg_ttft_ms": float32(1.5)},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := pts[0]
	for _, tc := range []struct {
		name string
		want float64
		ok   bool
	}{
		{"request_rate", math.Inf(1), true},
		{"max_concurrency", 8, true},
		{"median_ttft_ms", 181.8, true},
		{"errors.timeout", 2, true},
		{"server_metrics.max_running", 8, true},
		{"avg_ttft_ms", 1.5, true},
		{"request_throughput", 0, false}, // named but not given
		{"name", 0, false},               // not numeric
		{"no_such_field", 0, false},
	} {
		v, ok := p.Field(tc.name)
		if ok != tc.ok || (ok && v != tc.want) {
			t.Errorf("Field(%q) = %v, %v; want %v, %v", tc.name, v, ok, tc.want, tc.ok)
		}
	}
	// A struct literal has every named field.
	if v, ok := (LoadPoint{RequestThroughput: 3}).Field("completed"); !ok || v != 0 {
		t.Errorf("struct literal: completed = %v, %v", v, ok)
	}
	_, err = PointsFromMaps([]map[string]any{{"request_rate": 1}, {"request_rate": []int{1}}})
	if err == nil || !strings.Contains(err.Error(), `point 1: field "request_rate"`) {
		t.Errorf("non-numeric named field: %v", err)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{13.68: "13.68", 6899: "6899", 17900: "17900", 10: "10", 13.3333333: "13.33", 0.98680: "0.9868", 0: "0", math.Inf(1): "inf", 123456: "123500"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
