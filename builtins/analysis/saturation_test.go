package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"starlab/stats"
)

// row builds one point as a sweep's JSON or a typed-in table gives it.
func row(t *testing.T, m map[string]any) LoadPoint {
	t.Helper()
	pts, err := PointsFromMaps([]map[string]any{m})
	if err != nil {
		t.Fatal(err)
	}
	return pts[0]
}

// measured is a sweep point at rate with its own delivered fraction and interval.
func measured(rate, throughput, f, lo, hi float64) map[string]any {
	return map[string]any{
		"request_rate": rate, "request_throughput": throughput, "completed": int(throughput * 60), "duration": 60.0,
		"confidence": 0.95, "delivered": f,
		"ci": map[string]any{"delivered": []any{lo, hi}, "request_throughput": []any{0.95 * throughput, 1.05 * throughput}},
	}
}

func TestSaturationOf(t *testing.T) {
	for _, tc := range []struct {
		name      string
		point     map[string]any
		verdict   string
		reason    []string
		valueOnly bool
	}{
		{"decidedly below", measured(10, 6, 0.6, 0.55, 0.65), Saturated, []string{"delivered 0.6 [0.55, 0.65] < 0.9 at 95%"}, false},
		{"decidedly above", measured(10, 9.8, 0.98, 0.93, 1.03), NotSaturated, []string{">= 0.9 at 95%"}, false},
		{"straddling", measured(10, 8.8, 0.88, 0.81, 0.95), SaturationUndecided,
			[]string{"delivered 0.88 [0.81, 0.95] straddles 0.9", "cannot tell yet: run ~", "more requests"}, false},
		{"interval's bottom on the line", measured(10, 9.5, 0.95, 0.9, 1.0), NotSaturated, nil, false},
		{"no interval, above", map[string]any{"request_rate": 10, "request_throughput": 9.11}, NotSaturated,
			[]string{"delivered 0.911 >= 0.9; no interval: decided on the value alone"}, true},
		{"no interval, below", map[string]any{"request_rate": 20, "request_throughput": 12.24}, Saturated,
			[]string{"no interval: decided on the value alone"}, true},
		{"stopped early", map[string]any{"request_rate": 20, "request_throughput": 19, "stopped_early": true}, Saturated,
			[]string{"stopped early"}, false},
		{"closed loop", map[string]any{"request_rate": "inf", "request_throughput": 19}, SaturationUndecided,
			[]string{"no delivered fraction"}, false},
		// Counts without a ci: the Poisson interval of 3000 completions in 300 s is ±3.6%.
		{"from counts", map[string]any{"request_rate": 10, "request_throughput": 9.8, "completed": 2940, "duration": 300}, NotSaturated,
			[]string{">= 0.9 at 95%"}, false},
		// A delivered of 0 from a point that states no confidence is no measurement.
		{"zero delivered without confidence", map[string]any{"request_rate": 10, "request_throughput": 9.8, "delivered": 0}, NotSaturated,
			[]string{"0.98"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := SaturationOf(row(t, tc.point), 0.95)
			if v.Verdict != tc.verdict {
				t.Fatalf("verdict %q, want %q (%s)", v.Verdict, tc.verdict, v.Reason)
			}
			for _, part := range tc.reason {
				if !strings.Contains(v.Reason, part) {
					t.Errorf("reason %q lacks %q", v.Reason, part)
				}
			}
			if v.ValueOnly != tc.valueOnly {
				t.Errorf("ValueOnly = %v, want %v", v.ValueOnly, tc.valueOnly)
			}
			if v.Verdict == SaturationUndecided && !v.DeliveredCI.Unknown() && !(v.MoreData > 1) {
				t.Errorf("an inconclusive verdict needs more data: MoreData = %v", v.MoreData)
			}
		})
	}
}

// The wrong verdict: a 20 s point at 1 req/s whose Poisson schedule sent only 10 requests
// (TTFT 34 ms: the server idled). Ten completions cannot show saturation.
func TestSaturationFewArrivalsIsNotSaturated(t *testing.T) {
	base := map[string]any{"request_rate": 1, "completed": 10, "duration": 20, "request_throughput": 0.5, "median_ttft_ms": 34}
	withSent := map[string]any{"client": map[string]any{"achieved_send_rate": 0.5}}
	for k, v := range base {
		withSent[k] = v
	}
	for name, m := range map[string]map[string]any{"against the nominal rate": base, "against the rate sent": withSent} {
		v := SaturationOf(row(t, m), 0.95)
		if v.Verdict == Saturated {
			t.Errorf("%s: called saturated: %s", name, v.Reason)
		}
		if v.DeliveredCI.Unknown() || v.DeliveredCI.Hi-v.DeliveredCI.Lo < 0.5 {
			t.Errorf("%s: delivered interval %v, want a wide one from 10 completions", name, v.DeliveredCI)
		}
	}
	// In a 4-point sweep it is not "already saturated at the lowest rate".
	rows := []map[string]any{base,
		{"request_rate": 3, "completed": 61, "duration": 20, "request_throughput": 3.05, "median_ttft_ms": 40},
		measured(5, 3.4, 0.68, 0.62, 0.74), measured(7.2, 3.5, 0.49, 0.44, 0.54)}
	pts, err := PointsFromMaps(rows)
	if err != nil {
		t.Fatal(err)
	}
	k, err := FindKnee(pts, KneeOptions{Latency: ""})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(k.Reason, "already saturated") || k.Verdicts[0].Verdict == Saturated {
		t.Errorf("rate 1 called saturated: %q (%+v)", k.Reason, k.Verdicts[0])
	}
}

func TestFindKneeVerdicts(t *testing.T) {
	rows := []map[string]any{
		measured(2, 1.98, 0.99, 0.95, 1.03),
		measured(4, 3.92, 0.98, 0.93, 1.02),
		measured(6, 5.28, 0.88, 0.81, 0.95),
		measured(8, 5.6, 0.7, 0.65, 0.75),
		measured(10, 5.6, 0.56, 0.5, 0.6),
	}
	pts, err := PointsFromMaps(rows)
	if err != nil {
		t.Fatal(err)
	}
	k, err := FindKnee(pts, KneeOptions{Latency: ""})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{NotSaturated, NotSaturated, SaturationUndecided, Saturated, Saturated}
	if len(k.Verdicts) != len(want) {
		t.Fatalf("%d verdicts, want %d", len(k.Verdicts), len(want))
	}
	for i, v := range k.Verdicts {
		if v.Verdict != want[i] || v.Load != []float64{2, 4, 6, 8, 10}[i] {
			t.Errorf("verdict %d: %+v, want %q", i, v, want[i])
		}
	}
	if !k.Found || k.Method != MethodOffered || k.Rate != 4 || k.Bracket != [2]float64{4, 8} {
		t.Fatalf("knee %+v", k)
	}
	if k.RateCI != (stats.Interval{Lo: 4, Hi: 8}) {
		t.Errorf("RateCI %v, want [4, 8]", k.RateCI)
	}
	if !strings.Contains(k.Reason, "rate 6 inconclusive: delivered 0.88 [0.81, 0.95]") {
		t.Errorf("reason %q does not name the inconclusive load", k.Reason)
	}
	if m := k.MaxThroughputCI; k.MaxThroughput != 5.6 || math.Abs(m.Lo-5.32) > 1e-9 || math.Abs(m.Hi-5.88) > 1e-9 {
		t.Errorf("max throughput %v %v", k.MaxThroughput, k.MaxThroughputCI)
	}
	if k.Level != 0.95 {
		t.Errorf("level %v", k.Level)
	}

	// Lowest load inconclusive, the next decidedly saturated: cannot tell yet, and no other
	// definition guesses.
	low, err := PointsFromMaps([]map[string]any{
		measured(1, 0.85, 0.85, 0.6, 1.1), measured(2, 1.2, 0.6, 0.55, 0.65), measured(4, 1.2, 0.3, 0.27, 0.33), measured(8, 1.2, 0.15, 0.13, 0.17),
	})
	if err != nil {
		t.Fatal(err)
	}
	k, _ = FindKnee(low, KneeOptions{Latency: ""})
	if k.Found || strings.Contains(k.Reason, "already saturated") || !strings.Contains(k.Reason, "cannot tell yet") ||
		!strings.Contains(k.Reason, "rate 1 inconclusive") || !strings.Contains(k.Reason, "more requests") {
		t.Errorf("found=%v reason %q", k.Found, k.Reason)
	}
	if !k.RateCI.Unknown() {
		t.Errorf("RateCI %v without a decided lower side", k.RateCI)
	}

	// Lowest load decidedly saturated: already saturated.
	low[0] = row(t, measured(1, 0.6, 0.6, 0.5, 0.7))
	k, _ = FindKnee(low, KneeOptions{Latency: ""})
	if k.Found || !strings.Contains(k.Reason, "already saturated at the lowest rate 1") {
		t.Errorf("found=%v reason %q", k.Found, k.Reason)
	}

	// A published table decides on values and says nothing of intervals.
	k, _ = FindKnee(seed003Ramp(), KneeOptions{})
	if !k.RateCI.Unknown() || !k.MaxThroughputCI.Unknown() || len(k.Verdicts) != 5 || !k.Verdicts[0].ValueOnly {
		t.Errorf("seed 003: RateCI %v MaxThroughputCI %v verdicts %+v", k.RateCI, k.MaxThroughputCI, k.Verdicts)
	}
}

// Seed 004's throughput column is one stream's tok/s: given as output_throughput, find_knee says so.
func TestFindKneeFlagsSeed004PerRequestThroughput(t *testing.T) {
	rows := seed004Concurrency()
	for _, r := range rows {
		r["output_throughput"] = r["per_request_tok_s"]
		delete(r, "per_request_tok_s")
	}
	pts, err := PointsFromMaps(rows)
	if err != nil {
		t.Fatal(err)
	}
	k, err := FindKnee(pts, KneeOptions{X: "max_concurrency", Y: "output_throughput", Latency: "mean_e2el_ms"})
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Checks) != 1 || !strings.HasPrefix(k.Checks[0], "per_request_throughput: output_throughput falls from 55.6 to 9.7") {
		t.Errorf("checks %q", k.Checks)
	}
	if !strings.Contains(k.Reason, "per-request throughput, not the server's") {
		t.Errorf("reason %q does not name the per-request column", k.Reason)
	}
	// The seed's rows as typed (a column of another name) pass: nothing claims to be throughput.
	pts, _ = PointsFromMaps(seed004Concurrency())
	k, _ = FindKnee(pts, KneeOptions{X: "max_concurrency", Y: "per_request_tok_s", Latency: "mean_e2el_ms"})
	if len(k.Checks) != 0 {
		t.Errorf("checks %q on a column that claims nothing", k.Checks)
	}
}

// saturatedAt is a point at rate whose server decidedly delivered half the load, with throughput
// x ± hw.
func saturatedAt(rate, x, hw float64) LoadPoint {
	p := LoadPoint{RequestRate: rate, RequestThroughput: x}
	p.Set("confidence", 0.95)
	p.Set("delivered", 0.5)
	p.SetInterval("delivered", stats.Interval{Lo: 0.45, Hi: 0.55})
	p.SetInterval("request_throughput", stats.Interval{Lo: x - hw, Hi: x + hw})
	return p
}

func TestAmdahlIntervals(t *testing.T) {
	s, err := Amdahl([]LoadPoint{saturatedAt(20, 10, 0.5)}, []LoadPoint{saturatedAt(70, 35, 1.5)}, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != ModeCapacity || !s.Valid || s.LoadLimited != "no" {
		t.Fatalf("mode %q valid %v load-limited %q: %s", s.Mode, s.Valid, s.LoadLimited, s.Diagnosis)
	}
	if !s.SpeedupCI.Contains(3.5) || s.SpeedupCI.HalfWidth() > 0.4 || s.SpeedupCI.HalfWidth() < 0.1 {
		t.Errorf("speedup CI %v", s.SpeedupCI)
	}
	if e := s.EfficiencyCI; math.Abs(e.Lo-s.SpeedupCI.Lo/4) > 1e-12 || math.Abs(e.Hi-s.SpeedupCI.Hi/4) > 1e-12 {
		t.Errorf("efficiency CI %v", e)
	}
	// Karp–Flatt falls as the speedup rises: the low end comes from the high speedup.
	if f := s.SerialFractionCI; f.Lo != KarpFlatt(s.SpeedupCI.Hi, 4) || f.Hi != KarpFlatt(s.SpeedupCI.Lo, 4) || !f.Contains(s.SerialFraction) {
		t.Errorf("serial fraction CI %v around %v", f, s.SerialFraction)
	}

	// Coverage: throughputs measured with normal noise of the stated half-width / 1.96 give
	// speedup intervals that contain the true 3.5 about 95% of the time.
	rng := rand.New(rand.NewPCG(11, 1))
	hit, runs := 0, 400
	for range runs {
		b := 10 + 0.5/1.96*rng.NormFloat64()
		c := 35 + 1.5/1.96*rng.NormFloat64()
		s, err := Amdahl([]LoadPoint{saturatedAt(20, b, 0.5)}, []LoadPoint{saturatedAt(70, c, 1.5)}, 4, "")
		if err != nil {
			t.Fatal(err)
		}
		if s.SpeedupCI.Contains(3.5) {
			hit++
		}
	}
	if cover := float64(hit) / float64(runs); cover < 0.92 || cover > 0.98 {
		t.Errorf("speedup interval coverage %v, want ≈ 0.95", cover)
	}

	// No intervals on the points: none on the figures.
	one, four := seed000()
	s, _ = Amdahl(one, four, 4, "")
	if !s.SpeedupCI.Unknown() || !s.SerialFractionCI.Unknown() || s.LoadLimited != "yes" || s.Valid {
		t.Errorf("seed 000: %+v", s)
	}
}

func TestAmdahlLoadLimitedVerdicts(t *testing.T) {
	scaled := []LoadPoint{row(t, measured(10, 9.9, 0.99, 0.96, 1.02))}
	for _, tc := range []struct {
		name      string
		base      map[string]any
		limited   string
		valid     bool
		diagnosis string
	}{
		{"kept up", measured(10, 9.8, 0.98, 0.95, 1.01), "yes", false, "load-limited: both runs achieved"},
		{"undecided", measured(10, 8.8, 0.88, 0.8, 0.96), SaturationUndecided, false,
			"possibly load-limited: the base could not be shown saturated at 10 req/s: delivered 0.88 [0.8, 0.96]"},
		{"saturated", measured(10, 5, 0.5, 0.45, 0.55), "no", true, "lower bound"},
	} {
		s, err := Amdahl([]LoadPoint{row(t, tc.base)}, scaled, 4, "")
		if err != nil {
			t.Fatal(err)
		}
		if s.LoadLimited != tc.limited || s.Valid != tc.valid || !strings.Contains(s.Diagnosis, tc.diagnosis) {
			t.Errorf("%s: load-limited %q valid %v diagnosis %q", tc.name, s.LoadLimited, s.Valid, s.Diagnosis)
		}
	}
}

func TestUSLIntervals(t *testing.T) {
	truth := USLFit{Lambda: 100, Sigma: 0.05, Kappa: 0.002}
	ns := []float64{1, 2, 4, 8, 16, 24, 32, 48}
	noise := []float64{1.01, 0.99, 1.005, 0.995, 1.0, 1.008, 0.992, 1.003}
	xs := make([]float64, len(ns))
	cis := make([]stats.Interval, len(ns))
	for i, n := range ns {
		xs[i] = truth.Predict(n) * noise[i]
		cis[i] = stats.Interval{Lo: 0.98 * xs[i], Hi: 1.02 * xs[i]}
	}
	a, err := USLWithIntervals(ns, xs, cis, 0.95, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := USLWithIntervals(ns, xs, cis, 0.95, 42)
	c, _ := USLWithIntervals(ns, xs, cis, 0.95, 43)
	if a.SigmaCI != b.SigmaCI || a.KappaCI != b.KappaCI || a.LambdaCI != b.LambdaCI {
		t.Errorf("same seed, different intervals: %+v vs %+v", a, b)
	}
	if a.SigmaCI == c.SigmaCI {
		t.Errorf("another seed gave the same σ interval %v", a.SigmaCI)
	}
	for _, p := range []struct {
		name            string
		ci              stats.Interval
		estimate, truth float64
	}{
		{"λ", a.LambdaCI, a.Lambda, truth.Lambda}, {"σ", a.SigmaCI, a.Sigma, truth.Sigma}, {"κ", a.KappaCI, a.Kappa, truth.Kappa},
	} {
		if !p.ci.Contains(p.estimate) || !p.ci.Contains(p.truth) || p.ci.Lo < 0 || p.ci.Hi == p.ci.Lo {
			t.Errorf("%s interval %v, estimate %v, truth %v", p.name, p.ci, p.estimate, p.truth)
		}
	}
	// The fit is USL's own.
	plain, _ := USL(ns, xs)
	if plain.Sigma != a.Sigma || plain.Kappa != a.Kappa || plain.Lambda != a.Lambda {
		t.Errorf("fit changed: %+v vs %+v", plain, a)
	}
	// Without an interval on every point: no intervals.
	cis[3] = stats.NoInterval
	d, _ := USLWithIntervals(ns, xs, cis, 0.95, 42)
	if !d.SigmaCI.Unknown() || !d.KappaCI.Unknown() || !d.LambdaCI.Unknown() {
		t.Errorf("intervals from a point without one: %+v", d)
	}
	if _, err := USLWithIntervals(ns, xs, cis[:3], 0.95, 42); err == nil {
		t.Error("3 intervals for 8 points accepted")
	}
}

func TestPointsFromMapsIntervals(t *testing.T) {
	p := row(t, map[string]any{"request_rate": 4, "request_throughput": 3.9, "stopped_early": true, "confidence": 0.9,
		"ci": map[string]any{"request_throughput": []any{3.5, 4.3}, "median_ttft_ms": []any{nil, nil}, "delivered": nil}})
	if ci, ok := p.Interval("request_throughput"); !ok || ci != (stats.Interval{Lo: 3.5, Hi: 4.3}) {
		t.Errorf("request_throughput interval %v %v", ci, ok)
	}
	for _, f := range []string{"median_ttft_ms", "delivered", "p99_ttft_ms"} {
		if _, ok := p.Interval(f); ok {
			t.Errorf("%s has an interval", f)
		}
	}
	if !p.StoppedEarly {
		t.Error("stopped_early not read")
	}
	if v, ok := p.Field("confidence"); !ok || v != 0.9 {
		t.Errorf("confidence %v %v", v, ok)
	}
	for _, bad := range []any{[]any{1.0}, "x", []any{"a", 2.0}} {
		if _, err := PointsFromMaps([]map[string]any{{"ci": map[string]any{"request_throughput": bad}}}); err == nil ||
			!strings.Contains(err.Error(), "ci.request_throughput") {
			t.Errorf("ci %v: %v", bad, err)
		}
	}
}
