package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"starlab/builtins/analysis"
)

// Fixtures: the seeds' published tables (/work/shared/seeds) written as sweeps/*.json, plus one
// sweep with every field a starlab sweep writes.

func seed003() []map[string]any {
	// Exact in the seed: 9.11 at 10 (TTFT 87.58 ms), 12.24 at 20 (6899 ms), 17.9 s at 60, plateau
	// ≈ 13.7; the other values lie inside the ranges it states.
	rows := []struct{ rate, tput, ttft float64 }{{10, 9.11, 87.58}, {20, 12.24, 6899}, {30, 13.52, 11000}, {40, 13.68, 14000}, {60, 13.61, 17900}}
	var out []map[string]any
	for _, r := range rows {
		out = append(out, map[string]any{"request_rate": r.rate, "request_throughput": r.tput, "mean_ttft_ms": r.ttft})
	}
	return out
}

func seed000(gpus int) []map[string]any {
	if gpus == 1 {
		return []map[string]any{{"request_rate": 10, "request_throughput": 9.1, "output_throughput": 2916, "mean_ttft_ms": 85, "mean_tpot_ms": 37.5, "failed": 0}}
	}
	return []map[string]any{{"request_rate": 10, "request_throughput": 9.2, "output_throughput": 2950, "mean_ttft_ms": 66, "mean_tpot_ms": 28.5, "failed": 0}}
}

// seed004 is §1.2 (closed loop); the seed states 100 % success but not the request count, so
// completed is 100 per level.
func seed004() []map[string]any {
	rows := []struct{ c, ttft, e2el float64 }{{1, 84.0, 1818}, {2, 106.4, 7089}, {4, 140.9, 7192}, {8, 181.8, 7360},
		{16, 227.9, 7633}, {32, 352.6, 8106}, {48, 375.0, 9926}, {64, 439.7, 10459}}
	var out []map[string]any
	for _, r := range rows {
		out = append(out, map[string]any{"request_rate": "inf", "max_concurrency": r.c, "completed": 100, "failed": 0,
			"mean_ttft_ms": r.ttft, "mean_e2el_ms": r.e2el,
			"gpu": map[string]any{"devices": []any{map[string]any{"max_memory_used_bytes": 23398 << 20}}}})
	}
	return out
}

// fullSweep has every column: percentiles, client, server_metrics and gpu energy.
func fullSweep() []map[string]any {
	var out []map[string]any
	for i, rate := range []float64{5, 10, 20} {
		tput := math.Min(rate*0.97, 12)
		out = append(out, map[string]any{
			"request_rate": rate, "max_concurrency": 0, "duration": 60, "completed": int(tput * 60), "failed": i, "incomplete": 0,
			"request_throughput": tput, "output_throughput": tput * 128, "total_token_throughput": tput * 640,
			"mean_ttft_ms": 40 * math.Pow(4, float64(i)), "median_ttft_ms": 38 * math.Pow(4, float64(i)), "p99_ttft_ms": 90 * math.Pow(4, float64(i)),
			"mean_e2el_ms": 900 * float64(i+1), "median_e2el_ms": 880 * float64(i+1), "p99_e2el_ms": 1500 * float64(i+1),
			"client":         map[string]any{"bottleneck": i == 2, "achieved_send_rate": rate},
			"server_metrics": map[string]any{"max_kv_cache_usage": 0.2 * float64(i+1), "max_running": 8 * (i + 1)},
			"gpu": map[string]any{"joules_per_output_token": 0.5 - 0.1*float64(i),
				"devices": []any{map[string]any{"max_memory_used_bytes": 70 << 30}}},
		})
	}
	return out
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureRun makes a run directory with a manifest and the seed sweeps, and the report the
// analysis builtins would have recorded for it.
func fixtureRun(t *testing.T) (string, Report) {
	t.Helper()
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "manifest.json"), map[string]any{
		"plan": map[string]any{"path": "experiments/seeds.star", "sha256": "0123abcd"}, "sets": map[string]string{"model": "gemma-3-12b"},
		"seed": 1, "mode": "fresh", "virtual": true, "starlab": "test", "host": map[string]any{"hostname": "must-not-appear"},
		"start": "2025-11-26T16:54:50Z",
	})
	writeJSON(t, filepath.Join(dir, "sweeps", "seed003_ramp.json"), seed003())
	writeJSON(t, filepath.Join(dir, "sweeps", "seed000_1gpu.json"), seed000(1))
	writeJSON(t, filepath.Join(dir, "sweeps", "seed000_4gpu.json"), seed000(4))
	writeJSON(t, filepath.Join(dir, "sweeps", "seed004_concurrency.json"), seed004())
	writeJSON(t, filepath.Join(dir, "sweeps", "full.json"), fullSweep())

	r := Report{Title: "Seeds 000, 003, 004", Notes: "Published tables re-analysed."}
	pts := func(rows []map[string]any) []analysis.LoadPoint {
		p, err := analysis.PointsFromMaps(rows)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	opts := analysis.DefaultKneeOptions()
	opts.Latency = "mean_ttft_ms"
	k, err := analysis.FindKnee(pts(seed003()), opts)
	if err != nil {
		t.Fatal(err)
	}
	r.Knees = append(r.Knees, FromKnee("seed003_ramp", k))
	k2, err := analysis.FindKnee(pts(fullSweep()), analysis.DefaultKneeOptions())
	if err != nil {
		t.Fatal(err)
	}
	r.Knees = append(r.Knees, FromKnee("full", k2))
	s, err := analysis.Amdahl(pts(seed000(1)), pts(seed000(4)), 4, "request_throughput")
	if err != nil {
		t.Fatal(err)
	}
	r.Scalings = append(r.Scalings, FromScaling("seed000_1gpu", "seed000_4gpu", s))
	ns := []float64{1, 2, 4, 8, 16}
	xs := make([]float64, len(ns))
	for i, n := range ns {
		xs[i] = 10 * n / (1 + 0.1*(n-1) + 0.01*n*(n-1))
	}
	fit, err := analysis.USL(ns, xs)
	if err != nil {
		t.Fatal(err)
	}
	r.USL = append(r.USL, FromUSL(ns, xs, fit))
	yes, no := true, false
	for _, h := range []struct {
		id, st string
		sup    *bool
	}{{"E-12", "the 1-vs-4 GPU test never saturated 1 GPU", &yes}, {"E-13", "4 GPUs scale | linearly", &no}, {"E-14", "batch size matters", nil}} {
		hh, err := analysis.NewHypothesis(h.id, h.st, h.sup, "from the seeds")
		if err != nil {
			t.Fatal(err)
		}
		r.Hypotheses = append(r.Hypotheses, FromHypothesis(hh))
	}
	r.Tables = []Table{{Name: "sla", Columns: []string{"sla", "concurrency"}, Rows: []map[string]any{{"sla": "latency < 8 s", "concurrency": 16}, {"sla": "latency < 10 s", "concurrency": 48}}}}
	r.Plots = []PlotSpec{{Name: "seed000_ttft", Sweeps: []string{"seed000_1gpu", "seed000_4gpu"}, X: "request_rate", Y: "mean_ttft_ms"}}
	return dir, r
}
