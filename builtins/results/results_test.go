package results

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"starlab/builtins/sweep/pointschema"
)

// want is a figure of a loaded point: a value, or NaN for a figure the format lacks.
type want struct {
	field string
	get   func(p pointschema.Point) float64
	v     float64
}

func f(name string, get func(p pointschema.Point) float64, v float64) want { return want{name, get, v} }

var nan = math.NaN()

func near(got, want float64) bool {
	switch {
	case math.IsNaN(want):
		return math.IsNaN(got)
	case math.IsInf(want, 0):
		return got == want
	}
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func TestLoadFormats(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		format  string
		tool    string
		model   string
		points  int
		engine  string
		server  string
		arrival string
		checks  []string // names of the checks that ran on point 0, in order
		figures []want   // of point 0
	}{
		{
			name: "vLLM current", path: "testdata/vllm/current.json", format: FormatVLLMBench, tool: "vllm bench serve",
			model: "meta-llama/Llama-3.1-8B-Instruct", points: 1, engine: "vllm", server: "h100-tp1", arrival: "poisson",
			checks: []string{"tokens", "offered_load"},
			figures: []want{
				f("request_rate", func(p pointschema.Point) float64 { return float64(p.RequestRate) }, 4),
				f("max_concurrency", func(p pointschema.Point) float64 { return float64(p.MaxConcurrency) }, 0),
				f("completed", func(p pointschema.Point) float64 { return float64(p.Completed) }, 238),
				f("failed", func(p pointschema.Point) float64 { return float64(p.Failed) }, 2),
				f("request_goodput", func(p pointschema.Point) float64 { return float64(p.RequestGoodput) }, 3.5),
				f("p90_itl_ms", func(p pointschema.Point) float64 { return float64(p.P90ITLMs) }, 14.1),
				f("p99_e2el_ms", func(p pointschema.Point) float64 { return float64(p.P99E2ELMs) }, 2010),
				f("client.sent", func(p pointschema.Point) float64 { return float64(p.Client.Sent) }, 240),
				f("delivered", func(p pointschema.Point) float64 { return float64(p.Delivered) }, nan),
			},
		},
		{
			name: "vLLM older format", path: "testdata/vllm/old.json", format: FormatVLLMBench, tool: "vllm bench serve",
			model: "facebook/opt-125m", points: 1, engine: "vllm", server: "vllm-bench", arrival: "closed",
			checks: []string{"tokens"},
			figures: []want{
				f("request_rate", func(p pointschema.Point) float64 { return float64(p.RequestRate) }, math.Inf(1)),
				f("max_concurrency", func(p pointschema.Point) float64 { return float64(p.MaxConcurrency) }, 0),
				// no failed: num_prompts - completed
				f("failed", func(p pointschema.Point) float64 { return float64(p.Failed) }, 0),
				f("request_goodput", func(p pointschema.Point) float64 { return float64(p.RequestGoodput) }, nan),
				f("p90_ttft_ms", func(p pointschema.Point) float64 { return float64(p.P90TTFTMs) }, nan),
				f("p99_itl_ms (not p99.9)", func(p pointschema.Point) float64 { return float64(p.P99ITLMs) }, 40),
				f("std_tpot_ms (NaN in the file)", func(p pointschema.Point) float64 { return float64(p.StdTPOTMs) }, nan),
				f("mean_e2el_ms (not measured)", func(p pointschema.Point) float64 { return float64(p.MeanE2ELMs) }, nan),
				f("output_throughput", func(p pointschema.Point) float64 { return float64(p.OutputThroughput) }, 1280),
			},
		},
		{
			name: "GuideLLM report", path: "testdata/guidellm/benchmarks.json", format: FormatGuideLLM, tool: "guidellm 0.4.0",
			model: "Qwen/Qwen3-0.6B", points: 3, engine: EngineExternal, server: "guidellm", arrival: "constant",
			checks: []string{"tokens", "offered_load"},
			figures: []want{
				// sorted by load: rate 3 comes first, the synchronous (closed) run last
				f("request_rate", func(p pointschema.Point) float64 { return float64(p.RequestRate) }, 3),
				f("completed", func(p pointschema.Point) float64 { return float64(p.Completed) }, 89),
				f("incomplete", func(p pointschema.Point) float64 { return float64(p.Incomplete) }, 2),
				f("request_throughput", func(p pointschema.Point) float64 { return float64(p.RequestThroughput) }, 89.0/30),
				f("output_throughput", func(p pointschema.Point) float64 { return float64(p.OutputThroughput) }, 89.0*128/30),
				f("median_ttft_ms", func(p pointschema.Point) float64 { return float64(p.MedianTTFTMs) }, 35*0.95),
				f("mean_e2el_ms (seconds in the file)", func(p pointschema.Point) float64 { return float64(p.MeanE2ELMs) }, 1300),
				f("p99_tpot_ms", func(p pointschema.Point) float64 { return float64(p.P99TPOTMs) }, 13),
				f("request_goodput", func(p pointschema.Point) float64 { return float64(p.RequestGoodput) }, nan),
			},
		},
		{
			name: "AIPerf export", path: "testdata/aiperf/profile_export_aiperf.json", format: FormatAIPerf, tool: "aiperf 0.3.0",
			model: "openai/gpt-oss-20b", points: 1, engine: EngineExternal, server: "aiperf", arrival: "closed",
			checks: []string{"littles_law", "tokens"},
			figures: []want{
				f("request_rate", func(p pointschema.Point) float64 { return float64(p.RequestRate) }, math.Inf(1)),
				f("max_concurrency", func(p pointschema.Point) float64 { return float64(p.MaxConcurrency) }, 8),
				f("duration", func(p pointschema.Point) float64 { return float64(p.Duration) }, 100),
				f("completed", func(p pointschema.Point) float64 { return float64(p.Completed) }, 400),
				f("total_token_throughput", func(p pointschema.Point) float64 { return float64(p.TotalTokenThroughput) }, (409600.0+51200)/100),
				f("mean_tpot_ms (inter_token_latency)", func(p pointschema.Point) float64 { return float64(p.MeanTPOTMs) }, 15),
				f("p99_itl_ms (inter_chunk_latency)", func(p pointschema.Point) float64 { return float64(p.P99ITLMs) }, 24),
				f("median_e2el_ms", func(p pointschema.Point) float64 { return float64(p.MedianE2ELMs) }, 1950),
				f("p99_ttft_ms", func(p pointschema.Point) float64 { return float64(p.P99TTFTMs) }, 180),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Load(tt.path, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Points) != tt.points || len(l.Sources) != 1 {
				t.Fatalf("%d points from %d sources, want %d from 1", len(l.Points), len(l.Sources), tt.points)
			}
			s := l.Sources[0]
			if s.Path != tt.path || s.Format != tt.format || s.Tool != tt.tool || s.Model != tt.model || len(s.Points) != tt.points {
				t.Errorf("source %+v, want %s %s %q %q", s, tt.path, tt.format, tt.tool, tt.model)
			}
			p := l.Points[0]
			if p.Engine != tt.engine || p.EngineVersion != "" || p.Server != tt.server || p.Arrival != tt.arrival {
				t.Errorf("engine %q %q, server %q, arrival %q; want %q \"\", %q, %q", p.Engine, p.EngineVersion, p.Server, p.Arrival,
					tt.engine, tt.server, tt.arrival)
			}
			var ran []string
			for _, c := range p.Checks {
				ran = append(ran, c.Name)
				if !c.OK {
					t.Errorf("check %s failed on a consistent fixture: %s", c.Name, c.Detail)
				}
			}
			if strings.Join(ran, ",") != strings.Join(tt.checks, ",") {
				t.Errorf("checks %v, want %v", ran, tt.checks)
			}
			for _, w := range tt.figures {
				if got := w.get(p); !near(got, w.v) {
					t.Errorf("%s = %v, want %v", w.field, got, w.v)
				}
			}
		})
	}
}

func TestLoadDirectoriesSortByLoad(t *testing.T) {
	tests := []struct {
		path  string
		name  string
		files int
		loads [][2]float64 // request_rate, max_concurrency of each point, in order
	}{
		// vllm bench sweep: one level of combination directories; summary.json, warmup.json,
		// *.failure.json and summary.csv are not results.
		{"testdata/vllm/sweep", "sweep", 3, [][2]float64{{math.Inf(1), 4}, {math.Inf(1), 8}, {math.Inf(1), 16}}},
		{"testdata/vllm/rates/", "rates", 4, [][2]float64{{2, 0}, {4, 0}, {8, 0}, {16, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			l, err := Load(tt.path, "")
			if err != nil {
				t.Fatal(err)
			}
			if l.Name != tt.name || len(l.Sources) != tt.files {
				t.Errorf("name %q from %d files, want %q from %d", l.Name, len(l.Sources), tt.name, tt.files)
			}
			if len(l.Points) != len(tt.loads) {
				t.Fatalf("%d points, want %d", len(l.Points), len(tt.loads))
			}
			for i, p := range l.Points {
				if float64(p.RequestRate) != tt.loads[i][0] || float64(p.MaxConcurrency) != tt.loads[i][1] {
					t.Errorf("point %d: load (%v, %d), want %v", i, float64(p.RequestRate), p.MaxConcurrency, tt.loads[i])
				}
			}
			seen := map[int]bool{}
			for _, s := range l.Sources {
				if !strings.HasPrefix(s.Path, strings.TrimSuffix(tt.path, "/")+"/") || strings.Contains(s.Path, "summary") || strings.Contains(s.Path, "warmup") {
					t.Errorf("source %s: want a run file under %s", s.Path, tt.path)
				}
				for _, i := range s.Points {
					seen[i] = true
				}
			}
			if len(seen) != len(l.Points) {
				t.Errorf("sources name %d of %d points", len(seen), len(l.Points))
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{"testdata/bad/syntax.json", []string{"testdata/bad/syntax.json:3:", "invalid JSON"}},
		{"testdata/bad/truncated.json", []string{"testdata/bad/truncated.json:3:", "invalid JSON"}},
		{"testdata/bad/empty.json", []string{"testdata/bad/empty.json: empty file"}},
		{"testdata/bad/unknown.json", []string{"testdata/bad/unknown.json: not a results file of a known format", "vllm-bench, guidellm, aiperf"}},
		{"testdata/bad/guidellm_strategy.json", []string{"testdata/bad/guidellm_strategy.json: benchmarks[0]: strategy type_ \"bursty\""}},
		{"testdata/bad", []string{"testdata/bad/empty.json: empty file"}}, // the first file, in name order
		{"testdata/missing.json", []string{"missing.json", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := Load(tt.path, "")
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestPythonLiteralsKeepStringsAndLines(t *testing.T) {
	in := "{\"a\": NaN,\n \"b\": Infinity, \"c\": -Infinity,\n \"s\": \"NaN \\\" Infinity\"}"
	got := string(pythonLiterals([]byte(in)))
	want := "{\"a\": null,\n \"b\": \"inf\", \"c\": \"-inf\",\n \"s\": \"NaN \\\" Infinity\"}"
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// A result computed from per-request latencies (--save-detailed, e2el left out of the
// percentile metrics) gets e2el from them, as numpy would compute it.
func TestVLLMDetailedLatency(t *testing.T) {
	m := obj{"completed": jsonNum(3), "request_throughput": jsonNum(1), "request_rate": "inf",
		"latencies": []any{jsonNum(1), jsonNum(3), jsonNum(9), jsonNum(2)},
		"errors":    []any{"", "", "timeout", ""}}
	p, _, err := fromVLLM(m)
	if err != nil {
		t.Fatal(err)
	}
	// successes 1, 3, 2 s: mean 2000 ms, median 2000, population std 816.5, p90 2800, p99 2980
	for _, w := range []want{
		f("mean", func(p pointschema.Point) float64 { return float64(p.MeanE2ELMs) }, 2000),
		f("median", func(p pointschema.Point) float64 { return float64(p.MedianE2ELMs) }, 2000),
		f("std", func(p pointschema.Point) float64 { return math.Round(float64(p.StdE2ELMs)*10) / 10 }, 816.5),
		f("p90", func(p pointschema.Point) float64 { return float64(p.P90E2ELMs) }, 2800),
		f("p99", func(p pointschema.Point) float64 { return float64(p.P99E2ELMs) }, 2980),
		f("failed", func(p pointschema.Point) float64 { return float64(p.Failed) }, 1),
		f("errors[timeout]", func(p pointschema.Point) float64 { return float64(p.Errors["timeout"]) }, 1),
	} {
		if got := w.get(p); !near(got, w.v) {
			t.Errorf("%s = %v, want %v", w.field, got, w.v)
		}
	}
}

func jsonNum(v float64) any { return json.Number(strconv.FormatFloat(v, 'g', -1, 64)) }
