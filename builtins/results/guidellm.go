package results

import (
	"fmt"
	"math"

	"starlab/builtins/sweep/pointschema"
)

// GuideLLM's report (`guidellm benchmark --output-path x.json`, GenerativeBenchmarksReport in
// src/guidellm/benchmark/schemas/generative/report.py): {"args": ..., "benchmarks": [...]}, each
// benchmark with its scheduling strategy (config.strategy; args.strategy before 0.4): type_
// synchronous, concurrent (streams), throughput, constant or poisson (rate); its window
// (duration, or start_time/end_time; scheduler_metrics or run_stats hold them too); and metrics,
// each a StatusDistributionSummary {successful, errored, incomplete, total} of DistributionSummary
// {mean, median, mode, variance, std_dev, min, max, count, total_sum, percentiles {p001, p01, p05,
// p10, p25, p50, p75, p90, p95, p99, p999}}: requests_per_second, request_concurrency,
// request_latency (seconds), prompt_token_count, output_token_count, time_to_first_token_ms,
// time_per_output_token_ms, inter_token_latency_ms, output_tokens_per_second, tokens_per_second.
// Counts by status are metrics.request_totals (run_stats.requests_made before).

// isGuideLLM recognises a report: a list of benchmarks with metrics.
func isGuideLLM(v any) bool {
	m, ok := v.(obj)
	if !ok {
		return false
	}
	list, ok := m["benchmarks"].([]any)
	if !ok || len(list) == 0 {
		return false
	}
	_, ok = at(list[0], "metrics").(obj)
	return ok
}

// fromGuideLLM reads every benchmark of a report; tool is "guidellm" and its version when the
// report says, model the model benchmarked when it says.
func fromGuideLLM(m obj) ([]pointschema.Point, string, string, error) {
	tool := "guidellm"
	if v := firstNonEmpty(str(m, "metadata.guidellm_version"), str(m, "metadata.version")); v != "" {
		tool += " " + v
	}
	model := firstNonEmpty(str(m, "args.model"), str(m, "args.backend_kwargs.model"))
	var out []pointschema.Point
	for i, b := range m["benchmarks"].([]any) {
		bm, ok := b.(obj)
		if !ok {
			return nil, "", "", fmt.Errorf("benchmarks[%d]: want an object", i)
		}
		p, err := guideLLMBenchmark(bm)
		if err != nil {
			return nil, "", "", fmt.Errorf("benchmarks[%d]: %w", i, err)
		}
		if model == "" {
			model = firstNonEmpty(str(bm, "config.backend.model"), str(bm, "config.requests.model"))
		}
		out = append(out, p)
	}
	return out, tool, model, nil
}

func guideLLMBenchmark(b obj) (pointschema.Point, error) {
	p := newPoint()
	strategy, _ := at(b, "config.strategy").(obj)
	if strategy == nil {
		strategy, _ = at(b, "args.strategy").(obj)
	}
	if strategy == nil {
		return p, fmt.Errorf("no config.strategy (or args.strategy): the load is unknown")
	}
	inf := pointschema.Float(math.Inf(1))
	switch kind := str(strategy, "type_"); kind {
	case "synchronous":
		p.RequestRate, p.MaxConcurrency = inf, 1
	case "concurrent":
		p.RequestRate, p.MaxConcurrency = inf, count(num(strategy, "streams"))
	case "throughput":
		p.RequestRate = inf
		p.MaxConcurrency = count(num(strategy, "max_concurrency"))
	case "constant", "poisson":
		p.RequestRate, p.Arrival = pointschema.Float(num(strategy, "rate")), kind
		if kind == "poisson" {
			p.Burstiness = 1
		}
		p.MaxConcurrency = count(num(strategy, "max_concurrency"))
	default:
		return p, fmt.Errorf("strategy type_ %q: want synchronous, concurrent, throughput, constant or poisson", kind)
	}
	p.Duration = pointschema.Float(firstNum(b, "duration"))
	if math.IsNaN(float64(p.Duration)) {
		for _, pair := range [][2]string{{"start_time", "end_time"}, {"scheduler_metrics.measure_start_time", "scheduler_metrics.measure_end_time"},
			{"run_stats.start_time", "run_stats.end_time"}} {
			if d := num(b, pair[1]) - num(b, pair[0]); d > 0 {
				p.Duration = pointschema.Float(d)
				break
			}
		}
	}
	met, _ := b["metrics"].(obj)
	totals := func(status string) float64 {
		return firstNum(b, "metrics.request_totals."+status, "run_stats.requests_made."+status, "request_totals."+status)
	}
	completed := totals("successful")
	if math.IsNaN(completed) {
		completed = num(met, "request_latency.successful.count")
	}
	if math.IsNaN(completed) {
		return p, fmt.Errorf("no count of successful requests (metrics.request_totals.successful)")
	}
	p.Completed, p.Failed, p.Incomplete = count(completed), count(totals("errored")), count(totals("incomplete"))
	if sent := totals("total"); !math.IsNaN(sent) {
		p.Client.Sent = count(sent)
	}
	in := num(met, "prompt_token_count.successful.total_sum")
	out := num(met, "output_token_count.successful.total_sum")
	p.TotalInputTokens, p.TotalOutputTokens = count(in), count(out)

	// Throughputs as vLLM bench defines them, completions over the window, when the window is
	// known; GuideLLM's own time-weighted mean rates otherwise.
	d := float64(p.Duration)
	if d > 0 {
		p.RequestThroughput = pointschema.Float(completed / d)
		p.OutputThroughput = pointschema.Float(out / d)
		p.TotalTokenThroughput = pointschema.Float((in + out) / d)
	} else {
		p.RequestThroughput = pointschema.Float(num(met, "requests_per_second.successful.mean"))
		p.OutputThroughput = pointschema.Float(num(met, "output_tokens_per_second.successful.mean"))
		p.TotalTokenThroughput = pointschema.Float(num(met, "tokens_per_second.successful.mean"))
	}
	for k, key := range []string{"time_to_first_token_ms", "time_per_output_token_ms", "inter_token_latency_ms", "request_latency"} {
		s := guideLLMDist(met, key)
		if key == "request_latency" {
			s = s.scaled(1000) // seconds
		}
		setLatency(&p, k, s)
	}
	p.Server = "guidellm"
	finish(&p)
	return p, nil
}

// guideLLMDist reads a metric's successful distribution.
func guideLLMDist(met obj, key string) stats5 {
	d := at(met, key+".successful")
	return stats5{num(d, "mean"), num(d, "median"), num(d, "std_dev"), num(d, "percentiles.p90"), num(d, "percentiles.p99")}
}
