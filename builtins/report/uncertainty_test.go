package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starlab/builtins/analysis"
	"starlab/stats"
)

// Fixtures of the second wave: points with intervals, repeats, a point that never reached steady
// state and one whose consistency check failed, a published table that fails the per-request
// throughput check, and findings with intervals, three-valued verdicts and claims. The findings
// are built by hand (not by the analysis engines), so this golden changes only with the report.

// poissonSweep is an open-loop sweep as this wave's sweep() writes it.
func poissonSweep() []map[string]any {
	type row struct {
		rate, tput, tputLo, tputHi, ttft, ttftLo, ttftHi, p99, p99Lo, p99Hi, deliv, delivLo, delivHi float64
	}
	rows := []row{
		{2, 1.97, 1.62, 2.31, 41.2, 39.8, 42.9, 88, 70, 131, 0.985, 0.91, 1.05},
		{4, 3.9, 3.41, 4.38, 44.7, 43.1, 46.2, 97, 81, 150, 0.975, 0.93, 1.02},
		{6, 5.62, 5.1, 6.15, 61.3, 57.9, 64.6, 180, 150, 260, 0.937, 0.89, 0.98},
		{8, 6.91, 6.42, 7.4, 230, 190, 275, 1900, 1400, 3100, 0.864, 0.82, 0.91},
		{10, 7.05, 6.71, 7.38, 3120, 2810, 3430, 9800, 8100, 12400, 0.705, 0.67, 0.74},
	}
	var out []map[string]any
	for i, r := range rows {
		completed := int(math.Round(r.tput * 60))
		p := map[string]any{
			"request_rate": r.rate, "max_concurrency": 0, "duration": 60, "completed": completed, "failed": 0, "incomplete": 0,
			"total_output_tokens": completed * 128, "request_throughput": r.tput, "output_throughput": r.tput * 128,
			"mean_ttft_ms": r.ttft * 1.1, "median_ttft_ms": r.ttft, "p99_ttft_ms": r.p99, "mean_e2el_ms": 900 + r.ttft,
			"confidence": 0.95, "delivered": r.deliv,
			"ci": map[string]any{
				"request_throughput": []any{r.tputLo, r.tputHi}, "output_throughput": []any{r.tputLo * 128, r.tputHi * 128},
				"median_ttft_ms": []any{r.ttftLo, r.ttftHi}, "p99_ttft_ms": []any{r.p99Lo, r.p99Hi},
				"mean_ttft_ms": []any{r.ttftLo * 1.1, r.ttftHi * 1.1},
				"delivered":    []any{r.delivLo, r.delivHi},
			},
			"steady_state": map[string]any{"ok": true, "throughput_halves": []any{r.tput, r.tput},
				"median_ttft_halves": []any{r.ttft, r.ttft}, "running_halves": []any{nil, nil}},
			"checks": []any{
				map[string]any{"name": "tokens", "ok": true, "detail": "output_throughput matches"},
				map[string]any{"name": "offered_load", "ok": true, "detail": "request_throughput below the sends"},
			},
			"client": map[string]any{"achieved_send_rate": r.rate * 0.99},
			"repeat": 0,
		}
		var reps []any
		for j := range 3 {
			reps = append(reps, map[string]any{"request_rate": r.rate, "repeat": j + 1, "request_throughput": r.tput * (0.98 + 0.02*float64(j))})
		}
		p["repeats"] = reps
		if i == 3 {
			p["checks"] = []any{map[string]any{"name": "tokens", "ok": false,
				"detail": "output_throughput 752 tok/s vs request_throughput × tokens per request = 884 tok/s (tolerance 15%): the token and request counts disagree"}}
		}
		if i == 4 {
			p["steady_state"].(map[string]any)["ok"] = false
			p["steady_state"].(map[string]any)["detail"] = "second half vs first: median TTFT rose from 1480 to 4760 ms (p < 0.001): the queue kept growing"
		}
		out = append(out, p)
	}
	return out
}

// seed004Throughput is seed 004 §1.2 with its "Throughput (tok/s)" column, which Little's law
// shows to be one stream's throughput.
func seed004Throughput() []map[string]any {
	rows := []struct{ c, e2el, tput float64 }{{1, 1818, 55.6}, {2, 7089, 14.2}, {4, 7192, 14.0}, {8, 7360, 13.7},
		{16, 7633, 13.2}, {32, 8106, 12.5}, {48, 9926, 10.2}, {64, 10459, 9.7}}
	var out []map[string]any
	for _, r := range rows {
		out = append(out, map[string]any{"request_rate": "inf", "max_concurrency": r.c, "mean_e2el_ms": r.e2el, "output_throughput": r.tput})
	}
	return out
}

func iv(lo, hi float64) stats.Interval { return stats.Interval{Lo: lo, Hi: hi} }

// uncertaintyFindings are the knees, scalings, fits, comparisons and hypotheses of the fixture.
func uncertaintyFindings(t *testing.T) Report {
	t.Helper()
	r := Report{Title: "Intervals and verdicts"}
	knee := analysis.Knee{Found: true, Rate: 6, MaxThroughput: 7.05, Method: analysis.MethodOffered, Bracket: [2]float64{6, 8},
		X: "request_rate", Y: "request_throughput", Level: 0.95, RateCI: iv(4, 10), MaxThroughputCI: iv(6.71, 7.38),
		Reason: "rate 6 and 8 are inconclusive: the knee lies between 4 and 10 at 95%",
		Verdicts: []analysis.PointVerdict{
			{Load: 2, Verdict: analysis.NotSaturated, Delivered: 0.985, DeliveredCI: iv(0.91, 1.05), Reason: "delivered 0.985 [0.91, 1.05] >= 0.9 at 95%"},
			{Load: 4, Verdict: analysis.NotSaturated, Delivered: 0.975, DeliveredCI: iv(0.93, 1.02), Reason: "delivered 0.975 [0.93, 1.02] >= 0.9 at 95%"},
			{Load: 6, Verdict: analysis.SaturationUndecided, Delivered: 0.937, DeliveredCI: iv(0.89, 0.98), MoreData: 1.4,
				Reason: "delivered 0.937 [0.89, 0.98] straddles 0.9 at 95%: cannot tell yet: run ~135 more requests"},
			{Load: 8, Verdict: analysis.SaturationUndecided, Delivered: 0.864, DeliveredCI: iv(0.82, 0.91), MoreData: 1.3,
				Reason: "delivered 0.864 [0.82, 0.91] straddles 0.9 at 95%: cannot tell yet: run ~125 more requests"},
			{Load: 10, Verdict: analysis.Saturated, Delivered: 0.705, DeliveredCI: iv(0.67, 0.74), Reason: "delivered 0.705 [0.67, 0.74] < 0.9 at 95%"},
		},
		Evidence: []analysis.KneeEvidence{{Method: analysis.MethodOffered, Found: true, Rate: 6, Bracket: [2]float64{6, 8}, Detail: "at 95%"}},
		Checks:   []string{"point 3 (rate 8): tokens: output_throughput 752 tok/s vs 884 tok/s: the token and request counts disagree"},
	}
	r.Knees = append(r.Knees, FromKnee("poisson", knee))
	closed := analysis.Knee{Found: false, Rate: math.NaN(), MaxThroughput: 55.6, Bracket: [2]float64{math.NaN(), math.NaN()},
		X: "max_concurrency", Y: "output_throughput", Level: 0.95, RateCI: stats.NoInterval, MaxThroughputCI: stats.NoInterval,
		Reason: "output_throughput falls with concurrency: it is per-request throughput, not the server's",
		Checks: []string{"per_request_throughput: output_throughput falls from 55.6 to 9.7 tok/s while concurrency grows 64x and latency only 5.8x: Little's law says it is per-request throughput, not the server's"},
	}
	r.Knees = append(r.Knees, FromKnee("seed004", closed))

	r.Scalings = append(r.Scalings, FromScaling("one_gpu", "four_gpus", analysis.Scaling{N: 4, Metric: "request_throughput",
		Mode: analysis.ModeCapacity, Load: math.NaN(), Base: 7.05, Scaled: 26.3, Speedup: 3.73, Efficiency: 0.9326,
		SerialFraction: 0.0241, SpeedupCI: iv(3.41, 4.08), EfficiencyCI: iv(0.8525, 1.02), SerialFractionCI: iv(-0.0065, 0.0576),
		Level: 0.95, LoadLimited: "no", Valid: true}))
	r.Scalings = append(r.Scalings, FromScaling("one_gpu", "two_gpus", analysis.Scaling{N: 2, Metric: "request_throughput",
		Mode: analysis.ModeMatched, Load: 6, Base: 5.62, Scaled: 5.93, Speedup: 1.055, Efficiency: 0.5276, SerialFraction: 0.8957,
		SpeedupCI: iv(0.94, 1.18), EfficiencyCI: iv(0.47, 0.59), SerialFractionCI: iv(0.695, 1.128), Level: 0.95,
		LoadLimited: analysis.SaturationUndecided, Diagnosis: "possibly load-limited: the base could not be shown saturated at rate 6"}))

	r.USL = append(r.USL, FromUSL([]float64{1, 2, 4, 8}, []float64{10, 18.2, 30.8, 41.5}, analysis.USLFit{Lambda: 10.1,
		Sigma: 0.052, Kappa: 0.0061, PeakN: 12.3, PeakX: 44.2, R2: 0.998, LambdaCI: iv(9.6, 10.6), SigmaCI: iv(0.021, 0.094),
		KappaCI: iv(0, 0.0132), Level: 0.95}))

	a, b := 5.62, 5.93
	c := stats.CompareEstimates(a, iv(5.1, 6.15), b, iv(5.41, 6.44), 0.95)
	r.Comparisons = append(r.Comparisons, FromComparison(analysis.NamedComparison{A: `sweep "one_gpu" point 2 (rate=6)`,
		B: `sweep "two_gpus" point 2 (rate=6)`, Comparison: analysis.Comparison{Comparison: c, Metric: "request_throughput", At: 6,
			Level: 0.95, Resolve: 0.1, Requests: [2]float64{337, 356}, RequestsNeeded: 1020}}))

	var hs analysis.Hypotheses
	apply := func(call analysis.HypothesisCall) {
		t.Helper()
		if _, err := hs.Apply(call); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(cl analysis.Claim, err error) *analysis.Claim {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return &cl
	}
	yes := true
	apply(analysis.HypothesisCall{ID: "S-1", Statement: "4 GPUs near the knee give at least 3x", Seq: 1})
	apply(analysis.HypothesisCall{ID: "S-1", Seq: 9, Evidence: "capacity comparison",
		Claim: claim(analysis.Expect("speedup", 3.73, iv(3.41, 4.08), 8, ">=", 3, 0.95))})
	apply(analysis.HypothesisCall{ID: "S-2", Statement: "2 GPUs cut p99 TTFT at rate 6", Seq: 10,
		Claim: claim(analysis.Expect("p99_ttft_ms ratio", 0.92, iv(0.81, 1.04), 7, "<", 1, 0.95))})
	apply(analysis.HypothesisCall{ID: "S-3", Statement: "the knee lies at 9 to 12 req/s", Seq: 11,
		Claim: claim(analysis.Within("knee rate", 6, iv(4, 8), 5, 9, 12, 0.95))})
	apply(analysis.HypothesisCall{ID: "S-4", Statement: "the seed's throughput column is per request", Seq: 12, Supported: &yes,
		Evidence: "Little's law"})
	apply(analysis.HypothesisCall{ID: "S-5", Statement: "8 GPUs scale past 6x", Seq: 13})
	for _, h := range hs.List() {
		r.Hypotheses = append(r.Hypotheses, FromHypothesis(h))
	}
	return r
}

func uncertaintyRun(t *testing.T) (string, Report) {
	t.Helper()
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "manifest.json"), map[string]any{
		"plan": map[string]any{"path": "experiments/intervals.star", "sha256": "feed"}, "seed": 7, "confidence": 0.95,
		"mode": "fresh", "virtual": true, "starlab": "test",
	})
	writeJSON(t, filepath.Join(dir, "sweeps", "poisson.json"), poissonSweep())
	r := uncertaintyFindings(t)
	r.Given = []GivenPoints{{Name: "seed004", Points: seed004Throughput()}}
	return dir, r
}

// TestUncertaintyReportGolden: intervals in tables (± and lopsided), the legend, warnings for a
// point that never reached steady state, a failed check and a table that fails the
// per-request throughput check, per-load knee verdicts, scaling and USL intervals, a comparison,
// and hypotheses decided before and after their evidence, one inconclusive with its need.
func TestUncertaintyReportGolden(t *testing.T) {
	dir, r := uncertaintyRun(t)
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "uncertainty.md", md)
	checkPlots(t, dir, md)
	csv, err := os.ReadFile(filepath.Join(dir, "sweeps", "poisson.csv"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "uncertainty_poisson.csv", csv)
	for _, want := range []string{
		"± is the half-width of the 95% interval (confidence from the run)",
		"| 6 | 100.0% | 67.4 ± 3.7 | 61.3 ± 3.3 | 180 [150, 260] |",
		"## Warnings",
		"poisson, rate 10 req/s: ⚠ not steady: second half vs first: median TTFT rose",
		"poisson, rate 8 req/s: ⚠ tokens: output_throughput 752",
		"seed004 (the table): ⚠ per_request_throughput: output_throughput falls from 55.6 to 9.7",
		"⚠ per_request_throughput: output_throughput falls",
		"| 6 | ❔ inconclusive (~1.4x more data needed) | 0.937 [0.89, 0.98] |",
		"The knee's request_rate lies in [4, 10] at 95%",
		"max request_throughput 7.05 ± 0.34",
		"| 3.73 ± 0.34 |",
		"| ❔ inconclusive |",
		"| S-1 | 4 GPUs near the knee give at least 3x | ✅ supported | speedup 3.73 [3.41, 4.08] >= 3 at 95% | before the evidence |",
		"| S-2 | 2 GPUs cut p99 TTFT at rate 6 | ❔ inconclusive (~",
		"| after the evidence |",
		"| S-3 | the knee lies at 9 to 12 req/s | ❌ refuted | knee rate 6 [4, 8] within [9, 12] at 95% | after the evidence |",
		"| S-4 | the seed's throughput column is per request | ✅ supported | — | — |",
		"| S-5 | 8 GPUs scale past 6x | ❔ undecided | — | — |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	// report.json carries the intervals for outside tools, and Regenerate rebuilds the same
	// report.md from it.
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Knees []struct {
			RateCI   []float64 `json:"rate_ci"`
			Verdicts []struct {
				Verdict     string    `json:"verdict"`
				DeliveredCI []float64 `json:"delivered_ci"`
			} `json:"verdicts"`
		} `json:"knees"`
		Scalings []struct {
			SpeedupCI   []float64 `json:"speedup_ci"`
			LoadLimited string    `json:"load_limited"`
		} `json:"scalings"`
		USL []struct {
			SigmaCI []float64 `json:"sigma_ci"`
		} `json:"usl"`
		Comparisons []struct {
			RatioCI []float64 `json:"ratio_ci"`
		} `json:"comparisons"`
		Hypotheses []struct {
			Declared string `json:"declared"`
			Claim    *struct {
				CI   []float64 `json:"ci"`
				Need string    `json:"need"`
			} `json:"claim"`
		} `json:"hypotheses"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Knees) != 2 || len(doc.Knees[0].RateCI) != 2 || doc.Knees[0].Verdicts[2].Verdict != "inconclusive" ||
		len(doc.Knees[0].Verdicts[2].DeliveredCI) != 2 || doc.Knees[1].RateCI != nil {
		t.Errorf("report.json knees: %+v", doc.Knees)
	}
	if len(doc.Scalings) != 2 || len(doc.Scalings[0].SpeedupCI) != 2 || doc.Scalings[1].LoadLimited != "inconclusive" {
		t.Errorf("report.json scalings: %+v", doc.Scalings)
	}
	if len(doc.USL) != 1 || len(doc.USL[0].SigmaCI) != 2 || len(doc.Comparisons) != 1 || len(doc.Comparisons[0].RatioCI) != 2 {
		t.Errorf("report.json usl %+v, comparisons %+v", doc.USL, doc.Comparisons)
	}
	if h := doc.Hypotheses; len(h) != 5 || h[0].Declared != "before the evidence" || h[1].Claim == nil || h[1].Claim.Need == "" ||
		len(h[1].Claim.CI) != 2 || h[3].Claim != nil || h[3].Declared != "" {
		t.Errorf("report.json hypotheses: %+v", h)
	}
	os.Remove(filepath.Join(dir, "report.md"))
	if err := Regenerate(dir); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(md, again) {
		t.Errorf("Regenerate from report.json changed report.md:\n%s", again)
	}
}

func TestFmtCI(t *testing.T) {
	for _, tt := range []struct {
		v, lo, hi float64
		want      string
	}{
		{9.1234, 8.81, 9.43, "9.12 ± 0.31"},
		{6899, 6490, 7310, "6900 ± 410"},
		{0.0241, -0.0065, 0.0576, "0.024 ± 0.032"}, // 0.0306 below, 0.0335 above: not lopsided
		{180, 150, 260, "180 [150, 260]"},          // 30 below, 80 above
		{5, 5, 5, "5 ± 0"},
		{13.68, math.NaN(), math.NaN(), "13.68"},
		{7, 7.5, 8, "7.00 [7.50, 8.00]"},        // an interval that misses its value shows its ends
		{123456, 123406, 123506, "123500 ± 50"}, // at most four significant digits of the value
		{-0.5, -0.6, -0.4, "-0.50 ± 0.10"},
		{2006, 2003.6, 2006.1, "2006 [2004, 2006]"}, // ends at the value's place, not finer
	} {
		if got := fmtCI(tt.v, stats.Interval{Lo: tt.lo, Hi: tt.hi}); got != tt.want {
			t.Errorf("fmtCI(%v, [%v, %v]) = %q, want %q", tt.v, tt.lo, tt.hi, got, tt.want)
		}
	}
}

// denseSweep has more points than bandAbove, each with an interval: its chart shows a band.
func denseSweep() []map[string]any {
	var out []map[string]any
	for i := range bandAbove + 3 {
		rate := float64(i + 1)
		tput := math.Min(rate, 10)
		out = append(out, map[string]any{"request_rate": rate, "request_throughput": tput, "median_ttft_ms": 40 + 10*rate,
			"confidence": 0.95, "ci": map[string]any{"request_throughput": []any{tput * 0.9, tput * 1.1},
				"median_ttft_ms": []any{30 + 10*rate, 55 + 10*rate}}})
	}
	return out
}

// withoutCI is the rows with their intervals removed.
func withoutCI(rows []map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range rows {
		c := map[string]any{}
		for k, v := range r {
			if k != "ci" {
				c[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// TestPlotsShowIntervalsDeterministically: the charts draw intervals on y (error bars, or a band
// for a dense curve), and the same input gives byte-identical PNG and SVG.
func TestPlotsShowIntervalsDeterministically(t *testing.T) {
	draw := func(rows []map[string]any, knees []Knee) map[string][]byte {
		t.Helper()
		s, err := newSweep("s", rows, false)
		if err != nil {
			t.Fatal(err)
		}
		r := Report{Knees: knees}
		out := map[string][]byte{}
		for _, ref := range PlanPlots(r, []Sweep{s}).All([]Sweep{s}) {
			p, err := ref.draw()
			if err != nil {
				t.Fatal(err)
			}
			for _, format := range []string{"png", "svg"} {
				data, err := renderPlot(p, format)
				if err != nil {
					t.Fatal(err)
				}
				out[ref.File+"."+format] = data
			}
		}
		return out
	}
	rf := FromKnee("s", analysis.Knee{Found: true, Rate: 6, MaxThroughput: 7.05, X: "request_rate", Y: "request_throughput",
		Bracket: [2]float64{6, 8}, Level: 0.95, RateCI: iv(4, 10), MaxThroughputCI: iv(6.71, 7.38)})
	for name, rows := range map[string][]map[string]any{"poisson": poissonSweep(), "dense": denseSweep()} {
		first, second, plain := draw(rows, []Knee{rf}), draw(rows, []Knee{rf}), draw(withoutCI(rows), []Knee{rf})
		if len(first) != 4 {
			t.Fatalf("%s: want a throughput and a latency chart as PNG and SVG, got %d files", name, len(first))
		}
		for file, data := range first {
			if !bytes.Equal(data, second[file]) {
				t.Errorf("%s: %s differs between two draws of the same input", name, file)
			}
			if bytes.Equal(data, plain[file]) {
				t.Errorf("%s: %s is the same with and without intervals", name, file)
			}
		}
		// A band is a filled path; error bars are strokes only.
		fills := func(svg []byte) int { return bytes.Count(svg, []byte("fill-opacity")) }
		gotBand := fills(first["latency_s.svg"]) > fills(plain["latency_s.svg"])
		if want := name == "dense"; gotBand != want {
			t.Errorf("%s: band drawn = %v, want %v", name, gotBand, want)
		}
	}
}
