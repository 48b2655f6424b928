package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestKarpFlatt(t *testing.T) {
	for _, tc := range []struct {
		s    float64
		n    int
		want float64
	}{
		{1.01, 4, 0.98680}, // seed 000
		{4, 4, 0},
		{1, 4, 1},
		{2, 4, 1.0 / 3},
		{3.2, 4, 1.0 / 12},
		{5, 4, -1.0 / 15}, // superlinear
	} {
		if got := KarpFlatt(tc.s, tc.n); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("KarpFlatt(%v, %d) = %v, want %v", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestAmdahlSeed000LoadLimited(t *testing.T) {
	one, four := seed000()
	for _, metric := range []string{"request_throughput", "output_throughput"} {
		s, err := Amdahl(one, four, 4, metric)
		if err != nil {
			t.Fatal(err)
		}
		if s.Valid || !strings.HasPrefix(s.Diagnosis, "load-limited: both runs achieved ≈ their offered 10 req/s") {
			t.Errorf("%s: valid=%v diagnosis %q", metric, s.Valid, s.Diagnosis)
		}
		if s.Mode != ModeMatched || s.Load != 10 {
			t.Errorf("%s: mode %q load %v", metric, s.Mode, s.Load)
		}
		if math.Abs(s.Speedup-1.01) > 0.005 || math.Abs(s.SerialFraction-0.987) > 0.01 {
			t.Errorf("%s: speedup %v serial %v, want ≈ 1.01 and ≈ 0.987", metric, s.Speedup, s.SerialFraction)
		}
	}
}

func TestAmdahlMultiPoint(t *testing.T) {
	// Seed 003's 1-GPU ramp against a 4-GPU ramp with 3.5× the capacity.
	base := seed003Ramp()
	var scaled []LoadPoint
	for _, r := range []float64{20, 40, 60, 80} {
		scaled = append(scaled, LoadPoint{RequestRate: r, RequestThroughput: math.Min(0.97*r, 3.5*13.68)})
	}
	s, err := Amdahl(base, scaled, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	// Both runs saturated: their capacities are compared, which is the 3.5 built in; the shared
	// loads are still listed.
	if !s.Valid || s.Mode != ModeCapacity || len(s.Pairs) != 3 {
		t.Fatalf("got %+v", s)
	}
	if want := 3.5; math.Abs(s.Speedup-want) > 1e-9 {
		t.Errorf("speedup %v, want %v", s.Speedup, want)
	}
	if math.Abs(s.Predict(4)-s.Speedup) > 1e-9 {
		t.Errorf("Predict(4) = %v, want the measured speedup %v", s.Predict(4), s.Speedup)
	}
	if p8 := s.Predict(8); p8 <= s.Speedup || p8 >= 1/s.SerialFraction {
		t.Errorf("Predict(8) = %v outside (%v, %v)", p8, s.Speedup, 1/s.SerialFraction)
	}

	// No shared rate, both saturated: capacities.
	shifted := []LoadPoint{{RequestRate: 25, RequestThroughput: 24}, {RequestRate: 100, RequestThroughput: 47}}
	s, err = Amdahl(base, shifted, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != ModeCapacity || !s.Valid || math.Abs(s.Speedup-47/13.68) > 1e-9 {
		t.Errorf("capacity: %+v", s)
	}
	// The scaled run never saturated and shares no rate: peaks, a lower bound.
	unsat := []LoadPoint{{RequestRate: 25, RequestThroughput: 24.5}, {RequestRate: 45, RequestThroughput: 44}}
	s, _ = Amdahl(base, unsat, 4, "")
	if s.Mode != ModePeak || !s.Valid || math.Abs(s.Speedup-44/13.68) > 1e-9 || !strings.Contains(s.Diagnosis, "lower bound") {
		t.Errorf("peak: %+v", s)
	}

	// Scaled run that fails requests is not evidence of scaling.
	failing := append([]LoadPoint(nil), scaled...)
	failing[3].Failed = 120
	s, _ = Amdahl(base, failing[:3], 4, "")
	if !s.Valid {
		t.Errorf("failures at an uncompared load should not invalidate: %q", s.Diagnosis)
	}
	failing[2].Failed = 120
	s, _ = Amdahl(base, failing[:3], 4, "")
	if s.Valid || !strings.Contains(s.Diagnosis, "failed 120 requests at 60 req/s") {
		t.Errorf("failures: valid=%v %q", s.Valid, s.Diagnosis)
	}
}

func TestAmdahlErrors(t *testing.T) {
	one, four := seed000()
	for _, tc := range []struct {
		name   string
		base   []LoadPoint
		scaled []LoadPoint
		n      int
		metric string
		want   string
	}{
		{"n", one, four, 1, "", "n must be at least 2"},
		{"empty", nil, four, 4, "", "base has 0 points"},
		{"metric", one, four, 4, "goodput", `base: point 0 has no field "goodput"`},
	} {
		if _, err := Amdahl(tc.base, tc.scaled, tc.n, tc.metric); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}
