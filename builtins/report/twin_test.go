package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starlab/builtins/sim"
	"starlab/builtins/sweep/pointschema"
)

// The twin fixture: calibration "cal" fitted on server "real"'s closed-loop probe (concurrency 1,
// 2, 4), its twin swept closed and open loop, and the real server measured at other loads.

// twinPoint is one point of a fixture sweep; load is a concurrency (closed) or a rate (open).
func twinPoint(server, cal string, closed bool, load float64, tput, ttft50, ttft99, tpot float64) map[string]any {
	p := map[string]any{"server": server, "completed": 100, "failed": 0, "duration": 60,
		"total_input_tokens": 51200, "total_output_tokens": 12000, "request_throughput": tput,
		"median_ttft_ms": ttft50, "p99_ttft_ms": ttft99, "mean_tpot_ms": tpot, "checks": []any{}}
	if closed {
		p["request_rate"], p["max_concurrency"] = "inf", load
	} else {
		p["request_rate"] = load
	}
	if cal != "" {
		p["calibration"] = cal
	}
	return p
}

func with(p map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		p[kv[i].(string)] = kv[i+1]
	}
	return p
}

func maxRunning(n float64) map[string]any { return map[string]any{"max_running": n} }

func fixtureCalibration() sim.Calibration {
	fit := func(c int, tput, ttft, tpot float64, pred [3]float64) sim.FitPoint {
		m := map[string]float64{"request_throughput": tput, "mean_ttft_ms": ttft, "mean_tpot_ms": tpot}
		p := map[string]float64{"request_throughput": pred[0], "mean_ttft_ms": pred[1], "mean_tpot_ms": pred[2]}
		e := map[string]float64{}
		for k := range m {
			e[k] = 100 * (p[k] - m[k]) / m[k]
		}
		return sim.FitPoint{Sweep: "probe", Index: c / 2, Load: "concurrency=" + string(rune('0'+c)), Concurrency: c,
			Measured: m, Predicted: p, ErrorPct: e}
	}
	return sim.Calibration{Name: "cal", Engine: "llama.cpp", Model: "/models/tiny-llama3.gguf", Confidence: 0.95,
		Step:   sim.LinearCost{FixedMs: 12, PerPrefillTokenMs: 0.05, PerPrefillSeqMs: 2, PerDecodeSeqMs: 1.5, RequestOverheadMs: 3},
		StdErr: map[string]float64{"fixed_ms": 0.4, "per_prefill_token_ms": 0.004, "per_decode_seq_ms": 0.2, "request_overhead_ms": 1.5},
		CI: map[string][2]float64{"fixed_ms": {11.2, 12.8}, "per_prefill_token_ms": {0.042, 0.058}, "per_decode_seq_ms": {1.1, 1.9},
			"request_overhead_ms": {0.4, 6.9}},
		Limits: sim.Limits{MaxNumSeqs: 4, MaxNumBatchedTokens: 2048, KVTokens: 8192, KVSource: "startup log", MaxModelLen: 4096, TensorParallel: 1},
		Fit: sim.FitQuality{R2: 0.85, RMSEPct: 6.2, MAPEPct: 4.9, Observations: 9, Parameters: 4, Iterations: 12,
			Unidentified: []string{"per_context_token_ms"}, Fixed: []string{"per_prefill_seq_ms"},
			Points: []sim.FitPoint{fit(1, 0.5, 95, 20, [3]float64{0.52, 100, 20.5}), fit(2, 1, 100, 21, [3]float64{0.98, 103, 21}),
				fit(4, 1.8, 115, 24, [3]float64{1.75, 112, 25})}},
		Range: sim.LoadRange{Running: [2]float64{1, 4}, InputTokens: [2]float64{500, 520}, OutputTokens: [2]float64{100, 128},
			RequestThroughput: [2]float64{0.5, 1.8}},
		Source: sim.Source{Server: "real", Sweeps: []string{"probe"}, Samples: 300}}
}

// twinRun writes the fixture run directory and the knees find_knee would have recorded.
func twinRun(t *testing.T) (string, Report) {
	t.Helper()
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "manifest.json"), map[string]any{
		"plan": map[string]any{"path": "experiments/twin.star", "sha256": "feed"}, "seed": 7, "mode": "fresh", "virtual": true,
		"starlab": "test", "confidence": 0.95})
	writeJSON(t, filepath.Join(dir, "calibrations", "cal.json"), fixtureCalibration())
	closed := func(server, cal string, c, tput, ttft50, ttft99, tpot float64) map[string]any {
		return twinPoint(server, cal, true, c, tput, ttft50, ttft99, tpot)
	}
	open := func(server, cal string, r, tput, ttft50, ttft99, tpot float64) map[string]any {
		return twinPoint(server, cal, false, r, tput, ttft50, ttft99, tpot)
	}
	writeJSON(t, filepath.Join(dir, "sweeps", "probe.json"), []map[string]any{
		closed("real", "", 1, 0.5, 100, 150, 20), closed("real", "", 2, 1, 100, 160, 21), closed("real", "", 4, 1.8, 115, 180, 24)})
	writeJSON(t, filepath.Join(dir, "sweeps", "twin_closed.json"), []map[string]any{
		with(closed("twin", "cal", 1, 0.5, 100, 150, 20), "server_metrics", maxRunning(1)),
		with(closed("twin", "cal", 2, 1, 105, 160, 21), "server_metrics", maxRunning(2)),
		with(closed("twin", "cal", 4, 1.8, 115, 180, 24), "server_metrics", maxRunning(4)),
		// The engine holds 4 sequences: concurrency 8 keeps 4 running, inside the range.
		with(closed("twin", "cal", 8, 2, 900, 1500, 25), "server_metrics", maxRunning(4)),
		// No server metrics: the concurrency counts; prompts twice the calibrated ones.
		with(closed("twin", "cal", 16, 2, 4000, 6000, 25), "total_input_tokens", 102400),
	})
	writeJSON(t, filepath.Join(dir, "sweeps", "meas_closed.json"), []map[string]any{
		with(closed("real", "", 2, 1.1, 100, 170, 21), "confidence", 0.95, "ci", map[string]any{"request_throughput": []any{1.0, 1.2}}),
		closed("real", "", 3, 1.5, 105, 175, 22),
		closed("real", "", 8, 2.5, 1000, 1500, 25),
	})
	writeJSON(t, filepath.Join(dir, "sweeps", "twin_open.json"), []map[string]any{
		with(open("twin", "cal", 1, 1, 100, 200, 20), "server_metrics", maxRunning(1), "total_output_tokens", 8000),
		with(open("twin", "cal", 2, 2, 110, 220, 22), "server_metrics", maxRunning(3), "mean_e2el_ms", 1500),
		// No server metrics: Little's law, 3.6 req/s × 2 s = 7.2 in flight; prompts within 10%.
		with(open("twin", "cal", 4, 3.6, 150, 300, 30), "mean_e2el_ms", 2000, "total_input_tokens", 56000),
		with(open("twin", "cal", 8, 4, 1000, 3000, 40), "server_metrics", maxRunning(6)),
	})
	writeJSON(t, filepath.Join(dir, "sweeps", "meas_open.json"), []map[string]any{
		open("real", "", 0.5, 0.5, 90, 180, 19),
		with(open("real", "", 2, 2.5, 100, 200, 20), "confidence", 0.95,
			"ci", map[string]any{"request_throughput": []any{2.4, 2.6}, "median_ttft_ms": []any{90, 120}}),
		with(open("real", "", 3, 2.8, 100, 260, 26), "confidence", 0.95, "ci", map[string]any{"mean_tpot_ms": []any{25, 27}}),
		open("real", "", 4.000001, 4, 150, 300, 30),
		open("real", "", 6, 4, 500, 1500, 35),
		open("real", "", 20, 4.1, 9000, 20000, 60),
	})
	// A server that is neither the twin nor the calibrated one, and a twin whose calibration
	// this run does not hold.
	writeJSON(t, filepath.Join(dir, "sweeps", "other.json"), []map[string]any{open("other", "", 2, 2, 100, 200, 20)})
	writeJSON(t, filepath.Join(dir, "sweeps", "twin_lost.json"), []map[string]any{open("twin2", "gone", 2, 2, 100, 200, 20)})
	r := Report{Title: "Twin", Knees: []Knee{
		{Sweep: "twin_open", Found: true, Rate: 4, MaxThroughput: 4, Method: "plateau", X: pointschema.RequestRate, Y: pointschema.RequestThroughput,
			Bracket: [2]Num{4, 8}},
		{Sweep: "meas_open", Found: true, Rate: 6, MaxThroughput: 4.2, Method: "plateau", X: pointschema.RequestRate, Y: pointschema.RequestThroughput,
			Bracket: [2]Num{6, 20}}}}
	return dir, r
}

func writeTwinReport(t *testing.T) (string, Report, []byte) {
	t.Helper()
	dir, r := twinRun(t)
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	return dir, got, md
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestTwinPairing(t *testing.T) {
	_, r, _ := writeTwinReport(t)
	type pair struct {
		load         float64
		interpolated bool
		between      [2]float64
		errs         [4]float64 // throughput, TTFT p50, TTFT p99, TPOT: percent
	}
	for _, tc := range []struct {
		twin, meas string
		x          string
		inSample   bool
		pairs      []pair
		skipped    []float64
		mape       [4]float64
		within     map[string][2]int // metric -> within, with CI
	}{
		{twin: "twin_closed", meas: "meas_closed", x: pointschema.MaxConcurrency,
			pairs: []pair{{load: 2, errs: [4]float64{100 * (1 - 1.1) / 1.1, 5, 100 * (160 - 170.0) / 170, 0}},
				{load: 8, errs: [4]float64{-20, -10, 0, 0}}},
			// Closed loops pair on equal concurrency only: 3 is not read off the curve.
			skipped: []float64{3},
			mape:    [4]float64{(100*0.1/1.1 + 20) / 2, 7.5, 100 * 10.0 / 170 / 2, 0},
			within:  map[string][2]int{pointschema.RequestThroughput: {1, 1}}},
		{twin: "twin_closed", meas: "probe", x: pointschema.MaxConcurrency, inSample: true,
			pairs: []pair{{load: 1}, {load: 2, errs: [4]float64{0, 5, 0, 0}}, {load: 4}},
			mape:  [4]float64{0, 5.0 / 3, 0, 0}},
		{twin: "twin_open", meas: "meas_open", x: pointschema.RequestRate,
			pairs: []pair{
				{load: 2, errs: [4]float64{-20, 10, 10, 10}},
				{load: 3, interpolated: true, between: [2]float64{2, 4}, errs: [4]float64{0, 30, 0, 0}},
				// 4.000001 is the twin's 4 within the relative tolerance.
				{load: 4.000001, errs: [4]float64{-10, 0, 0, 0}},
				{load: 6, interpolated: true, between: [2]float64{4, 8}, errs: [4]float64{-5, 15, 10, 0}}},
			// 0.5 and 20 lie outside the twin's rates: no partner, no extrapolation of its curve.
			skipped: []float64{0.5, 20},
			mape:    [4]float64{8.75, 13.75, 5, 2.5},
			within: map[string][2]int{pointschema.RequestThroughput: {0, 1}, pointschema.MedianTTFTMs: {1, 1},
				fieldMeanTPOT: {1, 1}}},
	} {
		t.Run(tc.twin+"/"+tc.meas, func(t *testing.T) {
			var got *TwinComparison
			for i := range r.Twins {
				if r.Twins[i].Twin == tc.twin && r.Twins[i].Measured == tc.meas {
					got = &r.Twins[i]
				}
			}
			if got == nil {
				t.Fatalf("no comparison of %s with %s in report.json", tc.twin, tc.meas)
			}
			if got.X != tc.x || got.InSample != tc.inSample || got.Calibration != "cal" || got.Server != "real" {
				t.Errorf("x %s, in sample %v, calibration %s, server %s", got.X, got.InSample, got.Calibration, got.Server)
			}
			if len(got.Pairs) != len(tc.pairs) {
				t.Fatalf("%d pairs, want %d: %+v", len(got.Pairs), len(tc.pairs), got.Pairs)
			}
			for i, want := range tc.pairs {
				p := got.Pairs[i]
				if !near(float64(p.Load), want.load) || p.Interpolated != want.interpolated {
					t.Errorf("pair %d: load %v interpolated %v, want %v %v", i, p.Load, p.Interpolated, want.load, want.interpolated)
				}
				if want.interpolated && (p.Between == nil || float64(p.Between[0]) != want.between[0] || float64(p.Between[1]) != want.between[1]) {
					t.Errorf("pair %d: between %v, want %v", i, p.Between, want.between)
				}
				if len(p.Values) != len(twinMetrics) {
					t.Fatalf("pair %d: %d metrics, want %d", i, len(p.Values), len(twinMetrics))
				}
				for j, m := range twinMetrics {
					v := p.Values[j]
					if v.Metric != m || !near(float64(v.ErrorPct), want.errs[j]) {
						t.Errorf("pair %d %s: error %v%%, want %v%% (measured %v, predicted %v)", i, v.Metric, v.ErrorPct, want.errs[j], v.Measured, v.Predicted)
					}
					if got := 100 * (float64(v.Predicted) - float64(v.Measured)) / float64(v.Measured); !near(got, float64(v.ErrorPct)) {
						t.Errorf("pair %d %s: error %v is not (predicted − measured)/measured = %v", i, v.Metric, v.ErrorPct, got)
					}
				}
			}
			var skipped []float64
			for _, s := range got.Skipped {
				skipped = append(skipped, float64(s))
			}
			if len(skipped) != len(tc.skipped) || (len(skipped) > 0 && !near(skipped[0], tc.skipped[0])) ||
				(len(skipped) > 1 && !near(skipped[1], tc.skipped[1])) {
				t.Errorf("skipped %v, want %v", skipped, tc.skipped)
			}
			if len(got.Metrics) != len(twinMetrics) {
				t.Fatalf("%d metric summaries, want %d", len(got.Metrics), len(twinMetrics))
			}
			for j, m := range got.Metrics {
				if m.Metric != twinMetrics[j] || m.Pairs != len(tc.pairs) || !near(float64(m.MAPEPct), tc.mape[j]) {
					t.Errorf("%s: MAPE %v%% over %d pairs, want %v%% over %d", m.Metric, m.MAPEPct, m.Pairs, tc.mape[j], len(tc.pairs))
				}
				w := tc.within[m.Metric]
				if m.WithinCI != w[0] || m.WithCI != w[1] {
					t.Errorf("%s: %d of %d within the measured CI, want %d of %d", m.Metric, m.WithinCI, m.WithCI, w[0], w[1])
				}
			}
			if len(got.Plots) != 4 {
				t.Errorf("plots %v, want 4", got.Plots)
			}
		})
	}
	if len(r.Twins) != 3 {
		t.Errorf("%d comparisons, want 3 (other's and twin_lost's sweeps pair with nothing)", len(r.Twins))
	}
	for _, tc := range r.Twins {
		if tc.Twin == "twin_open" {
			k := tc.Knee
			if k == nil || float64(k.TwinRate) != 4 || float64(k.MeasuredRate) != 6 || !near(float64(k.MaxThroughputErrorPct), 100*(4-4.2)/4.2) {
				t.Errorf("knee %+v", k)
			}
		}
	}
}

func TestTwinExtrapolations(t *testing.T) {
	_, r, md := writeTwinReport(t)
	want := []struct {
		sweep, load, quantity string
		value                 float64
	}{
		{"twin_closed", "concurrency 16", "running", 16},
		{"twin_closed", "concurrency 16", "input_tokens", 1024},
		{"twin_open", "rate 1 req/s", "output_tokens", 80},
		{"twin_open", "rate 4 req/s", "running", 8},
		{"twin_open", "rate 8 req/s", "running", 6},
	}
	if len(r.Extrapolations) != len(want) {
		t.Fatalf("extrapolations %+v, want %d", r.Extrapolations, len(want))
	}
	for i, w := range want {
		e := r.Extrapolations[i]
		if e.Calibration != "cal" || e.Sweep != w.sweep || e.Load != w.load || e.Quantity != w.quantity || !near(float64(e.Value), w.value) {
			t.Errorf("extrapolation %d: %+v, want %+v", i, e, w)
		}
	}
	for _, line := range []string{
		"- calibration cal: ⚠ not identified: the measurements do not determine per_context_token_ms;",
		"- calibration cal: ⚠ poor fit: R² 0.85, MAPE 4.9%",
		"- twin_closed, concurrency 16: ⚠ extrapolated: 16 requests in flight, calibrated on 1–4 (4× the calibrated maximum); " +
			"mean prompt of 1024 tokens per request, calibrated on 500–520 (+96.9%): the twin (calibration cal) extrapolates",
		"- twin_open, rate 1 req/s: ⚠ extrapolated: mean output of 80 tokens per request, calibrated on 100–128 (−20.0%): the twin (calibration cal) extrapolates",
		"- twin_open, rate 4 req/s: ⚠ extrapolated: 8 requests in flight (Little's law), calibrated on 1–4 (2× the calibrated maximum)",
		"- twin_open, rate 8 req/s: ⚠ extrapolated: 6 requests running at the engine, calibrated on 1–4 (1.5× the calibrated maximum)",
		"- twin_lost (the table): ⚠ calibration missing: the twin runs on calibration gone, which is not in calibrations/",
	} {
		if !strings.Contains(string(md), line) {
			t.Errorf("Warnings lack %q", line)
		}
	}
	for _, inside := range []string{"twin_closed, concurrency 8:", "twin_open, rate 2 req/s:", "twin_closed, concurrency 4:"} {
		if strings.Contains(string(md), inside) {
			t.Errorf("report warns about %q, which is inside the calibrated range", inside)
		}
	}
}

func TestCalibrationWarnings(t *testing.T) {
	for _, tc := range []struct {
		name         string
		r2, mape     float64
		unidentified []string
		want         []string
	}{
		{"good", 0.97, 2, nil, nil},
		{"poor fit", 0.5, 2, nil, []string{"⚠ poor fit: R² 0.5, MAPE 2%"}},
		{"large errors", 0.95, 14, nil, []string{"⚠ poor fit: R² 0.95, MAPE 14%"}},
		{"unidentified", 0.95, 2, []string{"per_context_token_ms", "request_overhead_ms"},
			[]string{"⚠ not identified: the measurements do not determine per_context_token_ms, request_overhead_ms"}},
		// Figures that hardly vary have no R²; small errors are then a good fit.
		{"no R², small errors", math.NaN(), 3, nil, nil},
		{"no R², large errors", math.NaN(), 12, nil, []string{"⚠ poor fit: R² — (the figures hardly vary between the points), MAPE 12%"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := calibrationWarnings([]CalibrationSummary{{Name: "c", R2: Num(tc.r2), MAPEPct: Num(tc.mape), Unidentified: tc.unidentified}})
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d lines", got, len(tc.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("line %q lacks %q", got[i], tc.want[i])
				}
			}
		})
	}
}

func TestTwinReportGolden(t *testing.T) {
	dir, r, md := writeTwinReport(t)
	golden(t, "twin.md", md)
	checkPlots(t, dir, md)
	for _, tc := range r.Twins {
		for _, p := range tc.Plots {
			for _, ext := range []string{".png", ".svg"} {
				if _, err := os.Stat(filepath.Join(dir, "plots", p.File+ext)); err != nil {
					t.Error(err)
				}
			}
		}
	}
	if len(r.Calibrations) != 1 {
		t.Fatalf("calibrations %+v", r.Calibrations)
	}
	c := r.Calibrations[0]
	if c.Server != "real" || len(c.Params) != len(sim.LinearParams) || len(c.Points) != 9 || c.Range.Running != [2]Num{1, 4} {
		t.Errorf("calibration summary %+v", c)
	}
	for _, want := range []string{
		"## Calibrations", "| fixed_ms | 12.00 ± 0.80 | 0.4 | fitted |", "| per_context_token_ms | 0 | — | ⚠ not identified |", "| per_prefill_seq_ms | 2 | — | fixed |",
		"| request_overhead_ms | 3.0 [0.4, 6.9] | 1.5 | fitted |",
		"Twin of server real (llama.cpp, model `tiny-llama3.gguf`), fitted on probe: 9 observations, R² 0.85, RMSE 6.2%, MAPE 4.9%.",
		"Fitted on 1–4 requests in flight at the engine, prompts of 500–520 tokens, outputs of 100–128 tokens, throughput 0.5–1.8 req/s.",
		"| probe, concurrency 1 | throughput (req/s) | 0.5 | 0.52 | +4.0% |",
		"## Twin vs measurement", "### twin_open (twin, calibration cal) vs meas_open (server real)",
		"4 measured points paired (2 interpolated); 2 without a twin point at their load, skipped (rate 0.5, 20).",
		"| 3 (interpolated, 2–4) | TTFT median (ms) | 100 | 130 | +30.0% | — |",
		"| 2 | throughput (req/s) | 2.50 ± 0.10 | 2 | −20.0% | **no** |",
		"| throughput (req/s) | 4 | 8.8% | 0 of 1 |", "| TTFT p99 (ms) | 2 | 2.9% | — |",
		"probe is one of the sweeps cal was fitted on: these pairs show the fit",
		"Knee: the twin's at request_rate 4 with max throughput 4 req/s, measured at 6 with 4.2 req/s (error −4.8%).",
		"![throughput (req/s): twin (sweep twin_open) vs measured (sweep meas_open)](plots/twin_twin_open_vs_meas_open_throughput.png)",
		"| 16 | 100.0% | 4000 | 6000 | 2 | ⚠ extrapolated |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	// `starlab report RUNDIR`: everything again from the files alone, with or without report.json.
	for _, drop := range []string{"report.md", "plots", "report.json"} {
		if err := os.RemoveAll(filepath.Join(dir, drop)); err != nil {
			t.Fatal(err)
		}
		if err := Regenerate(dir); err != nil {
			t.Fatal(err)
		}
		again, err := os.ReadFile(filepath.Join(dir, "report.md"))
		if err != nil {
			t.Fatal(err)
		}
		if drop != "report.json" && string(again) != string(md) {
			t.Errorf("Regenerate without %s changed report.md:\n%s", drop, again)
		}
		for _, want := range []string{"## Calibrations", "## Twin vs measurement", "⚠ extrapolated"} {
			if !strings.Contains(string(again), want) {
				t.Errorf("Regenerate without %s: report.md lacks %q", drop, want)
			}
		}
		checkPlots(t, dir, again)
	}
}

// The fields the twin sections read by name are fields of a sweep point.
func TestTwinFieldsAreInTheSchema(t *testing.T) {
	fields := pointschema.Fields()
	for _, f := range []string{fieldMeanTPOT, fieldTotalInputTokens, fieldMaxRunning, fieldMeanE2EL, fieldTotalOutputTokens,
		pointschema.Server, pointschema.Calibration} {
		if _, ok := pointschema.Lookup(fields, f); !ok {
			t.Errorf("%s is not a field of pointschema.Point", f)
		}
	}
}
