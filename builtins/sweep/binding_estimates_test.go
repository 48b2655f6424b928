package sweep

import (
	"math"
	"testing"

	"starlab/runtime"
)

func TestNotePointEstimates(t *testing.T) {
	points := []Point{
		{RequestRate: 4, Arrival: "poisson", RequestThroughput: 3.9, MedianTTFTMs: 41.5, Delivered: 0.97,
			CI: map[string][2]Float{"request_throughput": {3.5, 4.3}, "median_ttft_ms": {39, 44}, "delivered": {0.93, 1.01}}},
		{RequestRate: Float(math.Inf(1)), Arrival: "closed", MaxConcurrency: 8, OutputThroughput: 812.25,
			CI: map[string][2]Float{"output_throughput": {790, 830}, "no_such_field": {1, 2}}},
	}
	r := &runtime.Run{}
	NotePointEstimates(r, "ramp", points)
	for _, tc := range []struct {
		value  float64
		lo, hi float64
		label  string
	}{
		{3.9, 3.5, 4.3, `sweep "ramp" point 0 (rate=4) request_throughput`},
		{41.5, 39, 44, `sweep "ramp" point 0 (rate=4) median_ttft_ms`},
		{0.97, 0.93, 1.01, `sweep "ramp" point 0 (rate=4) delivered`},
		{812.25, 790, 830, `sweep "ramp" point 1 (concurrency=8) output_throughput`},
	} {
		e, found, _ := r.EstimateOf(tc.value)
		if !found || e.Lo != tc.lo || e.Hi != tc.hi || e.Label != tc.label {
			t.Errorf("%v: %+v (found %v), want [%v, %v] labelled %s", tc.value, e, found, tc.lo, tc.hi, tc.label)
		}
	}
	// Noted in field order: the run's event sequence does not depend on map order.
	a, _, _ := r.EstimateOf(0.97)
	b, _, _ := r.EstimateOf(41.5)
	c, _, _ := r.EstimateOf(3.9)
	if !(a.Seq < b.Seq && b.Seq < c.Seq) {
		t.Errorf("sequence %d %d %d, want delivered < median_ttft_ms < request_throughput", a.Seq, b.Seq, c.Seq)
	}
}
