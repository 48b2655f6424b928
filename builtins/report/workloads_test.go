package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starlab/builtins/sweep/pointschema"
)

type flt = pointschema.Float

// workPoint is a plain open-loop point at rate; the workload tests add their parts to it.
func workPoint(rate float64, arrival string) pointschema.Point {
	tput := math.Min(rate, 6)
	return pointschema.Point{Engine: "sim", Server: "s", RequestRate: flt(rate), Arrival: arrival, Duration: 60,
		Completed: int(60 * tput), RequestThroughput: flt(tput), OutputThroughput: flt(64 * tput), TotalTokenThroughput: flt(640 * tput),
		MeanTTFTMs: flt(35 * rate), MedianTTFTMs: flt(30 * rate), P99TTFTMs: flt(90 * rate), MeanE2ELMs: flt(800 + 10*rate),
		P99E2ELMs: flt(1500 + 10*rate),
		ServerMetrics: &pointschema.ServerMetrics{Samples: 60, MaxKVCacheUsage: flt(rate / 10),
			PrefixCacheQueries: flt(math.NaN()), PrefixCacheHits: flt(math.NaN()), PrefixCacheHitRate: flt(math.NaN())}}
}

// workloadSweeps are a trace replay at two speeds, one ramp cut into four slices, and a
// conversation sweep at two session rates whose server counts prefix-cache hits at one of them.
func workloadSweeps() map[string][]pointschema.Point {
	var replay []pointschema.Point
	for _, ts := range []float64{1, 4} {
		p := workPoint(2*ts, "trace")
		p.Trace = &pointschema.TraceInfo{Path: "/data/traces/azure_conv_2023.csv", Format: "azure", TimeScale: flt(ts),
			Rows: 120, Skipped: 3, SpanS: 60}
		replay = append(replay, p)
	}
	ramp := workPoint(5, "ramp")
	ramp.Ramp = &pointschema.RampInfo{Kind: "linear", Start: 1, End: 9, OverS: 40}
	for k := range 4 {
		target := 2 + 2*float64(k)
		tput := math.Min(target, 5)
		sl := pointschema.Slice{StartS: flt(10 * k), EndS: flt(10 * (k + 1)), RequestRate: flt(target), Sent: int(10 * target),
			Completed: int(10 * tput), RequestThroughput: flt(tput), OutputThroughput: flt(64 * tput),
			MeanTTFTMs: flt(40 * target), MedianTTFTMs: flt(35 * target), P99TTFTMs: flt(120 * target * target),
			MeanTPOTMs: 21, MedianTPOTMs: 20, MeanE2ELMs: flt(900 + target), MedianE2ELMs: flt(880 + target),
			P99E2ELMs: flt(1500 + target), Delivered: flt(tput / target)}
		ramp.Slices = append(ramp.Slices, sl)
	}
	var chat []pointschema.Point
	for j, rate := range []float64{0.5, 2} {
		p := workPoint(rate, "poisson")
		if j == 1 {
			p.ServerMetrics.PrefixCacheQueries, p.ServerMetrics.PrefixCacheHits, p.ServerMetrics.PrefixCacheHitRate = 10000, 8350, 0.835
		}
		ss := &pointschema.SessionStats{Started: 30 * (j + 1), Completed: 28 - 10*j, Truncated: 2 + 10*j,
			MeanTurns: flt(3.5 - float64(j)), MeanSessionS: flt(40 + 20*float64(j))}
		for turn := 1; turn <= 3-j; turn++ {
			ss.Turns = append(ss.Turns, pointschema.TurnStats{Turn: turn, Requests: 30 - 5*turn, Completed: 29 - 5*turn,
				MeanInputTokens: flt(1024 + 384*turn), MeanTTFTMs: flt(55 * rate), MedianTTFTMs: flt(50*rate + float64(turn)),
				P99TTFTMs: flt(90 * rate), MeanE2ELMs: flt(8000 + 10*float64(turn))})
		}
		p.Sessions = ss
		chat = append(chat, p)
	}
	return map[string][]pointschema.Point{"replay": replay, "ramp": {ramp}, "chat": chat}
}

func workloadRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "manifest.json"), map[string]any{
		"plan": map[string]any{"path": "experiments/workloads.star", "sha256": "0123abcd"}, "seed": 1, "mode": "fresh",
		"virtual": true, "starlab": "test"})
	for name, pts := range workloadSweeps() {
		writeJSON(t, filepath.Join(dir, "sweeps", name+".json"), pts)
	}
	return dir
}

// The trace lines, the ramp's slices table and charts, the sessions and per-turn tables and the
// prefix-hit column, as a researcher pastes them; byte for byte, and again from the directory.
func TestWorkloadsReportGolden(t *testing.T) {
	dir := workloadRun(t)
	if err := Write(dir, Report{Title: "Workloads"}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "workloads.md", md)
	checkPlots(t, dir, md)
	slices, err := os.ReadFile(filepath.Join(dir, "sweeps", "ramp.slices.csv"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "workloads_ramp.slices.csv", slices)
	for _, name := range []string{"replay", "chat"} {
		if _, err := os.Stat(filepath.Join(dir, "sweeps", name+".slices.csv")); !os.IsNotExist(err) {
			t.Errorf("sweeps/%s.slices.csv written for a sweep without slices (%v)", name, err)
		}
	}
	// The ramp's single point is charted by its slices, not as a lone point against load.
	for _, f := range []string{"throughput_ramp.png", "latency_ramp.png"} {
		if _, err := os.Stat(filepath.Join(dir, "plots", f)); !os.IsNotExist(err) {
			t.Errorf("plots/%s drawn for a ramp sweep (%v)", f, err)
		}
	}
	chatCSV, err := os.ReadFile(filepath.Join(dir, "sweeps", "chat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	head := strings.SplitN(string(chatCSV), "\n", 2)[0]
	for _, want := range []string{"server_metrics.prefix_cache_hit_rate", "server_metrics.prefix_cache_hits", "server_metrics.prefix_cache_queries"} {
		if !strings.Contains(head, ","+want+",") {
			t.Errorf("sweeps/chat.csv lacks column %s: %s", want, head)
		}
	}

	os.Remove(filepath.Join(dir, "report.md"))
	os.RemoveAll(filepath.Join(dir, "plots"))
	if err := Regenerate(dir); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(md) {
		t.Errorf("Regenerate changed report.md:\n%s", again)
	}
}

// The prefix-hit column is there only when some point has a hit rate over some lookups: null
// counters (a server without them) and zero lookups (a point built without them) say nothing.
func TestPrefixHitColumn(t *testing.T) {
	for _, c := range []struct {
		name          string
		queries, rate []float64
		want          []string // the column's cells in load order; nil: no column
	}{
		{"all null", []float64{math.NaN(), math.NaN()}, []float64{math.NaN(), math.NaN()}, nil},
		{"no lookups", []float64{0, 0}, []float64{0, 0}, nil},
		{"one point", []float64{math.NaN(), 4000}, []float64{math.NaN(), 0.5}, []string{"—", "50.0%"}},
		{"cache off on a cached server", []float64{500, 800}, []float64{0, 0.25}, []string{"0.0%", "25.0%"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var pts []pointschema.Point
			for i := range c.rate {
				p := workPoint(float64(i+1), "poisson")
				p.ServerMetrics.PrefixCacheQueries, p.ServerMetrics.PrefixCacheHitRate = flt(c.queries[i]), flt(c.rate[i])
				pts = append(pts, p)
			}
			dir := t.TempDir()
			writeJSON(t, filepath.Join(dir, "sweeps", "s.json"), pts)
			sweeps, err := LoadSweeps(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			writeSweep(&b, sweeps[0], Plots{}, 0.95)
			var rows [][]string
			for _, line := range strings.Split(b.String(), "\n") {
				if strings.HasPrefix(line, "| ") {
					rows = append(rows, strings.Split(strings.Trim(line, "| "), " | "))
				}
			}
			col := -1
			for j, h := range rows[0] {
				if h == "prefix hit" {
					col = j
				}
			}
			if c.want == nil {
				if col >= 0 {
					t.Fatalf("prefix hit column shown:\n%s", b.String())
				}
				return
			}
			if col < 0 {
				t.Fatalf("no prefix hit column:\n%s", b.String())
			}
			for k, want := range c.want {
				if got := rows[k+1][col]; got != want {
					t.Errorf("row %d: prefix hit %q, want %q", k+1, got, want)
				}
			}
		})
	}
}

// The workload fields the report reads by name exist in the schema, so a renamed tag fails here
// rather than emptying a section.
func TestWorkloadNamesAreInTheSchema(t *testing.T) {
	fields := pointschema.Fields()
	for _, name := range []string{fieldPrefixQueries, fieldPrefixHitRate, fieldTrace, fieldRamp, fieldSlices, fieldSessions} {
		if _, ok := pointschema.Lookup(fields, name); !ok {
			t.Errorf("%s is not a point field", name)
		}
	}
}

// Two ramps in one sweep: each is stated with its point, and the slices CSV says which ramp a
// slice belongs to.
func TestTwoRampsInASweep(t *testing.T) {
	var pts []pointschema.Point
	for _, end := range []float64{8, 16} {
		p := workPoint(end/2, "ramp")
		p.Ramp = &pointschema.RampInfo{Kind: "exponential", Start: 1, End: flt(end), OverS: 20}
		for k := range 2 {
			p.Slices = append(p.Slices, pointschema.Slice{StartS: flt(10 * k), EndS: flt(10 * (k + 1)), RequestRate: flt(end * float64(k+1) / 3),
				Sent: 10, Completed: 10, RequestThroughput: 1, MedianTTFTMs: 40, P99TTFTMs: 80, Delivered: 1})
		}
		pts = append(pts, p)
	}
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "sweeps", "ramps.json"), pts)
	sweeps, err := LoadSweeps(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeWorkloads(&b, sweeps[0])
	md := b.String()
	for _, want := range []string{"Ramp (rate 4 req/s): exponential, 1 → 8 req/s over 20 s.", "Ramp (rate 8 req/s): exponential, 1 → 16 req/s over 20 s.",
		"| 10–20 | 10.67 | 10 | 10 | 1 | 0 | 40 | 80 | 0 | 1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "CSV: `sweeps/ramps.slices.csv`"); n != 1 {
		t.Errorf("slices CSV named %d times, want once:\n%s", n, md)
	}
	data, err := slicesCSV(sweeps[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "point_request_rate,start_s,end_s,request_rate,") ||
		!strings.HasPrefix(lines[4], "8,10,20,10.666666666666666,") {
		t.Errorf("slices CSV:\n%s", data)
	}
	if refs := PlanPlots(Report{}, sweeps).PerSweep["ramps"]; len(refs) != 2 {
		t.Errorf("ramp charts %v, want the slices' throughput and TTFT", refs)
	}
}

// A key a given table uses for something else is no workload: the report still renders.
func TestWorkloadPartsThatDoNotDecode(t *testing.T) {
	rows := []map[string]any{{"request_rate": 1.0, "request_throughput": 1.0, "trace": "yes", "slices": 3.0, "sessions": []any{1.0}}}
	s, err := newSweep("given", rows, true)
	if err != nil {
		t.Fatal(err)
	}
	if w := s.work[0]; w.Trace != nil || w.Slices != nil || w.Sessions != nil {
		t.Errorf("decoded %+v from parts of the wrong shape", w)
	}
	var b strings.Builder
	writeWorkloads(&b, s)
	if b.Len() != 0 {
		t.Errorf("wrote %q for a sweep without workload parts", b.String())
	}
}
