package results

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"starlab/builtins/sweep"
	"starlab/builtins/sweep/pointschema"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current export")

// fakeRun makes a run directory holding the loaded points of src as sweep name, with a manifest
// that names the server's model and the run's start.
func fakeRun(t *testing.T, src, name string) (string, []pointschema.Point) {
	t.Helper()
	l, err := Load(src, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "20251016T100000Z-demo")
	if err := os.MkdirAll(filepath.Join(dir, "sweeps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := sweep.WritePointsFile(filepath.Join(dir, "sweeps", name+".json"), l.Points); err != nil {
		t.Fatal(err)
	}
	manifest := `{"start": "2025-10-16T10:00:00.5Z", "servers": [{"name": "a100-tp1", "engine": "vllm", "model": "meta-llama/Llama-3.1-8B"}]}`
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, l.Points
}

func TestExportVLLMBenchGolden(t *testing.T) {
	run, _ := fakeRun(t, "testdata/vllm/rates", "rates")
	out := filepath.Join(t.TempDir(), "export")
	files, err := ExportVLLMBench(run, out)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"rates-rate16.json", "rates-rate2.json", "rates-rate4.json", "rates-rate8.json"}
	if len(files) != len(names) {
		t.Fatalf("wrote %v, want %v", files, names)
	}
	for i, f := range files {
		if filepath.Base(f) != names[i] {
			t.Errorf("file %d is %s, want %s", i, filepath.Base(f), names[i])
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", filepath.Base(f))
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to write it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", f, golden, got)
		}
	}
}

// exportedFigures are the figures a vLLM bench result carries, so the ones a round trip keeps.
func exportedFigures(p pointschema.Point) []float64 {
	out := []float64{float64(p.RequestRate), float64(p.MaxConcurrency), float64(p.Burstiness), float64(p.Duration),
		float64(p.Completed), float64(p.Failed), float64(p.Incomplete), float64(p.TotalInputTokens), float64(p.TotalOutputTokens),
		float64(p.RequestThroughput), float64(p.RequestGoodput), float64(p.OutputThroughput), float64(p.TotalTokenThroughput)}
	for _, f := range latencyFields(&p) {
		out = append(out, float64(*f))
	}
	return out
}

// Exported results load back with the same figures, whatever format they were first read from.
func TestExportThenLoadRoundTrips(t *testing.T) {
	for _, src := range []string{"testdata/vllm/rates", "testdata/vllm/sweep", "testdata/guidellm/benchmarks.json", "testdata/aiperf/profile_export_aiperf.json", "testdata/vllm/old.json"} {
		t.Run(src, func(t *testing.T) {
			run, orig := fakeRun(t, src, "s")
			out := filepath.Join(t.TempDir(), "export")
			if _, err := ExportVLLMBench(run, out); err != nil {
				t.Fatal(err)
			}
			back, err := Load(out, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Points) != len(orig) {
				t.Fatalf("%d points back, want %d", len(back.Points), len(orig))
			}
			for i := range orig {
				a, b := orig[i], back.Points[i]
				if a.Engine != b.Engine || a.Server != b.Server || a.Arrival != b.Arrival {
					t.Errorf("point %d: %s/%s/%s back as %s/%s/%s", i, a.Engine, a.Server, a.Arrival, b.Engine, b.Server, b.Arrival)
				}
				fa, fb := exportedFigures(a), exportedFigures(b)
				for j := range fa {
					if !(fa[j] == fb[j] || (math.IsNaN(fa[j]) && math.IsNaN(fb[j]))) {
						t.Errorf("point %d figure %d: %v back as %v", i, j, fa[j], fb[j])
					}
				}
			}
		})
	}
}
