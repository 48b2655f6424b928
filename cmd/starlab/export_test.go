package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starlab/builtins/results"
	"starlab/builtins/sweep/pointschema"
)

// A measured run exports one vLLM bench result per point, which load_results reads back with
// the run's figures.
func TestExportRunToVLLMBenchAndLoadBack(t *testing.T) {
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "e.star", `
s = start_vllm("Llama-3.1-8B", sim_gpu = "L40S", max_model_len = 4096)
sweep(s, rates = [2, 4], duration = "6s", warmup = "1s", name = "open")
sweep(s, concurrency = [2], duration = "6s", warmup = "1s", name = "closed")
`)
	dir := filepath.Join(tmp, "run")
	if code, _, stderr := runCLI("run", plan, "--virtual", "--out", dir, "--log-format", "json"); code != 0 {
		t.Fatalf("run exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCLI("export", dir, "--format", "vllm-bench")
	if code != 0 {
		t.Fatalf("export exit %d: %s", code, stderr)
	}
	out := filepath.Join(dir, "export", "vllm-bench")
	var want []string
	for _, n := range []string{"closed-conc2.json", "open-rate2.json", "open-rate4.json"} {
		want = append(want, filepath.Join(out, n))
	}
	if got := strings.Fields(stdout); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("export printed %q, want %q", got, want)
	}
	var m map[string]any
	data, _ := os.ReadFile(want[0])
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["request_rate"] != "inf" || m["max_concurrency"] != 2.0 || m["model_id"] != "Llama-3.1-8B" || m["backend"] != "openai" {
		t.Errorf("closed-conc2.json: request_rate %v, max_concurrency %v, model_id %v, backend %v", m["request_rate"], m["max_concurrency"], m["model_id"], m["backend"])
	}

	for _, sweep := range []string{"open", "closed"} {
		var measured []pointschema.Point
		data, err := os.ReadFile(filepath.Join(dir, "sweeps", sweep+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &measured); err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, f := range want {
			if strings.HasPrefix(filepath.Base(f), sweep+"-") {
				files = append(files, f)
			}
		}
		for i, f := range files {
			l, err := results.Load(f, "")
			if err != nil {
				t.Fatal(err)
			}
			a, b := measured[i], l.Points[0]
			if a.Engine != b.Engine || a.EngineVersion != b.EngineVersion || a.Server != b.Server || a.Arrival != b.Arrival {
				t.Errorf("%s: %s %q %s %s back as %s %q %s %s", f, a.Engine, a.EngineVersion, a.Server, a.Arrival, b.Engine, b.EngineVersion, b.Server, b.Arrival)
			}
			same := func(name string, x, y float64) {
				if !(x == y || (math.IsNaN(x) && math.IsNaN(y))) {
					t.Errorf("%s: %s %v back as %v", f, name, x, y)
				}
			}
			same("request_rate", float64(a.RequestRate), float64(b.RequestRate))
			same("max_concurrency", float64(a.MaxConcurrency), float64(b.MaxConcurrency))
			same("completed", float64(a.Completed), float64(b.Completed))
			same("failed", float64(a.Failed), float64(b.Failed))
			same("incomplete", float64(a.Incomplete), float64(b.Incomplete))
			same("total_output_tokens", float64(a.TotalOutputTokens), float64(b.TotalOutputTokens))
			same("duration", float64(a.Duration), float64(b.Duration))
			same("request_throughput", float64(a.RequestThroughput), float64(b.RequestThroughput))
			same("output_throughput", float64(a.OutputThroughput), float64(b.OutputThroughput))
			same("median_ttft_ms", float64(a.MedianTTFTMs), float64(b.MedianTTFTMs))
			same("p99_itl_ms", float64(a.P99ITLMs), float64(b.P99ITLMs))
			same("mean_e2el_ms", float64(a.MeanE2ELMs), float64(b.MeanE2ELMs))
			same("request_goodput", float64(a.RequestGoodput), float64(b.RequestGoodput))
		}
	}

	// --out elsewhere; usage errors exit 2; a directory without sweeps exits 1.
	other := filepath.Join(tmp, "elsewhere")
	if code, stdout, stderr := runCLI("export", "--format", "vllm-bench", "--out", other, dir); code != 0 || !strings.Contains(stdout, other) {
		t.Errorf("export --out: exit %d: %s%s", code, stdout, stderr)
	}
	for _, args := range [][]string{{"export", dir}, {"export", dir, "--format", "csv"}, {"export", "--format", "vllm-bench"}} {
		if code, _, stderr := runCLI(args...); code != 2 || !strings.Contains(stderr, "starlab export") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
	if code, _, stderr := runCLI("export", tmp, "--format", "vllm-bench"); code != 1 || !strings.Contains(stderr, "no sweeps") {
		t.Errorf("export of a directory without sweeps: exit %d: %s", code, stderr)
	}
}
