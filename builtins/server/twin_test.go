package server_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "starlab/builtins/all"
	"starlab/builtins/server"
	"starlab/runtime"
	"starlab/runtime/runtimetest"
)

// A twin's sweeps run in virtual time in a run that is not --virtual: three points of a minute
// each take seconds at most, and the manifest says which calibration the twin ran on.
func TestTwinScriptWall(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	server.WriteTestGGUF(t, model)
	cal := server.WriteTestCalibration(t, dir, "cpu-twin.json", server.CPUCalibration(model))
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"name": "x", "step": `), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run := runtimetest.RunScript(t, "testdata/twin/twin_file.star", runtimetest.Options{Wall: true,
		Sets: map[string]string{"cal": cal, "broken": broken}})
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the script took %v: the twin's sweeps did not run in virtual time", took)
	}
	m := runtimetest.Manifest(t, run)
	if m["virtual"] == true {
		t.Fatal("the run itself was virtual")
	}
	servers, _ := m["servers"].([]any)
	found := false
	for _, s := range servers {
		e := s.(map[string]any)
		if e["name"] == "tiny-llamacpp-cpu-twin" {
			found = e["calibration"] == "cpu-twin" && e["virtual"] == true && e["engine"] == "sim"
		}
	}
	if !found {
		t.Errorf("manifest servers lack the twin with its calibration: %v", servers)
	}
	// A calibration from outside the run is copied in: the run holds what its report reads.
	if _, err := os.Stat(filepath.Join(run, "calibrations", "cpu-twin.json")); err != nil {
		t.Errorf("the calibration file was not kept in the run: %v", err)
	}
}

// calibrate() in a --virtual run returns a Calibration that start_vllm takes as a value or by its
// run-directory path.
func TestTwinScriptVirtual(t *testing.T) {
	runtimetest.RunScripts(t, "testdata/twin/*_virtual.star", runtimetest.Options{})
}

// A changed calibration is a different server: resuming a run after the file changed starts the
// twin again and measures it again, instead of taking the old twin's results from the journal.
func TestTwinResumeAfterCalibrationChanged(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	server.WriteTestGGUF(t, model)
	c := server.CPUCalibration(model)
	cal := server.WriteTestCalibration(t, dir, "cpu-twin.json", c)
	plan := filepath.Join(dir, "plan.star")
	os.WriteFile(plan, []byte(`twin = start_server("sim", calibration = param("cal", ""))
sweep(twin, concurrency = [3], duration = "20s", warmup = "1s", dataset = dataset(input_len = 64, output_len = 32), name = "s")
`), 0o644)
	run := filepath.Join(dir, "run")
	tpot := func(opts runtime.Options) float64 {
		t.Helper()
		opts.Sets, opts.LogOut = map[string]string{"cal": cal}, io.Discard
		out, err := runtime.Execute(context.Background(), opts)
		if err != nil || out.Err != nil {
			t.Fatalf("%v %v", err, out.Err)
		}
		data, _ := os.ReadFile(filepath.Join(run, "sweeps", "s.json"))
		var pts []map[string]any
		if err := json.Unmarshal(data, &pts); err != nil || len(pts) != 1 {
			t.Fatalf("sweeps/s.json: %v %s", err, data)
		}
		return pts[0]["mean_tpot_ms"].(float64)
	}
	first := tpot(runtime.Options{PlanPath: plan, Out: run, Seed: runtime.DefaultSeed})
	if again := tpot(runtime.Options{PlanPath: plan, Resume: run}); again != first {
		t.Errorf("resumed with the same calibration: TPOT %v, first %v", again, first)
	}
	c.Step.FixedMs *= 2
	server.WriteTestCalibration(t, dir, "cpu-twin.json", c)
	if changed := tpot(runtime.Options{PlanPath: plan, Resume: run}); changed < first+7 {
		t.Errorf("resumed with a step 8 ms slower: TPOT %v, first %v", changed, first)
	}
	// The start itself ran again: the twin's capacity is the new calibration's.
	journal, _ := os.ReadFile(filepath.Join(run, "journal.jsonl"))
	if n := strings.Count(string(journal), `"builtin":"start_server"`); n != 2 {
		t.Errorf("the journal has %d start_server steps, want 2 (the first run and the changed calibration)", n)
	}
}
