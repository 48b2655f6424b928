package analysis

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starlab/stats"
)

func TestReadSamples(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.requests.jsonl")
	lines := []string{
		`{"point":0,"request_rate":4,"index":0,"warmup":true,"ttft_ms":1,"e2el_ms":2,"output_tokens":3}`,       // warmup: out
		`{"point":0,"request_rate":4,"index":1,"ttft_ms":10,"e2el_ms":30,"output_tokens":5}`,                   // TPOT 5
		`{"point":0,"request_rate":4,"index":2,"ttft_ms":20,"e2el_ms":40,"output_tokens":1}`,                   // no TPOT
		`{"point":0,"request_rate":4,"index":3,"ttft_ms":null,"e2el_ms":null,"error":"http_500"}`,              // failed: out
		`{"point":0,"request_rate":4,"index":4,"ttft_ms":15,"e2el_ms":99,"output_tokens":9,"incomplete":true}`, // out
		`{"point":1,"request_rate":8,"index":0,"ttft_ms":99,"e2el_ms":99,"output_tokens":2}`,                   // other point
		`{"point":0,"request_rate":4,"repeat":1,"index":1,"ttft_ms":11,"e2el_ms":21,"output_tokens":11}`,       // another repeat
		`{"point":0,"request_rate":4,"index":1,"ttft_ms":12,"e2el_ms":32,"output_tokens":5}`,                   // logged again: last wins
		`{"point":0,"request_rate":4,"ind`, // torn
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSamples(path, SampleLoad{Point: 0, Rate: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !equalFloats(s.TTFT, []float64{12, 20, 11}) || !equalFloats(s.E2EL, []float64{32, 40, 21}) || !equalFloats(s.TPOT, []float64{5, 1}) {
		t.Errorf("samples: %+v", s)
	}
	if _, err := ReadSamples(path, SampleLoad{Point: 0, Rate: 5}); err == nil || !strings.Contains(err.Error(), "not at this point's load") {
		t.Errorf("another load: %v", err)
	}
	if _, err := ReadSamples(path, SampleLoad{Point: 7, Rate: 4}); err == nil || !strings.Contains(err.Error(), "no request of point 7") {
		t.Errorf("missing point: %v", err)
	}
	if _, err := ReadSamples(filepath.Join(t.TempDir(), "none.jsonl"), SampleLoad{}); err == nil {
		t.Error("missing file accepted")
	}
	closed := filepath.Join(t.TempDir(), "c.requests.jsonl")
	os.WriteFile(closed, []byte(`{"point":0,"request_rate":0,"concurrency":8,"index":0,"ttft_ms":3,"e2el_ms":9,"output_tokens":4}`+"\n"), 0o644)
	if s, err := ReadSamples(closed, SampleLoad{Point: 0, Rate: math.Inf(1), Concurrency: 8}); err != nil || !equalFloats(s.TPOT, []float64{2}) {
		t.Errorf("closed loop: %+v, %v", s, err)
	}
	if _, err := ReadSamples(closed, SampleLoad{Point: 0, Rate: math.Inf(1), Concurrency: 4}); err == nil {
		t.Error("closed loop at another concurrency accepted")
	}
}

func TestLatencyMetric(t *testing.T) {
	for metric, want := range map[string]string{"p99_ttft_ms": "p99 ttft", "mean_tpot_ms": "mean tpot", "median_e2el_ms": "median e2el",
		"p90_itl_ms": "", "std_ttft_ms": "", "request_throughput": "", "p99_ttft": ""} {
		s, f, ok := LatencyMetric(metric)
		if got := strings.TrimSpace(string(s) + " " + f); ok != (want != "") || got != want {
			t.Errorf("%s: %q %v", metric, got, ok)
		}
	}
}

func TestCompareMethods(t *testing.T) {
	pt := func(v, lo, hi, completed float64) LoadPoint {
		var p LoadPoint
		p.Set("request_rate", 4)
		p.Set("p99_ttft_ms", v)
		p.Set("request_throughput", v)
		p.Set("completed", completed)
		p.SetInterval("p99_ttft_ms", stats.Interval{Lo: lo, Hi: hi})
		p.SetInterval("request_throughput", stats.Interval{Lo: lo, Hi: hi})
		return p
	}
	a := ComparedPoint{Label: "a", Point: pt(100, 90, 110, 50)}
	b := ComparedPoint{Label: "b", Point: pt(150, 130, 170, 60)}

	// Intervals only: normal approximation, and for a latency statistic the reason samples were not used.
	c, err := Compare(a, b, "p99_ttft_ms", 0.95, 1, math.NaN())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Method, "normal approximation") || !strings.Contains(c.Method, "no per-request samples") {
		t.Errorf("method: %q", c.Method)
	}
	if c.Difference != 50 || c.Ratio != 1.5 || !c.RatioCI.Contains(1.5) || c.RatioCI.Contains(1) || c.NA != 50 || c.NB != 60 {
		t.Errorf("estimates: %+v", c)
	}
	if c.RequestsNeeded != 0 {
		t.Errorf("a decided difference needs no more requests: %v", c.RequestsNeeded)
	}
	if c, _ := Compare(a, b, "request_throughput", 0.95, 1, math.NaN()); strings.Contains(c.Method, "samples") {
		t.Errorf("throughput is no latency statistic: %q", c.Method)
	}

	// Repeats: Welch across them.
	rep := func(vs ...float64) []LoadPoint {
		var out []LoadPoint
		for _, v := range vs {
			out = append(out, pt(v, math.NaN(), math.NaN(), 10))
		}
		return out
	}
	a.Repeats, b.Repeats = rep(95, 100, 105), rep(140, 150, 160)
	c, _ = Compare(a, b, "request_throughput", 0.95, 1, math.NaN())
	if !strings.HasPrefix(c.Method, "Welch's t test across repeats (3 and 3 repeats)") || c.NA != 3 || c.Requests != [2]float64{30, 30} {
		t.Errorf("repeats: %+v", c)
	}

	// Requests: the bootstrap, seeded.
	a.Samples = &Samples{TTFT: []float64{90, 95, 100, 105, 110, 100, 98, 102}}
	b.Samples = &Samples{TTFT: []float64{140, 150, 160, 150, 145, 155, 149, 151}}
	c, _ = Compare(a, b, "p99_ttft_ms", 0.95, 7, math.NaN())
	c2, _ := Compare(a, b, "p99_ttft_ms", 0.95, 7, math.NaN())
	if !strings.HasPrefix(c.Method, "bootstrap over requests") || c.NA != 8 || c.RatioCI != c2.RatioCI || !c.RatioCI.Contains(c.Ratio) {
		t.Errorf("samples: %+v", c)
	}
	// Too few requests of the family: the repeats decide, and the method says why.
	a.Samples = &Samples{TTFT: []float64{90}}
	if c, _ := Compare(a, b, "p99_ttft_ms", 0.95, 7, math.NaN()); !strings.Contains(c.Method, "too few requests with a ttft (1 and 8)") {
		t.Errorf("too few: %q", c.Method)
	}

	if _, err := Compare(a, b, "p99_tpot_ms", 0.95, 1, math.NaN()); err == nil || !strings.Contains(err.Error(), `a has no field "p99_tpot_ms"`) {
		t.Errorf("missing field: %v", err)
	}
}

// TestPowerHint checks requests_needed against the formula by hand.
func TestPowerHint(t *testing.T) {
	for _, c := range []struct {
		ratio, lo, hi, n, resolve, want float64
	}{
		{1.2, 1.1, 1.3, 100, math.NaN(), 0},        // hw 0.1 < 0.2: resolved
		{1.05, 0.95, 1.15, 100, math.NaN(), 300},   // (0.1/0.05)² = 4: 400 in all
		{1.05, 0.95, 1.15, 100, 0.1, 10},           // (0.1/1.05·1.1/0.1)² = 1.0975: 110 in all
		{0.8, 0.5, 1.1, 50, math.NaN(), 63},        // (0.3/0.2)² = 2.25: 112.5 → 63 more
		{1, 0.9, 1.1, 100, math.NaN(), math.NaN()}, // no difference to resolve
		{1.2, math.NaN(), math.NaN(), 100, math.NaN(), math.NaN()},
	} {
		cmp := Comparison{Comparison: stats.Comparison{Ratio: c.ratio, RatioCI: stats.Interval{Lo: c.lo, Hi: c.hi}}, Requests: [2]float64{c.n, c.n}}
		got := cmp.withHint(c.resolve).RequestsNeeded
		if !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("ratio %v [%v, %v], n %v, resolve %v: got %v, want %v", c.ratio, c.lo, c.hi, c.n, c.resolve, got, c.want)
		}
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
