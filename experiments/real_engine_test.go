package experiments_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"starlab/builtins/catalog/gguf"
	"starlab/runtime"
	"starlab/runtime/runtimetest"
)

// ollamaOrSkip returns the real engine's executable: STARLAB_OLLAMA, or ollama on PATH. CI always
// provides it (.ci/run builds it with scripts/get-ollama.sh), so there a missing engine fails.
func ollamaOrSkip(t *testing.T) string {
	t.Helper()
	exe := os.Getenv("STARLAB_OLLAMA")
	if exe == "" {
		exe, _ = exec.LookPath("ollama")
	}
	if exe == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run the real engine: .ci/run builds it with scripts/get-ollama.sh and sets STARLAB_OLLAMA")
		}
		t.Skip("no real engine: export STARLAB_OLLAMA=$(scripts/get-ollama.sh) to run this test")
	}
	return exe
}

// The real-engine plan on llama.cpp inside ollama, with a random-weight model of the real Llama-3
// vocabulary: start, closed-loop ramp and long capacity run, a short Poisson sweep, the capacity
// search on Poisson arrivals, stop. The search's decided bracket must contain the capacity the
// closed loop measured, 1 req/s must not be called saturated, the slots' batching
// claim declared before the measurements must be supported at the run's confidence, the
// start-up log must give the slots, and nothing the run started may outlive it.
func TestRealEngine(t *testing.T) {
	dir := runOnRealEngine(t, "real_engine.star")

	var rep struct {
		Hypotheses []struct {
			ID, Verdict, Evidence string
		} `json:"hypotheses"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]string{}
	for _, h := range rep.Hypotheses {
		verdicts[h.ID] = h.Verdict
		if h.Verdict != "supported" {
			t.Errorf("%s: %s (%s)", h.ID, h.Verdict, h.Evidence)
		}
	}
	if len(verdicts) != 3 {
		t.Errorf("want hypotheses R-1, R-2 and R-3, got %+v", rep.Hypotheses)
	}

	m := runtimetest.Manifest(t, dir)
	servers, _ := m["servers"].([]any)
	if len(servers) != 1 {
		t.Fatalf("manifest servers: %v", m["servers"])
	}
	srv := servers[0].(map[string]any)
	if srv["engine"] != "ollama" || srv["engine_version"] != "0.6.5" {
		t.Errorf("manifest server entry: %v", srv)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "servers", srv["name"].(string)+".log"))
	if !strings.Contains(string(log), "n_ctx_per_seq") {
		t.Errorf("server log lacks the runner's context lines:\n%.2000s", log)
	}
	journal, _ := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
	if !strings.Contains(string(journal), `"slots":4`) {
		t.Errorf("the start step did not record 4 slots from the start-up log")
	}
	for _, sweep := range []string{"concurrency", "capacity", "four-point", "ramp", "capacity-after"} {
		var points []map[string]any
		data, _ := os.ReadFile(filepath.Join(dir, "sweeps", sweep+".json"))
		if err := json.Unmarshal(data, &points); err != nil || len(points) == 0 {
			t.Fatalf("sweep %s: %v", sweep, err)
		}
		for _, p := range points {
			if p["engine"] != "ollama" || p["failed"].(float64) != 0 {
				t.Errorf("sweep %s point at %v: engine %v, failed %v, errors %v", sweep, p["request_rate"], p["engine"], p["failed"], p["errors"])
			}
			if ci, _ := p["ci"].(map[string]any); ci["request_throughput"] == nil || ci["median_ttft_ms"] == nil {
				t.Errorf("sweep %s point at %v: no intervals (ci %v)", sweep, p["request_rate"], p["ci"])
			}
			if p["output_tokens_from_chunks"].(float64) != 0 {
				t.Errorf("sweep %s: output tokens counted from chunks, not from usage", sweep)
			}
		}
	}
	// Nothing of the run survives it: ollama serve and its runner both read the run directory.
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
}

// runOnRealEngine runs a plan on the real engine with a freshly written tiny model (its model
// param) and returns the run directory; it skips without the engine, except in CI.
func runOnRealEngine(t *testing.T, plan string) string {
	t.Helper()
	ollamaOrSkip(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	model := filepath.Join(tmp, "tiny.gguf")
	if _, err := gguf.WriteTiny(ctx, model, gguf.DefaultTiny(), ""); err != nil {
		t.Fatalf("writing the model: %v", err)
	}
	return run(t, runtime.Options{PlanPath: plan, Sets: map[string]string{"model": model}, Out: filepath.Join(tmp, "run")})
}

// processesMentioning lists the processes whose command line or environment contains s (ollama
// serve has the run directory in OLLAMA_MODELS, its runner in --model).
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, p := range procs {
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		environ, _ := os.ReadFile(filepath.Join(p, "environ"))
		if strings.Contains(string(cmdline), s) || strings.Contains(string(environ), s) {
			out = append(out, filepath.Base(p)+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}
