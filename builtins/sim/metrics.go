package sim

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// histogram is a Prometheus histogram with fixed upper bounds.
type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v: buckets are le
	h.counts[i]++
	h.sum += v
	h.n++
}

// vLLM's bucket bounds (vllm/v1/metrics/loggers.py).
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
		2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
		2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	e2eBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0,
		50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

// metrics are the server-wide counters behind /metrics and virtual.Stats.
type metrics struct {
	preemptions      int64
	promptTokens     int64
	generationTokens int64
	success          int64
	aborted          int64
	// prefixQueries and prefixHits are prompt tokens looked up in the prefix cache and found.
	prefixQueries, prefixHits int64
	ttft, itl, e2e            histogram
}

func newMetrics() *metrics {
	return &metrics{ttft: newHistogram(ttftBuckets), itl: newHistogram(itlBuckets), e2e: newHistogram(e2eBuckets)}
}

// gauges are the instantaneous values of one scrape.
type gauges struct {
	running, waiting int
	kvUsage          float64
}

// writePrometheus renders the metrics in Prometheus text format 0.0.4 with vLLM V1's names and
// its model_name and engine labels.
func writePrometheus(w io.Writer, model string, g gauges, m *metrics) {
	lbl := fmt.Sprintf(`engine="0",model_name=%s`, strconv.Quote(model))
	var b strings.Builder
	metric := func(name, typ, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s{%s} %s\n", name, help, name, typ, name, lbl, fmtFloat(v))
	}
	metric("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", float64(g.running))
	metric("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", float64(g.waiting))
	metric("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", g.kvUsage)
	metric("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.", float64(m.preemptions))
	metric("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", float64(m.promptTokens))
	metric("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", float64(m.generationTokens))
	metric("vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.", float64(m.prefixQueries))
	metric("vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.", float64(m.prefixHits))
	fmt.Fprintf(&b, "# HELP vllm:request_success_total Count of successfully processed requests.\n# TYPE vllm:request_success_total counter\n")
	fmt.Fprintf(&b, "vllm:request_success_total{%s,finished_reason=\"length\"} %d\n", lbl, m.success)
	hist := func(name, help string, h *histogram) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
		var cum uint64
		for i, ub := range h.bounds {
			cum += h.counts[i]
			fmt.Fprintf(&b, "%s_bucket{%s,le=\"%s\"} %d\n", name, lbl, fmtFloat(ub), cum)
		}
		fmt.Fprintf(&b, "%s_bucket{%s,le=\"+Inf\"} %d\n", name, lbl, h.n)
		fmt.Fprintf(&b, "%s_sum{%s} %s\n%s_count{%s} %d\n", name, lbl, fmtFloat(h.sum), name, lbl, h.n)
	}
	hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", &m.ttft)
	hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", &m.itl)
	hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", &m.e2e)
	io.WriteString(w, b.String())
}

func fmtFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") && !strings.Contains(s, "Inf") && !strings.Contains(s, "NaN") {
		s += ".0"
	}
	return s
}
