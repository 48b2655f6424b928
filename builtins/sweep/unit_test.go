package sweep

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFloatJSONRoundTrip(t *testing.T) {
	for _, v := range []float64{math.Inf(1), math.Inf(-1), 1.5, 0} {
		b, _ := json.Marshal(Float(v))
		var f Float
		if err := json.Unmarshal(b, &f); err != nil || float64(f) != v {
			t.Errorf("%v → %s → %v (%v)", v, b, f, err)
		}
	}
	b, _ := json.Marshal(Float(math.NaN()))
	var f Float
	if string(b) != "null" || json.Unmarshal(b, &f) != nil || !math.IsNaN(float64(f)) {
		t.Errorf("NaN → %s → %v", b, f)
	}
}

func TestScheduleStats(t *testing.T) {
	tests := []struct {
		arrival    Arrival
		burstiness float64
		wantCV     float64
	}{
		{ArrivalPoisson, 1, 1},
		{ArrivalGamma, 0.5, math.Sqrt(2)},
		{ArrivalGamma, 4, 0.5},
		{ArrivalConstant, 1, 0},
	}
	const rate, n = 50.0, 40000
	for _, tc := range tests {
		s, err := NewSchedule(7, "k", rate, tc.arrival, tc.burstiness)
		if err != nil {
			t.Fatal(err)
		}
		prev := s.Next()
		var sum, sq float64
		for i := 0; i < n; i++ {
			at := s.Next()
			g := (at - prev).Seconds()
			prev = at
			sum += g
			sq += g * g
		}
		mean := sum / n
		cv := math.Sqrt(sq/n-mean*mean) / mean
		if math.Abs(mean*rate-1) > 0.02 || math.Abs(cv-tc.wantCV) > 0.03 {
			t.Errorf("%s/%v: mean gap %.5f (want %.5f) cv %.3f (want %.3f)", tc.arrival, tc.burstiness, mean, 1/rate, cv, tc.wantCV)
		}
	}
}

func TestScheduleSameSeedSameSchedule(t *testing.T) {
	a, _ := NewSchedule(1, "step", 10, ArrivalPoisson, 1)
	b, _ := NewSchedule(1, "step", 10, ArrivalPoisson, 1)
	c, _ := NewSchedule(1, "other", 10, ArrivalPoisson, 1)
	same := true
	for i := 0; i < 100; i++ {
		x, y, z := a.Next(), b.Next(), c.Next()
		if x != y {
			t.Fatalf("offset %d differs: %v vs %v", i, x, y)
		}
		if i > 0 && x != z {
			same = false
		}
	}
	if same {
		t.Error("a different key gave the same schedule")
	}
}

func TestHistogramRelativeError(t *testing.T) {
	h := NewHistogram()
	var vals []float64
	for i := 1; i <= 10000; i++ {
		v := float64(i) * 0.37
		vals = append(vals, v)
		h.Add(v)
	}
	m, sd := meanStd(vals)
	if math.Abs(h.Mean()-m) > 1e-9*m || math.Abs(h.Std()-sd) > 1e-6*sd {
		t.Errorf("mean/std %v %v, want %v %v", h.Mean(), h.Std(), m, sd)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		if got := h.Quantile(q); math.Abs(got-exact)/exact > HistRelErr+1e-9 {
			t.Errorf("q%.2f = %v, exact %v", q, got, exact)
		}
	}
}

// TestMetricsHandBuilt checks every definition on timelines built by hand.
func TestMetricsHandBuilt(t *testing.T) {
	d := func(msec float64) time.Duration { return time.Duration(msec * float64(time.Millisecond)) }
	recs := []*RequestRecord{
		// warmup request: excluded
		{Index: 0, Intended: d(0), Sent: d(0), First: d(10), Last: d(20), Done: d(20), Chunks: []time.Duration{d(10), d(20)}, OutputTokens: 2, UsageReported: true, ChunkCount: 2},
		// intended 1000, sent 1002 (lag 2), first 1100 → TTFT 100, last 1400 → E2EL 400, 4 tokens → TPOT 100
		{Index: 1, Intended: d(1000), Sent: d(1002), First: d(1100), Last: d(1400), Done: d(1400), Chunks: []time.Duration{d(1100), d(1200), d(1300), d(1400)}, InputTokens: 10, OutputTokens: 4, UsageReported: true, ChunkCount: 4},
		// no usage: tokens counted from 3 chunks; TTFT 300, E2EL 500, TPOT 100
		{Index: 2, Intended: d(1500), Sent: d(1500), First: d(1800), Last: d(2000), Done: d(2000), Chunks: []time.Duration{d(1800), d(1900), d(2000)}, InputTokens: 10, ChunkCount: 3},
		{Index: 3, Intended: d(1600), Sent: d(1601), Err: "http_500", Done: d(1610)},
		{Index: 4, Intended: d(1700), Sent: d(1700), Incomplete: true, Done: d(3000)},
	}
	a := NewAggregator(d(500), map[string]float64{"ttft": 200})
	for _, r := range recs {
		a.Add(r)
	}
	var p Point
	a.Finalize(&p, d(2000), 0)
	check := func(name string, got Float, want float64) {
		t.Helper()
		if math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if p.Completed != 2 || p.Failed != 1 || p.Incomplete != 1 || p.Errors["http_500"] != 1 || p.OutputTokensFromChunks != 1 {
		t.Errorf("counts: %+v", p)
	}
	check("duration", p.Duration, 1.5)
	check("mean_ttft", p.MeanTTFTMs, 200)
	check("median_ttft", p.MedianTTFTMs, 200)
	check("std_ttft", p.StdTTFTMs, 100)
	check("p99_ttft", p.P99TTFTMs, 100+200*0.99)
	check("mean_e2el", p.MeanE2ELMs, 450)
	check("mean_tpot", p.MeanTPOTMs, 100)
	check("mean_itl", p.MeanITLMs, 100)
	check("std_itl", p.StdITLMs, 0)
	check("total_output_tokens", Float(p.TotalOutputTokens), 7)
	check("request_throughput", p.RequestThroughput, 2/1.5)
	check("output_throughput", p.OutputThroughput, 7/1.5)
	check("total_token_throughput", p.TotalTokenThroughput, 27/1.5)
	check("request_goodput", p.RequestGoodput, 1/1.5)
	check("lag max", p.Client.SendLagMaxMs, 2)
	if recs[1].Chunks != nil {
		t.Error("chunks kept after aggregation")
	}
}

func TestJudgeClient(t *testing.T) {
	tests := []struct {
		name string
		c    ClientStats
		want bool
	}{
		{"fine", ClientStats{SendLagP99Ms: 1, AchievedSendRate: 100, ScheduledSendRate: 100.5}, false},
		{"lag", ClientStats{SendLagP99Ms: 30, AchievedSendRate: 100, ScheduledSendRate: 100}, true},
		{"dropped", ClientStats{SendLagP99Ms: 0, Dropped: 3, AchievedSendRate: 100, ScheduledSendRate: 100}, true},
		{"slow", ClientStats{SendLagP99Ms: 0, AchievedSendRate: 90, ScheduledSendRate: 100}, true},
	}
	for _, tc := range tests {
		p := Point{Client: tc.c}
		judgeClient(&p, LagTolerance(100))
		if p.Client.Bottleneck != tc.want {
			t.Errorf("%s: bottleneck %v (%s)", tc.name, p.Client.Bottleneck, p.Client.BottleneckReason)
		}
	}
}

func TestDatasets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	ds, err := LoadJSONL(write("ok.jsonl", "{\"prompt\":\"a b c\",\"output_len\":5}\n\n{\"prompt\":\"x\",\"output_tokens\":2}\n"), 0)
	if err != nil || ds.Len() != 2 || ds.Item(0).OutputTokens != 5 || ds.Item(1).PromptTokens != 1 || ds.Item(2).Prompt != "a b c" {
		t.Fatalf("jsonl: %v %+v", err, ds)
	}
	bad := []struct{ file, content, want string }{
		{"a.jsonl", "{\"prompt\":\"a\"}\nnot json\n", "a.jsonl:2"},
		{"b.jsonl", "{\"prompt\":\"a\"}\n{\"prompt\":\"b\",\"output_len\":\"x\"}\n", "b.jsonl:2: field output_len"},
		{"c.jsonl", "{\"text\":\"a\"}\n", "c.jsonl:1: field prompt"},
	}
	for _, b := range bad {
		if _, err := LoadJSONL(write(b.file, b.content), 0); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: err %v, want %q", b.file, err, b.want)
		}
	}
	sg := `[
 {"conversations": [{"from": "human", "value": "hello there you"}, {"from": "gpt", "value": "one two three four"}]},
 {"conversations": [{"from": "human", "value": "only"}]}
]`
	ds, err = LoadShareGPT(write("sg.json", sg), 0)
	if err != nil || ds.Len() != 1 || ds.Item(0).OutputTokens != 4 || ds.Item(0).PromptTokens != 3 {
		t.Fatalf("sharegpt: %v %+v", err, ds)
	}
	_, err = LoadShareGPT(write("sg2.json", "[\n{\"conversations\": [{\"from\": \"human\"}]}\n]"), 0)
	if err == nil || !strings.Contains(err.Error(), "sg2.json:2: field conversations[0]") {
		t.Errorf("sharegpt bad: %v", err)
	}
	r, _ := NewRandom(RandomSpec{InputLen: 100, OutputLen: 20, RangeRatio: 0.5, Seed: 3})
	for i := 0; i < 50; i++ {
		it := r.Item(i)
		if n := len(strings.Fields(it.Prompt)); n != it.PromptTokens || n < 50 || n > 150 || it.OutputTokens < 10 || it.OutputTokens > 30 {
			t.Fatalf("random item %d: %d words, %+v", i, n, it.OutputTokens)
		}
	}
	if r.Item(7).Prompt != r.Item(7).Prompt || r.Item(7).Prompt == r.Item(8).Prompt {
		t.Error("random items not deterministic per index")
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP vllm:num_requests_running Number
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="a{b}"} 3
vllm:num_requests_running{engine="1",model_name="a"} 2
vllm:num_requests_waiting{model_name="a"} 4.0
vllm:gpu_cache_usage_perc{model_name="a"} 0.5
vllm:num_preemptions_total{model_name="a"} 7 1700000000
`
	s, err := parseMetrics(strings.NewReader(text), everyEngine)
	if err != nil || s.running != 5 || s.waiting != 4 || s.kv != 0.5 || s.preemptions != 7 {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := parseMetrics(strings.NewReader("vllm:x{a=\"b\" 1\n"), everyEngine); err == nil {
		t.Error("unterminated labels accepted")
	}
}
