package sweep_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "starlab/builtins/all"
	"starlab/runtime/runtimetest"
)

func TestScripts(t *testing.T) {
	runtimetest.RunScripts(t, "testdata/scripts/*_virtual.star", runtimetest.Options{})
}

// The sweep's files are written as it goes: points after each point, one line per request.
func TestSweepFiles(t *testing.T) {
	dir := runtimetest.RunScript(t, "testdata/scripts/sweep_virtual.star", runtimetest.Options{})
	points, err := os.ReadFile(filepath.Join(dir, "sweeps", "ramp.json"))
	if err != nil || strings.Count(string(points), `"request_rate"`) != 4 {
		t.Fatalf("ramp.json: %v\n%.300s", err, points)
	}
	reqs, err := os.ReadFile(filepath.Join(dir, "sweeps", "ramp.requests.jsonl"))
	if err != nil || strings.Count(string(reqs), "\n") < 100 || !strings.Contains(string(reqs), `"intended_ms"`) {
		t.Fatalf("ramp.requests.jsonl: %v", err)
	}
}
