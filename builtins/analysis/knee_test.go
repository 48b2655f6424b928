package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFindKneeSeed003(t *testing.T) {
	for _, tc := range []struct {
		name    string
		latency string
		shuffle bool
	}{
		{"mean ttft", "mean_ttft_ms", false},
		{"no latency", "", false},
		{"unsorted", "mean_ttft_ms", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pts := seed003Ramp()
			if tc.shuffle {
				rand.New(rand.NewPCG(3, 3)).Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
			}
			k, err := FindKnee(pts, KneeOptions{Latency: tc.latency})
			if err != nil {
				t.Fatal(err)
			}
			if !k.Found || k.Method != MethodOffered {
				t.Fatalf("found=%v method=%q reason=%q", k.Found, k.Method, k.Reason)
			}
			if k.Bracket != [2]float64{10, 20} || k.Rate != 10 {
				t.Errorf("bracket %v rate %v, want [10 20] and 10", k.Bracket, k.Rate)
			}
			if math.Abs(k.MaxThroughput-13.7) > 0.05 {
				t.Errorf("max throughput %v, want ≈ 13.7", k.MaxThroughput)
			}
			for _, e := range k.Evidence {
				if e.Method == MethodLatency && tc.latency == "" {
					if e.Found {
						t.Errorf("latency evidence without a latency field: %+v", e)
					}
					continue
				}
				if !e.Found {
					t.Errorf("%s found nothing: %s", e.Method, e.Detail)
					continue
				}
				// Kneedle's bracket spans the knee point's neighbours.
				if e.Bracket[0] < 0 || e.Bracket[1] > 30 || e.Bracket[0] > 10 || e.Bracket[1] < 20 {
					t.Errorf("%s bracket %v does not cover [10, 20]", e.Method, e.Bracket)
				}
			}
			got := k.Around(4)
			want := []float64{10, 10 + 10.0/3, 10 + 20.0/3, 20}
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-9 {
					t.Fatalf("Around(4) = %v, want %v", got, want)
				}
			}
		})
	}
}

// linearThenFlat is a server with capacity cap: it achieves ~97% of offered
// below it and cap above it.
func linearThenFlat(rates []float64, capacity float64) []LoadPoint {
	pts := make([]LoadPoint, len(rates))
	for i, r := range rates {
		y := math.Min(0.97*r, capacity)
		lat := 80.0
		if r > capacity {
			lat = 80 + 500*(r-capacity)
		}
		pts[i] = LoadPoint{RequestRate: r, RequestThroughput: y, MedianTTFTms: lat}
	}
	return pts
}

func TestFindKneeShapes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		points     []LoadPoint
		opts       KneeOptions
		found      bool
		method     string
		bracket    [2]float64
		reasonPart string
	}{
		{
			name:    "unevenly spaced",
			points:  linearThenFlat([]float64{1, 2, 3, 5, 8, 13, 21, 34, 55}, 25),
			opts:    DefaultKneeOptions(),
			found:   true,
			method:  MethodOffered,
			bracket: [2]float64{21, 34},
		},
		{
			name:       "still rising",
			points:     linearThenFlat([]float64{5, 10, 20, 40}, 1000),
			opts:       DefaultKneeOptions(),
			reasonPart: "throughput still rising at the highest rate 40: extend the sweep",
		},
		{
			name:       "two points",
			points:     linearThenFlat([]float64{5, 10}, 7),
			opts:       DefaultKneeOptions(),
			reasonPart: "need at least 3 loads",
		},
		{
			name:       "duplicates collapse below 3",
			points:     linearThenFlat([]float64{5, 10, 10, 5}, 7),
			opts:       DefaultKneeOptions(),
			reasonPart: "only 2 distinct",
		},
		{
			name:       "saturated below range",
			points:     linearThenFlat([]float64{50, 60, 80}, 20),
			opts:       DefaultKneeOptions(),
			reasonPart: "already saturated at the lowest rate 50",
		},
		{
			// Concurrency is not an offered rate: the two-segment fit decides.
			name: "closed loop by concurrency",
			points: func() []LoadPoint {
				var pts []LoadPoint
				for _, c := range []float64{1, 2, 4, 8, 16, 32, 64} {
					pts = append(pts, LoadPoint{RequestRate: math.Inf(1), MaxConcurrency: c,
						RequestThroughput: math.Min(0.9*c, 10), MedianTTFTms: 50 * math.Max(1, c/11)})
				}
				return pts
			}(),
			opts:    KneeOptions{X: "max_concurrency", Latency: "median_ttft_ms"},
			found:   true,
			method:  MethodSegments,
			bracket: [2]float64{8, 16},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := FindKnee(tc.points, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if k.Found != tc.found {
				t.Fatalf("found=%v, want %v; reason %q evidence %+v", k.Found, tc.found, k.Reason, k.Evidence)
			}
			if tc.found {
				if k.Method != tc.method || k.Bracket != tc.bracket {
					t.Errorf("method %q bracket %v, want %q %v (evidence %+v)", k.Method, k.Bracket, tc.method, tc.bracket, k.Evidence)
				}
				return
			}
			if !strings.Contains(k.Reason, tc.reasonPart) {
				t.Errorf("reason %q, want it to contain %q", k.Reason, tc.reasonPart)
			}
			if k.Around(3) != nil {
				t.Errorf("Around on a knee not found should be nil")
			}
		})
	}
}

func TestFindKneeSeed004Concurrency(t *testing.T) {
	// Seed 004's table by concurrency: mean E2E latency jumps 3.9× from 1 to
	// 2 (batching starts); the origin-anchored fit of per-request tok/s bends
	// at the same place.
	pts, err := PointsFromMaps(seed004Concurrency())
	if err != nil {
		t.Fatal(err)
	}
	k, err := FindKnee(pts, KneeOptions{X: "max_concurrency", Y: "per_request_tok_s", Latency: "mean_e2el_ms"})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Found || k.Bracket != [2]float64{1, 2} {
		t.Fatalf("got found=%v method=%q bracket=%v; evidence %+v", k.Found, k.Method, k.Bracket, k.Evidence)
	}
	if e := k.Evidence[1]; e.Method != MethodLatency || !e.Found || e.Bracket != [2]float64{1, 2} {
		t.Errorf("latency evidence %+v, want found in [1, 2]", e)
	}
}

func TestFindKneeErrors(t *testing.T) {
	rows := []map[string]any{
		{"request_rate": 10, "request_throughput": 9.1},
		{"request_rate": 20, "request_throughput": 12.2},
		{"request_rate": 40},
	}
	pts, err := PointsFromMaps(rows)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FindKnee(pts, KneeOptions{}); err == nil || !strings.Contains(err.Error(), `point 2 has no field "request_throughput"`) {
		t.Errorf("missing y: got %v", err)
	}
	if _, err := FindKnee(pts[:2], KneeOptions{Latency: "median_ttft_ms"}); err == nil || !strings.Contains(err.Error(), `point 0 has no field "median_ttft_ms"`) {
		t.Errorf("missing latency: got %v", err)
	}
	closed := []LoadPoint{{RequestRate: math.Inf(1), RequestThroughput: 1}, {RequestRate: 1}, {RequestRate: 2}}
	if _, err := FindKnee(closed, KneeOptions{}); err == nil || !strings.Contains(err.Error(), "closed loop") {
		t.Errorf("infinite rate: got %v", err)
	}
}

// A Poisson schedule of nominal rate 2 may send 1.6/s over a short window: the offered rule
// compares throughput with what was sent, so the noise is not mistaken for saturation.
func TestKneeOfferedUsesTheRateActuallySent(t *testing.T) {
	rows := []map[string]any{
		{"request_rate": 2.0, "request_throughput": 1.57, "client": map[string]any{"achieved_send_rate": 1.59}},
		{"request_rate": 8.0, "request_throughput": 8.7, "client": map[string]any{"achieved_send_rate": 9.14}},
		{"request_rate": 12.0, "request_throughput": 9.88, "client": map[string]any{"achieved_send_rate": 11.89}},
		{"request_rate": 40.0, "request_throughput": 9.93, "client": map[string]any{"achieved_send_rate": 41.6}},
	}
	points, err := PointsFromMaps(rows)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultKneeOptions()
	opts.Latency = ""
	k, err := FindKnee(points, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Found || k.Method != MethodOffered || k.Rate != 8 || k.Bracket != [2]float64{8, 12} {
		t.Fatalf("knee %+v", k)
	}
}
