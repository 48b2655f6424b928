package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	_ "starlab/builtins/report" // report(), to check what it says of loaded sweeps
	"strings"
	"testing"

	_ "starlab/builtins/analysis"
	"starlab/runtime/runtimetest"
)

func TestLoadResultsScript(t *testing.T) {
	dir := runtimetest.RunScript(t, "testdata/scripts/load_knee.star", runtimetest.Options{})
	// The report finds the points where it finds a sweep's, and their sources beside them.
	var points []map[string]any
	readJSON(t, filepath.Join(dir, "sweeps", "rates.json"), &points)
	if len(points) != 4 {
		t.Errorf("sweeps/rates.json has %d points, want 4", len(points))
	}
	var src SourcesFile
	readJSON(t, filepath.Join(dir, "sources", "rates.json"), &src)
	if src.Name != "rates" || src.Path != "../vllm/rates" || len(src.Sources) != 4 || src.Sources[0].Format != FormatVLLMBench {
		t.Errorf("sources/rates.json = %+v", src)
	}
	if got := src.Sources[0].Path; got != filepath.Join("../vllm/rates", "vllm-16.0qps-Llama-3.1-8B-20251016-100000.json") {
		t.Errorf("first source %s", got)
	}
	// The report says where a loaded sweep's points came from.
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(md), "Loaded, not measured by this run:") ||
		!strings.Contains(string(md), "vllm-16.0qps-Llama-3.1-8B-20251016-100000.json` (vllm-bench") {
		t.Errorf("report.md does not name the loaded sweeps' sources: %v\n%.2000s", err, md)
	}
	man := runtimetest.Manifest(t, dir)
	loaded, _ := man["loaded_results"].([]any)
	if len(loaded) != 4 {
		t.Errorf("manifest loaded_results has %d sweeps, want 4 (rates, rates-2, guidellm, profile_export_aiperf)", len(loaded))
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
