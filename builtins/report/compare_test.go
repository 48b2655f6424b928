package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixture runs are testdata/compare/fixture.star run with --virtual three times:
//
//	a: the defaults
//	b: --set max_num_seqs=2 --set top_rate=16 (a smaller batch, and a load a and c never offered)
//	c: --seed 7 --set closed_name=mine (its closed sweep under another name)
//
// kept to manifest.json, the journal's server starts and sweeps/*.json.
var compareFixtures = []string{"testdata/compare/a", "testdata/compare/b", "testdata/compare/c"}

func compareFixture(t *testing.T, metrics ...string) RunComparison {
	t.Helper()
	c, err := CompareRuns(append([]string(nil), compareFixtures...), metrics)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompareGolden(t *testing.T) {
	c := compareFixture(t)
	out := filepath.Join(t.TempDir(), "cmp")
	if err := WriteComparison(out, c); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "compare.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compare.md", md)
	csvData, err := os.ReadFile(filepath.Join(out, "compare.csv"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compare.csv", csvData)
	checkPlots(t, out, md)
	for _, bad := range []string{"2026-", "started", "--out"} {
		if strings.Contains(string(md), bad) {
			t.Errorf("compare.md shows %q: times and command lines say nothing of what was measured", bad)
		}
	}

	// The same runs give the same files, byte for byte.
	again := filepath.Join(t.TempDir(), "cmp")
	if err := WriteComparison(again, compareFixture(t)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"compare.md", "compare.json", "compare.csv", "plots/ramp_request_throughput.png", "plots/closed_p99_ttft_ms.svg"} {
		a, errA := os.ReadFile(filepath.Join(out, f))
		b, errB := os.ReadFile(filepath.Join(again, f))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two comparisons of the same runs (%v, %v)", f, errA, errB)
		}
	}

	// compare.json holds what compare.md shows.
	var back RunComparison
	data, err := os.ReadFile(filepath.Join(out, "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("compare.json: %v", err)
	}
	if len(back.Runs) != 3 || len(back.Sweeps) != 2 || len(back.Differences) != len(c.Differences) || len(back.Sweeps[1].Loads) != 3 {
		t.Errorf("compare.json lost content: %+v", back)
	}
}

// compareField finds a manifest field of the comparison, differing or not.
func compareField(c RunComparison, name string) (ManifestField, bool, bool) {
	for _, f := range c.Differences {
		if f.Field == name {
			return f, true, true
		}
	}
	for _, f := range c.Identical {
		if f.Field == name {
			return f, false, true
		}
	}
	return ManifestField{}, false, false
}

func TestCompareManifestDifferences(t *testing.T) {
	c := compareFixture(t)
	for _, want := range []struct {
		field   string
		differs bool
		values  []string
	}{
		{"param max_num_seqs", true, []string{"8", "2", "8"}},
		{"param top_rate", true, []string{"8", "16", "8"}},
		{"seed", true, []string{"1", "1", "7"}},
		{"confidence", false, []string{"95%", "95%", "95%"}},
		{"clock", false, nil},
		{"engines", false, []string{"sim vLLM 0.11.2 (starlab simulator)", "sim vLLM 0.11.2 (starlab simulator)", "sim vLLM 0.11.2 (starlab simulator)"}},
		{"plan sha256", false, nil},
		{"server Llama-3.1-8B-1gpu: max_num_seqs", true, []string{"8", "2", "8"}},
		{"server Llama-3.1-8B-1gpu: gpus", false, []string{"1", "1", "1"}},
	} {
		f, differs, ok := compareField(c, want.field)
		if !ok || differs != want.differs || (want.values != nil && strings.Join(f.Values, "|") != strings.Join(want.values, "|")) {
			t.Errorf("field %q: got %v (differs %v, found %v), want differs %v, values %v", want.field, f.Values, differs, ok, want.differs, want.values)
		}
	}
	for _, volatile := range []string{"args", "start", "end", "real_time_estimate"} {
		if _, _, ok := compareField(c, volatile); ok {
			t.Errorf("field %q is compared: it differs between any two runs", volatile)
		}
	}
}

func TestCompareMatchesSweepsAndLoads(t *testing.T) {
	c := compareFixture(t, "request_throughput,p99_ttft_ms", "p99_ttft_ms")
	if strings.Join(c.Metrics, ",") != "request_throughput,p99_ttft_ms" {
		t.Errorf("metrics %v: want the two given, once each", c.Metrics)
	}
	if len(c.Lone) != 1 || c.Lone[0] != (LoneSweep{Name: "mine", Run: "c"}) {
		t.Errorf("lone sweeps %+v, want mine of c", c.Lone)
	}
	var closed, ramp ComparedSweep
	for _, s := range c.Sweeps {
		switch s.Name {
		case "closed":
			closed = s
		case "ramp":
			ramp = s
		}
	}
	if strings.Join(closed.Runs, ",") != "a,b" || strings.Join(closed.Missing, ",") != "c" {
		t.Errorf("closed: runs %v, missing %v", closed.Runs, closed.Missing)
	}
	if len(closed.Loads) != 2 || closed.Loads[0].LoadField != "max_concurrency" || closed.Loads[1].Load != 4 {
		t.Errorf("closed loads: %+v", closed.Loads)
	}
	// a and c offered 2 and 8, b 2 and 16: three rows, each run measured where it ran.
	var loads []float64
	for _, row := range ramp.Loads {
		loads = append(loads, float64(row.Load))
	}
	if len(loads) != 3 || loads[0] != 2 || loads[1] != 8 || loads[2] != 16 {
		t.Fatalf("ramp loads %v, want 2 8 16", loads)
	}
	measured := func(row int) string {
		var s string
		for _, v := range ramp.Loads[row].Metrics[0].Values {
			if v.Measured {
				s += v.Run
			}
		}
		return s
	}
	if measured(0) != "abc" || measured(1) != "ac" || measured(2) != "b" {
		t.Errorf("measured at 2, 8, 16: %q %q %q", measured(0), measured(1), measured(2))
	}
	for _, row := range ramp.Loads {
		for _, m := range row.Metrics {
			base := m.Values[0]
			for _, v := range m.Values[1:] {
				want := math.NaN()
				if base.Measured && v.Measured {
					want = float64(v.Value) / float64(base.Value)
				}
				if got := float64(v.Ratio); !(got == want || math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("%s at %v, %s / a: ratio %v, want %v", m.Metric, row.Load, v.Run, got, want)
				}
				if v.RatioCI != nil && !(float64(v.RatioCI[0]) <= float64(v.Ratio) && float64(v.Ratio) <= float64(v.RatioCI[1])) {
					t.Errorf("%s at %v: ratio %v outside its interval %v", m.Metric, row.Load, v.Ratio, *v.RatioCI)
				}
			}
		}
	}
	if len(ramp.Loads[2].Warnings) == 0 || ramp.Loads[2].Warnings[0].Run != "b" {
		t.Errorf("b's saturated point at 16 req/s carries no warning: %+v", ramp.Loads[2].Warnings)
	}
	if len(ramp.Plots) != 2 || ramp.Plots[1].File != "ramp_p99_ttft_ms" {
		t.Errorf("ramp plots %+v", ramp.Plots)
	}
}

func TestCompareErrors(t *testing.T) {
	tmp := t.TempDir()
	notRun := filepath.Join(tmp, "not-a-run")
	if err := os.MkdirAll(filepath.Join(notRun, "sweeps"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dirs    []string
		metrics []string
		want    []string
	}{
		{[]string{"testdata/compare/a"}, nil, []string{"at least two run directories, got 1"}},
		{[]string{"testdata/compare/a", notRun}, nil, []string{notRun, "not a run directory", "no manifest.json"}},
		{[]string{file, "testdata/compare/a"}, nil, []string{file, "not a run directory"}},
		{[]string{"testdata/compare/a", filepath.Join(tmp, "missing")}, nil, []string{filepath.Join(tmp, "missing"), "not a run directory"}},
		{compareFixtures, []string{"request_throughput,ttft"}, []string{`--metric "ttft"`, "median_ttft_ms", "server_metrics.max_kv_cache_usage", "gpu.joules_per_output_token"}},
	} {
		_, err := CompareRuns(tc.dirs, tc.metrics)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("CompareRuns(%v, %v): got %v, want an error containing %q", tc.dirs, tc.metrics, err, w)
			}
		}
	}

	c := compareFixture(t)
	full := filepath.Join(tmp, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteComparison(full, c); err == nil || !strings.Contains(err.Error(), full) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("writing into a non-empty directory: got %v, want an error naming it", err)
	}
	if err := WriteComparison(file, c); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("writing into a file: got %v, want an error naming it", err)
	}
	empty := filepath.Join(tmp, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteComparison(empty, c); err != nil {
		t.Errorf("an empty directory is a fine output: %v", err)
	}
}

func TestCompareMetricNames(t *testing.T) {
	names := strings.Join(CompareMetricNames(), " ")
	for _, want := range append(DefaultCompareMetrics, "client.achieved_send_rate", "server_metrics.prefix_cache_hit_rate", "gpu.energy_j", "delivered") {
		if !strings.Contains(" "+names+" ", " "+want+" ") {
			t.Errorf("metric %q is not accepted: %s", want, names)
		}
	}
	for _, bad := range []string{"engine", "ci", "checks", "repeats[].request_rate", "gpu.devices"} {
		if strings.Contains(" "+names+" ", " "+bad+" ") {
			t.Errorf("%q is accepted as a metric, but it is no number of a point", bad)
		}
	}
	if got, err := CheckCompareMetrics(nil); err != nil || strings.Join(got, ",") != strings.Join(DefaultCompareMetrics, ",") {
		t.Errorf("no --metric: got %v, %v, want the defaults", got, err)
	}
}

func TestCompareRunLabels(t *testing.T) {
	for _, tc := range []struct{ dirs, want []string }{
		{[]string{"/r/x/run", "/r/y/run"}, []string{"x/run", "y/run"}},
		{[]string{"/r/a", "/r/b", "/s/a"}, []string{"r/a", "b", "s/a"}},
		{[]string{"/r/a", "/r/a/"}, []string{"a", "a#2"}},
	} {
		if got := runLabels(tc.dirs); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("runLabels(%v) = %v, want %v", tc.dirs, got, tc.want)
		}
	}
}

func TestCompareGPUText(t *testing.T) {
	var inv map[string]any
	if err := json.Unmarshal([]byte(`{"available": true, "driver_version": "550.54.15", "cuda_driver_version": "12.4",
		"devices": [{"index": 0, "name": "NVIDIA H100 80GB HBM3"}, {"index": 1, "name": "NVIDIA H100 80GB HBM3"}, {"index": 2, "name": "NVIDIA L40S"}]}`), &inv); err != nil {
		t.Fatal(err)
	}
	if got, want := manifestGPUText(inv), "2× NVIDIA H100 80GB HBM3, 1× NVIDIA L40S; driver 550.54.15, CUDA 12.4"; got != want {
		t.Errorf("manifestGPUText = %q, want %q", got, want)
	}
	if got := manifestGPUText(map[string]any{"available": false, "reason": "no NVML"}); got != "not read: no NVML" {
		t.Errorf("manifestGPUText without NVML = %q", got)
	}
}
