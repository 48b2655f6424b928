package sweep

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// aggregate20k folds 20,000 64-token requests at 100 requests/s (a 200 s point) into an
// aggregator, with latencies that vary so the bootstrap has work to do.
func aggregate20k() *Aggregator {
	const n, tokens = 20_000, 64
	a := NewAggregator(0, map[string]float64{"ttft": 80})
	for r := range n {
		at := time.Duration(r) * 10 * time.Millisecond
		first := at + time.Duration(30+r*7%50)*time.Millisecond
		chunks := make([]time.Duration, tokens)
		for c := range chunks {
			chunks[c] = first + time.Duration(c*10)*time.Millisecond
		}
		a.Add(&RequestRecord{Index: r, Intended: at, Sent: at, First: first, Last: chunks[tokens-1], Done: chunks[tokens-1],
			Chunks: chunks, ChunkCount: tokens, InputTokens: 128, OutputTokens: tokens, UsageReported: true})
	}
	return a
}

// BenchmarkFinalize20k is the cost of one point's figures, intervals (three 1000-resample block
// bootstraps, the rate intervals, delivered), steady-state and consistency checks for 20,000
// requests. Measured: about 140 ms per point on the (shared, 2-core) development machine.
// Run: go test -run XXX -bench Finalize20k -benchtime 5x ./builtins/sweep
func BenchmarkFinalize20k(b *testing.B) {
	a := aggregate20k()
	b.ResetTimer()
	for range b.N {
		var p Point
		p.RequestRate = 100
		a.Finalize(&p, 200*time.Second, 0)
		if len(p.CI) < 16 {
			b.Fatalf("intervals: %v", p.CI)
		}
	}
}

// ciOf returns a figure's interval, failing the test when there is none.
func ciOf(t *testing.T, p Point, field string) (lo, hi float64) {
	t.Helper()
	c, ok := p.CI[field]
	if !ok {
		t.Fatalf("no interval for %s; ci: %v", field, p.CI)
	}
	return float64(c[0]), float64(c[1])
}

// intervalFields are the figures every measured open-loop point bounds.
var intervalFields = []string{"request_throughput", "output_throughput", "total_token_throughput", "delivered",
	"mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "median_tpot_ms", "p90_tpot_ms",
	"p99_tpot_ms", "mean_e2el_ms", "median_e2el_ms", "p90_e2el_ms", "p99_e2el_ms"}

func TestIntervalsHoldTheirFigures(t *testing.T) {
	o := testOptions(t)
	o.Duration, o.Warmup = 30*time.Second, 2*time.Second
	run := func(o Options, perToken time.Duration) Point {
		p, err := RunVirtualPoint(context.Background(), &fifoServer{perToken: perToken}, o, PointSpec{Rate: 5})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := run(o, 10*time.Millisecond)
	if p.Confidence != 0.95 {
		t.Errorf("confidence %v, want 0.95 by default", p.Confidence)
	}
	for _, f := range intervalFields {
		lo, hi := ciOf(t, p, f)
		v, _ := pointFigure(&p, f)
		if !(lo <= v && v <= hi) {
			t.Errorf("%s = %v outside its interval [%v, %v]", f, v, lo, hi)
		}
		// The FIFO server streams one token every 10 ms: TPOT has no spread, everything else does.
		if !strings.Contains(f, "tpot") && !(hi > lo) {
			t.Errorf("%s: empty interval [%v, %v]", f, lo, hi)
		}
	}
	for _, f := range []string{"mean_itl_ms", "std_ttft_ms", "request_goodput"} {
		if _, ok := p.CI[f]; ok {
			t.Errorf("%s has an interval; it should not", f)
		}
	}
	// Deterministic for a seed; another seed draws other arrivals and other resamples.
	q := run(o, 10*time.Millisecond)
	for _, f := range intervalFields {
		if p.CI[f] != q.CI[f] {
			t.Errorf("%s: %v then %v with the same seed", f, p.CI[f], q.CI[f])
		}
	}
	o2 := o
	o2.Seed = 2
	if r := run(o2, 10*time.Millisecond); r.CI["median_ttft_ms"] == p.CI["median_ttft_ms"] {
		t.Error("another seed gave the same median TTFT interval")
	}
	// A higher level gives wider intervals.
	o3 := o
	o3.Confidence = 0.99
	wide := run(o3, 10*time.Millisecond)
	if wide.Confidence != 0.99 {
		t.Errorf("confidence %v, want 0.99", wide.Confidence)
	}
	for _, f := range []string{"request_throughput", "median_ttft_ms", "delivered"} {
		l95, h95 := ciOf(t, p, f)
		l99, h99 := ciOf(t, wide, f)
		if h99-l99 <= h95-l95 {
			t.Errorf("%s: 99%% interval [%v, %v] not wider than 95%% [%v, %v]", f, l99, h99, l95, h95)
		}
	}
}

func TestIntervalsNarrowWithLongerWindows(t *testing.T) {
	width := func(d time.Duration) map[string]float64 {
		o := testOptions(t)
		o.Duration, o.Warmup = d, 2*time.Second
		p, err := RunVirtualPoint(context.Background(), &fifoServer{perToken: 10 * time.Millisecond}, o, PointSpec{Rate: 5})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range []string{"request_throughput", "output_throughput", "delivered", "median_ttft_ms", "mean_e2el_ms"} {
			lo, hi := ciOf(t, p, f)
			out[f] = hi - lo
		}
		return out
	}
	short, long := width(20*time.Second), width(320*time.Second)
	for f := range short {
		// 16x the requests: about a quarter of the width; require at least half.
		if !(long[f] < short[f]/2) {
			t.Errorf("%s: interval width %.4g over 320 s, %.4g over 20 s", f, long[f], short[f])
		}
	}
}

// Delivered is about 1, tightly, well below capacity, and decidedly under 0.9 far above it; a
// closed loop offers no load and has none.
func TestDelivered(t *testing.T) {
	tests := []struct {
		name   string
		rate   float64 // capacity is 16.7 requests/s
		lo, hi float64 // the interval must lie inside [lo, hi]
	}{
		{"30% of capacity", 5, 0.85, 1.15},
		{"60% of capacity", 10, 0.85, 1.15},
		{"twice capacity", 33, 0, 0.9},
		{"four times capacity", 67, 0, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t)
			o.Duration, o.Warmup, o.Timeout, o.Grace = 60*time.Second, 2*time.Second, time.Hour, time.Second
			p, err := RunVirtualPoint(context.Background(), &fifoServer{perToken: 10 * time.Millisecond}, o, PointSpec{Rate: tc.rate})
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := ciOf(t, p, "delivered")
			if lo < tc.lo || hi > tc.hi {
				t.Errorf("delivered %.3f [%.3f, %.3f], want inside [%v, %v]", float64(p.Delivered), lo, hi, tc.lo, tc.hi)
			}
		})
	}
	o := testOptions(t)
	o.NumRequests = 30
	p, err := RunVirtualPoint(context.Background(), &fifoServer{perToken: 10 * time.Millisecond}, o, PointSpec{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.CI["delivered"]; ok || !math.IsNaN(float64(p.Delivered)) {
		t.Errorf("closed loop: delivered %v, ci %v; want null", p.Delivered, p.CI["delivered"])
	}
	if _, ok := p.CI["median_ttft_ms"]; !ok {
		t.Error("closed loop: no latency intervals")
	}
}

// Figures that existed before the intervals keep their values (TestMetricsHandBuilt checks them
// one by one); here: a point without usable data has no intervals rather than NaN ones.
func TestIntervalsOfAnEmptyPoint(t *testing.T) {
	a := NewAggregator(time.Second, nil)
	var p Point
	p.RequestRate = 2
	a.Finalize(&p, 5*time.Second, 0)
	for f, c := range p.CI {
		if math.IsNaN(float64(c[0])) || math.IsNaN(float64(c[1])) {
			t.Errorf("%s: interval %v", f, c)
		}
	}
	if _, ok := p.CI["median_ttft_ms"]; ok {
		t.Error("an interval for the median TTFT of no requests")
	}
	if p.SteadyState == nil || !p.SteadyState.OK || p.SteadyState.Detail != "too few requests to check" {
		t.Errorf("steady state %+v", p.SteadyState)
	}
}

func TestInSendOrder(t *testing.T) {
	v := []float64{3, 1, 2, 4}
	at := []time.Duration{30, 10, 20, 10}
	got := inSendOrder(v, at)
	want := []float64{1, 4, 2, 3} // ties keep their order
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
