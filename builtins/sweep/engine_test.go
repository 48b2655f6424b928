package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"starlab/builtins/server"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// What each engine's /metrics (testdata/metrics, as each prints it: prometheus_client for vLLM
// and SGLang, llama-server's own writer) becomes in server_metrics. A series an engine does not
// export stays null; preemptions are a delta, 0 over one repeated scrape.
func TestServerMetricsPerEngine(t *testing.T) {
	null := math.NaN()
	tests := []struct {
		file                          string
		running, waiting, kv, preempt float64
	}{
		{"vllm.txt", 8, 2, 0.4219, 0},         // V1, two data-parallel engines summed, KV the max
		{"vllm_v0.txt", 12, 7, 0.9871, 0},     // gpu_cache_usage_perc, before 0.9
		{"sglang.txt", 24, 6, 0.28, null},     // --enable-metrics
		{"sglang_dp.txt", 16, 14, 0.61, null}, // one series per scheduler (DP attention)
		{"llamacpp.txt", 4, 2, null, null},    // --metrics, no KV usage since May 2025
		{"llamacpp_old.txt", 8, 0, 0.615234, null},
	}
	same := func(a Float, b float64) bool {
		return float64(a) == b || math.IsNaN(float64(a)) && math.IsNaN(b)
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", "metrics", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			tr := newServerTracker()
			for range 2 {
				s, err := parseMetrics(strings.NewReader(string(text)), everyEngine)
				if err != nil {
					t.Fatal(err)
				}
				tr.add(s)
			}
			m := tr.m
			if m.Samples != 2 || !same(m.MaxRunning, tc.running) || !same(m.MaxWaiting, tc.waiting) ||
				!same(m.MaxKVCacheUsage, tc.kv) || !same(m.Preemptions, tc.preempt) {
				t.Errorf("got %+v, want running %v waiting %v kv %v preemptions %v", m, tc.running, tc.waiting, tc.kv, tc.preempt)
			}
		})
	}
	// A scrape with none of the series (another exporter) is a sample with every field null.
	tr := newServerTracker()
	s, err := parseMetrics(strings.NewReader("# TYPE go_goroutines gauge\ngo_goroutines 12\n"), everyEngine)
	if err != nil {
		t.Fatal(err)
	}
	tr.add(s)
	got, _ := json.Marshal(tr.m)
	if want := `{"samples":1,"scrape_errors":0,"max_running":null,"max_waiting":null,"max_kv_cache_usage":null,"preemptions":null,"prefix_cache_queries":null,"prefix_cache_hits":null,"prefix_cache_hit_rate":null}`; string(got) != want {
		t.Errorf("no known series: %s, want %s", got, want)
	}
}

// The JSON of a vLLM point's server_metrics is what it was before engines other than vLLM were
// read: the same fields, in the same order, nothing added.
func TestVLLMServerMetricsJSON(t *testing.T) {
	tr := newServerTracker()
	for _, pre := range []string{"3", "7"} {
		s, err := parseMetrics(strings.NewReader(`vllm:num_requests_running{engine="0",model_name="m"} 4.0
vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
vllm:num_preemptions_total{engine="0",model_name="m"} `+pre+"\n"), everyEngine)
		if err != nil {
			t.Fatal(err)
		}
		tr.add(s)
	}
	tr.fail(fmt.Errorf("GET http://h/metrics: 500 Internal Server Error"))
	got, _ := json.Marshal(tr.m)
	want := `{"samples":2,"scrape_errors":1,"last_scrape_error":"GET http://h/metrics: 500 Internal Server Error",` +
		`"max_running":4,"max_waiting":1,"max_kv_cache_usage":0.5,"preemptions":4,"prefix_cache_queries":null,"prefix_cache_hits":null,"prefix_cache_hit_rate":null}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// metricsServer answers /metrics with the statuses in order (the last one repeats); 200 is a vLLM
// exposition. It counts the scrapes.
type metricsServer struct {
	statuses []int
	hits     atomic.Int64
}

func (m *metricsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(m.hits.Add(1)) - 1
	status := m.statuses[min(n, len(m.statuses)-1)]
	switch status {
	case http.StatusOK:
		fmt.Fprint(w, "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 1.0\n")
	case http.StatusNotFound: // ollama: gin's default answer, no such route
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		fmt.Fprint(w, "404 page not found")
	case http.StatusNotImplemented: // llama-server without --metrics
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprint(w, `{"error":{"code":501,"message":"This server does not support metrics endpoint. Start it with `+"`--metrics`"+`","type":"not_supported_error"}}`)
	default:
		w.WriteHeader(status)
	}
}

// A server without /metrics is asked once per sweep, not about once a second: the first scrape's
// 404 or 501 is recorded as the reason and remembered for the later points; other refusals end
// the point's scraping but are asked again at the next point; failures after a successful scrape
// and connection errors are scrape errors, as before.
func TestMetricsProbe(t *testing.T) {
	tests := []struct {
		name        string
		statuses    []int
		unavailable string
		remembered  bool
		errors      bool // scrape errors counted
	}{
		{"ollama", []int{404}, "no metrics endpoint (HTTP 404 Not Found)", true, false},
		{"llama-server without --metrics", []int{501}, "no metrics endpoint (HTTP 501 Not Implemented)", true, false},
		{"refused", []int{503, 200}, "HTTP 503 Service Unavailable", false, false},
		{"fails after a success", []int{200, 404, 500, 200}, "", false, true},
		{"vllm", []int{200}, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := &metricsServer{statuses: tc.statuses}
			s := httptest.NewServer(ms)
			defer s.Close()
			memo := &MetricsMemo{}
			scrape := func() *ServerMetrics {
				ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
				defer cancel()
				return scrapeLoop(ctx, s.Client(), s.URL+"/metrics", 10*time.Millisecond, everyEngine, memo)
			}
			m := scrape()
			if m.Unavailable != tc.unavailable || (m.ScrapeErrors > 0) != tc.errors {
				t.Fatalf("first point: %+v", m)
			}
			if tc.unavailable != "" && (ms.hits.Load() != 1 || m.Samples != 0 || !math.IsNaN(float64(m.MaxRunning))) {
				t.Fatalf("%d scrapes, %+v; want one probe and no samples", ms.hits.Load(), m)
			}
			if tc.unavailable == "" && m.Samples == 0 {
				t.Fatalf("no samples: %+v", m)
			}
			before := ms.hits.Load()
			m = scrape()
			asked := ms.hits.Load() > before
			if tc.remembered == asked || (tc.remembered && m.Unavailable != tc.unavailable) {
				t.Errorf("second point asked again: %v, %+v", asked, m)
			}
		})
	}
	// A server that is not listening is a scrape error at every tick, never "unavailable".
	s := httptest.NewServer(http.NotFoundHandler())
	url := s.URL + "/metrics"
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	if m := scrapeLoop(ctx, http.DefaultClient, url, 10*time.Millisecond, everyEngine, &MetricsMemo{}); m.Unavailable != "" || m.ScrapeErrors < 2 {
		t.Errorf("connection refused: %+v", m)
	}
}

// ollama 0.6.5's streams, field for field as its openai package marshals them (toCompleteChunk,
// toChunk, the usage chunk of writeResponse): with include_usage every completions chunk carries
// an all-zero usage block, a chat delta repeats role "assistant", the finishing chunk has empty
// text and finish_reason, the real usage comes last with "choices":[], and ids are
// rand.Intn(999), not unique.
const (
	ollamaText      = `{"id":"cmpl-413","object":"text_completion","created":1744286400,"choices":[{"text":%q,"index":0,"finish_reason":null}],"model":"tiny","system_fingerprint":"fp_ollama","usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`
	ollamaTextDone  = `{"id":"cmpl-413","object":"text_completion","created":1744286400,"choices":[{"text":"","index":0,"finish_reason":%q}],"model":"tiny","system_fingerprint":"fp_ollama","usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`
	ollamaTextUsage = `{"id":"cmpl-413","object":"text_completion","created":1744286400,"choices":[],"model":"tiny","system_fingerprint":"fp_ollama","usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`
	ollamaChat      = `{"id":"chatcmpl-87","object":"chat.completion.chunk","created":1744286400,"model":"tiny","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":%q},"finish_reason":null}]}`
	ollamaChatDone  = `{"id":"chatcmpl-87","object":"chat.completion.chunk","created":1744286400,"model":"tiny","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":%q}]}`
	ollamaChatUsage = `{"id":"chatcmpl-87","object":"chat.completion.chunk","created":1744286400,"model":"tiny","system_fingerprint":"fp_ollama","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`
)

// ollamaStream is a whole ollama reply whose texts are the content chunks (a chunk may hold
// several tokens: partial UTF-8 is merged), then the finishing chunk and the usage.
func ollamaStream(chat bool, texts []string, prompt, completion int, finish string) []string {
	text, done, usage := ollamaText, ollamaTextDone, ollamaTextUsage
	if chat {
		text, done, usage = ollamaChat, ollamaChatDone, ollamaChatUsage
	}
	var events []string
	for _, s := range texts {
		events = append(events, fmt.Sprintf(text, s))
	}
	return append(events, fmt.Sprintf(done, finish), fmt.Sprintf(usage, prompt, completion, prompt+completion), "[DONE]")
}

// A record from an engine that streams as ollama does: TTFT starts at the first chunk with text
// (not a role-only one), E2EL ends at the last (not the empty finishing one), and the output
// length is the final usage's, not the chunk count and not the zero blocks before it; the point
// sums usage and flags nothing.
func TestRecordFromOllamaStream(t *testing.T) {
	for _, chat := range []bool{false, true} {
		t.Run(fmt.Sprintf("chat=%v", chat), func(t *testing.T) {
			// 5 tokens in 4 chunks ("é" came as two byte tokens), stopped before max_tokens.
			events := ollamaStream(chat, []string{" Paris", " é", "té", "!"}, 6, 5, "stop")
			if chat { // vLLM's role-only first delta, before any text, must not start TTFT
				events = append([]string{roleEvent}, events...)
			}
			// Each write returns once the reader has the bytes; 30 ms pauses before the first
			// text and before the finishing chunk tell which chunk stamped First and Last.
			pr, pw := io.Pipe()
			origin := time.Now()
			var firstText, finishing time.Duration
			go func() {
				for i, e := range events {
					switch {
					case chat && i == 1:
						time.Sleep(30 * time.Millisecond)
						firstText = time.Since(origin)
					case i == len(events)-3:
						time.Sleep(30 * time.Millisecond)
						finishing = time.Since(origin)
					}
					fmt.Fprintf(pw, "data: %s\n\n", e)
				}
				pw.Close()
			}()
			rec := &RequestRecord{Index: 0, InputTokens: 3}
			if err := readResponse(response(200, pr), rec, origin); err != nil {
				t.Fatal(err)
			}
			if rec.ChunkCount != 4 || rec.OutputTokens != 5 || rec.InputTokens != 6 || !rec.UsageReported {
				t.Fatalf("record %+v", rec)
			}
			if chat && rec.First < firstText {
				t.Errorf("TTFT started at %v, before the first text (%v)", rec.First, firstText)
			}
			if rec.Last >= finishing {
				t.Errorf("E2EL ended at %v, after the finishing chunk was sent (%v): its empty text counted", rec.Last, finishing)
			}
			rec.Done = rec.Last
			agg := NewAggregator(0, nil)
			agg.Add(rec)
			var p Point
			agg.Finalize(&p, time.Second, 0)
			if p.Completed != 1 || p.TotalOutputTokens != 5 || p.TotalInputTokens != 6 || p.OutputTokensFromChunks != 0 {
				t.Errorf("point: completed %d, output %d, input %d, from chunks %d", p.Completed, p.TotalOutputTokens,
					p.TotalInputTokens, p.OutputTokensFromChunks)
			}
		})
	}
}

// ollamaServer serves /v1/completions and /v1/chat/completions as ollama 0.6.5 does, for a random
// model that ignores ignore_eos and stops two tokens early, with two tokens merged into one chunk;
// it has no /metrics.
type ollamaServer struct {
	metricsHits atomic.Int64
}

func (o *ollamaServer) start(t testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	stream := func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			MaxTokens     int   `json:"max_tokens"`
			Messages      []any `json:"messages"`
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !body.StreamOptions.IncludeUsage || body.MaxTokens < 3 {
			http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error","param":null,"code":null}}`, 400)
			return
		}
		n := body.MaxTokens - 2
		texts := []string{" a" + "b"} // two tokens in one chunk
		for i := 2; i < n; i++ {
			texts = append(texts, fmt.Sprintf(" w%d", i))
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range ollamaStream(body.Messages != nil, texts, 5, n, "stop") {
			fmt.Fprintf(w, "data: %s\n\n", e)
			w.(http.Flusher).Flush()
		}
	}
	mux.HandleFunc("/v1/completions", stream)
	mux.HandleFunc("/v1/chat/completions", stream)
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		o.metricsHits.Add(1)
		http.NotFound(w, r)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// A sweep against an ollama-like server: output tokens are usage's (fewer than asked, and more
// than the chunks), nothing is flagged as counted from chunks, and /metrics is probed once for the
// whole sweep and reported as missing on every point, with no scrape errors.
func TestSweepOnOllama(t *testing.T) {
	for _, ep := range []Endpoint{EndpointCompletions, EndpointChat} {
		t.Run(string(ep), func(t *testing.T) {
			o := &ollamaServer{}
			s := o.start(t)
			opts := testOptions(t)
			opts.NumRequests = 10
			target := Target{URL: s.URL, Model: "tiny", Endpoint: ep, ScrapeInterval: 10 * time.Millisecond, MetricsMemo: &MetricsMemo{}}
			res, err := Run(context.Background(), target, Config{Name: "ollama", Rates: []float64{100, 200}, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range res.Points {
				// The dataset asks for 6 tokens; the model stops after 4, streamed in 3 chunks.
				if p.Completed != 10 || p.TotalOutputTokens != 40 || p.TotalInputTokens != 50 || p.OutputTokensFromChunks != 0 {
					t.Errorf("point %d: completed %d, output %d, input %d, from chunks %d", i, p.Completed,
						p.TotalOutputTokens, p.TotalInputTokens, p.OutputTokensFromChunks)
				}
				sm := p.ServerMetrics
				if sm == nil || sm.Unavailable != "no metrics endpoint (HTTP 404 Not Found)" || sm.ScrapeErrors != 0 || sm.Samples != 0 {
					t.Errorf("point %d: server_metrics %+v", i, sm)
				}
			}
			if n := o.metricsHits.Load(); n != 1 {
				t.Errorf("/metrics asked %d times in a 2-point sweep, want once", n)
			}
		})
	}
}

// everyEngine reads any engine's series, as for an external server.
var everyEngine = metricSeries(server.EngineExternal)
