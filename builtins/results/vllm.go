package results

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"starlab/builtins/sweep/pointschema"
)

// vLLM bench serve's result JSON (vllm/benchmarks/serve.py; earlier benchmarks/
// benchmark_serving.py): setup fields (date, endpoint_type, backend, label, model_id,
// tokenizer_id, num_prompts), traffic (request_rate, a number or "inf"; burstiness;
// max_concurrency, null when unbounded), the benchmark's figures (duration, completed, failed,
// total_input_tokens, total_output_tokens, request_throughput, request_goodput, null without
// --goodput, output_throughput, total_token_throughput, max_output_tokens_per_s,
// max_concurrent_requests) and, for each metric of --percentile-metrics (ttft,tpot,itl by default),
// mean_/median_/std_<m>_ms and p<P>_<m>_ms for each of --metric-percentiles (P written "99",
// "99.9"). Older versions lack endpoint_type, label, failed and the max_* fields, and spell
// request_goodput "request_goodput:". With --save-detailed, per-request lists follow: input_lens,
// output_lens, ttfts, itls, latencies (newer) and errors ("" for a success).

// isVLLM recognises a vLLM bench result: completed and request_throughput at the top.
func isVLLM(v any) bool {
	m, ok := v.(obj)
	if !ok {
		return false
	}
	_, c := m["completed"]
	_, r := m["request_throughput"]
	_, mtr := m["metrics"] // AIPerf and GuideLLM nest theirs
	return c && r && !mtr
}

var vllmMetrics = []string{"ttft", "tpot", "itl", "e2el"}

// fromVLLM reads one result; model is its model_id.
func fromVLLM(m obj) (pointschema.Point, string, error) {
	p := newPoint()
	completed, ok := number(m["completed"])
	if !ok || completed < 0 {
		return p, "", fmt.Errorf("completed: want a count, got %v", m["completed"])
	}
	p.Completed = count(completed)
	rate, ok := number(m["request_rate"])
	switch {
	case ok:
		p.RequestRate = pointschema.Float(rate)
	case m["request_rate"] == nil:
		// Before request_rate was written, every run sent as fast as it could.
		p.RequestRate = pointschema.Float(math.Inf(1))
	default:
		return p, "", fmt.Errorf("request_rate: want a number or \"inf\", got %v", m["request_rate"])
	}
	if mc, ok := number(m["max_concurrency"]); ok && mc > 0 {
		p.MaxConcurrency = count(mc)
	}
	p.Burstiness = pointschema.Float(num(m, "burstiness"))
	if _, given := m["burstiness"]; !given && !math.IsInf(rate, 1) {
		p.Burstiness = 1 // before burstiness was written, arrivals were Poisson
	}
	if s := str(m, "ramp_up_strategy"); s != "" {
		p.Arrival = "ramp"
	}
	p.Duration = pointschema.Float(num(m, "duration"))
	p.TotalInputTokens = count(num(m, "total_input_tokens"))
	p.TotalOutputTokens = count(num(m, "total_output_tokens"))
	p.RequestThroughput = pointschema.Float(num(m, "request_throughput"))
	p.OutputThroughput = pointschema.Float(num(m, "output_throughput"))
	p.TotalTokenThroughput = pointschema.Float(num(m, "total_token_throughput"))
	p.RequestGoodput = pointschema.Float(firstNum(m, "request_goodput", "request_goodput:"))

	errs, _ := m["errors"].([]any)
	if f, ok := number(m["failed"]); ok {
		p.Failed = count(f)
	} else if errs != nil {
		for _, e := range errs {
			if s, _ := e.(string); s != "" {
				p.Failed++
			}
		}
	} else if n, ok := number(m["num_prompts"]); ok && n >= completed {
		// Older versions sent every prompt and counted only successes.
		p.Failed = count(n - completed)
	}
	for _, e := range errs {
		if s, _ := e.(string); s != "" {
			p.Errors[errorKind(s)]++
		}
	}
	if n, ok := number(m["num_prompts"]); ok && n > 0 {
		p.Client.Sent = count(n)
	}

	for k, name := range vllmMetrics {
		s := unknown5()
		s[0], s[1], s[2] = num(m, "mean_"+name+"_ms"), num(m, "median_"+name+"_ms"), num(m, "std_"+name+"_ms")
		s[3], s[4] = percentileKey(m, 90, name), percentileKey(m, 99, name)
		setLatency(&p, k, s)
	}
	// Without e2el in --percentile-metrics (the default leaves it out), a detailed result still
	// has every request's latency.
	if math.IsNaN(float64(p.MeanE2ELMs)) {
		if s, ok := detailedLatency(m); ok {
			setLatency(&p, 3, s)
		}
	}
	p.Server = "vllm-bench"
	if label := str(m, "label"); label != "" {
		p.Server = label
	}
	p.Engine = engineOf(str(m, "backend"))
	// starlab's own export says what it measured.
	if e := str(m, "starlab_engine"); e != "" {
		p.Engine, p.EngineVersion = e, str(m, "starlab_engine_version")
	}
	if s := str(m, "starlab_server"); s != "" {
		p.Server = s
	}
	if a := str(m, "starlab_arrival"); a != "" {
		p.Arrival = a
	}
	p.Incomplete = count(num(m, "starlab_incomplete"))
	finish(&p)
	return p, str(m, "model_id"), nil
}

// percentileKey reads p<P>_<metric>_ms, written "p99" or, by some writers, "p99.0".
func percentileKey(m obj, pct int, metric string) float64 {
	return firstNum(m, fmt.Sprintf("p%d_%s_ms", pct, metric), fmt.Sprintf("p%d.0_%s_ms", pct, metric))
}

// detailedLatency computes e2el statistics from the per-request latencies (seconds) of the
// successful requests, as vLLM bench computes its own (numpy's linear percentiles, population std).
func detailedLatency(m obj) (stats5, bool) {
	lat, _ := m["latencies"].([]any)
	errs, _ := m["errors"].([]any)
	var xs []float64
	for i, v := range lat {
		if i < len(errs) {
			if s, _ := errs[i].(string); s != "" {
				continue
			}
		}
		if f, ok := number(v); ok && f > 0 {
			xs = append(xs, f*1000)
		}
	}
	if len(xs) == 0 {
		return stats5{}, false
	}
	sort.Float64s(xs)
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	std := math.Sqrt(v / float64(len(xs)))
	return stats5{mean, linearPercentile(xs, 50), std, linearPercentile(xs, 90), linearPercentile(xs, 99)}, true
}

// linearPercentile is numpy's default percentile of sorted xs.
func linearPercentile(xs []float64, pct float64) float64 {
	pos := pct / 100 * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	if lo >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[lo] + (pos-float64(lo))*(xs[lo+1]-xs[lo])
}

// errorKind shortens an error text to a key for Errors: its first line, at most 80 bytes.
func errorKind(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// engineOf maps vLLM bench's --backend (the request format it spoke) to the engine it implies:
// the engine-specific backends name their engine, the OpenAI-compatible ones do not.
func engineOf(backend string) string {
	switch b := strings.ToLower(backend); {
	case b == "vllm" || strings.HasPrefix(b, "vllm-"):
		return "vllm"
	case b == "sglang" || strings.HasPrefix(b, "sglang-"):
		return "sglang"
	case b == "llama.cpp" || b == "llamacpp":
		return "llama.cpp"
	case b == "tgi" || b == "lmdeploy" || b == "tensorrt-llm" || b == "deepspeed-mii" || b == "scalellm":
		return b
	}
	return EngineExternal
}
