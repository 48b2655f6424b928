package report

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"starlab/builtins/gpu"
	"starlab/builtins/sweep/pointschema"
)

// A sweep written from the real point types (pointschema.Point, gpu.PointTelemetry) fills every column and
// note of the report: a field renamed on one side empties a column or drops a note, and fails here.
func TestReportReadsEveryPointField(t *testing.T) {
	mem, joules := uint64(2048)<<20, 0.25
	gpuJSON, err := json.Marshal(gpu.PointTelemetry{Devices: []gpu.Summary{{MaxMemoryUsed: &mem}}, JoulesPerOutputToken: &joules})
	if err != nil {
		t.Fatal(err)
	}
	var pts []pointschema.Point
	for _, rate := range []float64{4, 8} {
		pts = append(pts, pointschema.Point{RequestRate: pointschema.Float(rate), Completed: 97, Failed: 2,
			Errors: map[string]int{"timeout": 2}, Incomplete: 1, OutputTokensFromChunks: 3,
			RequestThroughput: 3.5, OutputThroughput: 350, TotalTokenThroughput: 700,
			MeanTTFTMs: 41, P99TTFTMs: 99, MeanE2ELMs: 510, P99E2ELMs: 990, MedianTTFTMs: 40, MedianE2ELMs: 500,
			Client:        pointschema.ClientStats{Bottleneck: true, BottleneckReason: "send lag p99 9 ms"},
			ServerMetrics: &pointschema.ServerMetrics{MaxKVCacheUsage: 0.5, ScrapeErrors: 2},
			GPU:           gpuJSON, StoppedEarly: true, StopReason: "saturated",
			Confidence: 0.95, Delivered: 0.875,
			CI: map[string][2]pointschema.Float{pointschema.RequestThroughput: {3.2, 3.8}, pointschema.MedianTTFTMs: {30, 90},
				fieldDelivered: {0.84, 0.91}},
			SteadyState: &pointschema.SteadyState{OK: rate == 4, Detail: "second half vs first: throughput fell"},
			Checks:      []pointschema.Check{{Name: "littles_law", OK: rate == 8, Detail: "too many in flight"}},
			Repeats:     []pointschema.Point{{Repeat: 1}, {Repeat: 2}}})
	}
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "sweeps", "real.json"), pts)
	sweeps, err := LoadSweeps(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := Markdown(Report{}, sweeps, PlanPlots(Report{}, sweeps))
	for _, want := range []string{
		"| rate (req/s) | success | TTFT mean (ms) | TTFT median (ms) | TTFT p99 (ms) | E2EL mean (ms) | E2EL p99 (ms) | req/s | out tok/s | total tok/s | delivered | KV cache max | GPU mem (MiB) | client bottleneck | J/token | warnings |",
		"| 4 | 97.0% | 41 | 40 [30, 90] | 99 | 510 | 990 | 3.50 ± 0.30 | 350 | 700 | 0.875 ± 0.035 | 50.0% | 2048 | **yes** | 0.25 | ⚠ littles_law |",
		"| 8 | 97.0% | 41 | 40 [30, 90] | 99 | 510 | 990 | 3.50 ± 0.30 | 350 | 700 | 0.875 ± 0.035 | 50.0% | 2048 | **yes** | 0.25 | ⚠ not steady |",
		"real, rate 4 req/s: ⚠ littles_law: too many in flight", "real, rate 8 req/s: ⚠ not steady: second half vs first: throughput fell",
		"each point the mean of 2 interleaved repeats", "± is the half-width of the 95% interval",
		"stopped early (saturated)", "failed: timeout × 2", "1 requests incomplete",
		"the load generator was the bottleneck (send lag p99 9 ms)", "counted from chunks for 3 requests", "2 failed /metrics scrapes",
		"![real: throughput vs load](plots/throughput_real.png)", "![real: latency vs load](plots/latency_real.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q; got:\n%s", want, md)
		}
	}
	csv, err := sweepCSV(sweeps[0])
	if err != nil {
		t.Fatal(err)
	}
	head := strings.SplitN(string(csv), "\n", 2)[0]
	if !strings.HasPrefix(head, "request_rate,max_concurrency,") {
		t.Errorf("CSV does not lead with the load columns: %s", head)
	}
	for _, want := range []string{",request_throughput,request_throughput_lo,request_throughput_hi,", ",delivered,delivered_lo,delivered_hi,"} {
		if !strings.Contains(head, want) {
			t.Errorf("CSV header lacks %q: %s", want, head)
		}
	}
	if strings.Contains(head, "ci.") {
		t.Errorf("CSV has ci columns besides the _lo and _hi ones: %s", head)
	}
}
