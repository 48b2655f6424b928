package results

import (
	"fmt"
	"math"
	"strings"

	"starlab/builtins/sweep/pointschema"
)

// AIPerf's profile export (profile_export_aiperf.json, JsonExportData in
// src/aiperf/common/models/export_models.py, written by exporters/metrics_json_exporter.py): each
// metric at the top level as {unit, avg, p1, p5, p10, p25, p50, p75, p90, p95, p99, min, max, std}
// (only the fields known; NaN written null): request_throughput (requests/sec), request_latency,
// time_to_first_token, inter_token_latency (per request, (latency - ttft) / (osl - 1): vLLM's
// TPOT), inter_chunk_latency (between stream chunks: vLLM's ITL), output_token_throughput
// (tokens/sec), request_count, error_request_count, total_isl, total_osl, benchmark_duration
// (sec); then aiperf_version, input_config (the run's settings as given: loadgen.concurrency,
// loadgen.request_rate, loadgen.arrival_pattern or request_rate_mode, endpoint.model_names),
// start_time and end_time.

var aiperfMetrics = []string{"request_throughput", "request_latency", "time_to_first_token", "inter_token_latency", "output_token_throughput"}

// isAIPerf recognises a profile export: one of its metrics as an object with a unit.
func isAIPerf(v any) bool {
	m, ok := v.(obj)
	if !ok {
		return false
	}
	for _, k := range aiperfMetrics {
		if _, ok := at(m, k+".unit").(string); ok {
			return true
		}
	}
	return false
}

// fromAIPerf reads an export's one point; tool is "aiperf" and its version, model the first of
// the endpoint's model names.
func fromAIPerf(m obj) (pointschema.Point, string, string, error) {
	p := newPoint()
	tool := "aiperf"
	if v := str(m, "aiperf_version"); v != "" {
		tool += " " + v
	}
	var model string
	if names, _ := at(m, "input_config.endpoint.model_names").([]any); len(names) > 0 {
		model, _ = names[0].(string)
	}
	completed := num(m, "request_count.avg")
	if math.IsNaN(completed) {
		return p, tool, model, fmt.Errorf("request_count: missing, so the point has no count of requests")
	}
	p.Completed = count(completed)
	// error_request_count is left out when nothing failed.
	p.Failed = count(num(m, "error_request_count.avg"))

	lg := at(m, "input_config.loadgen")
	rate, conc := num(lg, "request_rate"), num(lg, "concurrency")
	switch {
	case rate > 0:
		p.RequestRate = pointschema.Float(rate)
		p.Arrival = strings.ToLower(firstNonEmpty(str(lg, "arrival_pattern"), str(lg, "request_rate_mode")))
		switch p.Arrival {
		case "", "poisson":
			p.Arrival, p.Burstiness = "poisson", 1
		case "gamma":
			p.Burstiness = pointschema.Float(num(lg, "arrival_smoothness"))
		}
		if conc > 0 {
			p.MaxConcurrency = count(conc)
		}
	case conc > 0:
		p.RequestRate, p.MaxConcurrency = pointschema.Float(math.Inf(1)), count(conc)
	}

	dur, err := aiperfValue(m, "benchmark_duration", "avg", "s")
	if err != nil {
		return p, tool, model, err
	}
	p.Duration = pointschema.Float(dur)
	in, out := num(m, "total_isl.avg"), firstNum(m, "total_osl.avg", "total_output_tokens.avg")
	p.TotalInputTokens, p.TotalOutputTokens = count(in), count(out)
	p.RequestThroughput = pointschema.Float(num(m, "request_throughput.avg"))
	p.OutputThroughput = pointschema.Float(num(m, "output_token_throughput.avg"))
	if dur > 0 && !math.IsNaN(in) && !math.IsNaN(out) {
		p.TotalTokenThroughput = pointschema.Float((in + out) / dur)
	}
	if g := num(m, "goodput.avg"); !math.IsNaN(g) {
		p.RequestGoodput = pointschema.Float(g)
	}
	for k, key := range []string{"time_to_first_token", "inter_token_latency", "inter_chunk_latency", "request_latency"} {
		s := unknown5()
		for i, stat := range []string{"avg", "p50", "std", "p90", "p99"} {
			v, err := aiperfValue(m, key, stat, "ms")
			if err != nil {
				return p, tool, model, err
			}
			s[i] = v
		}
		setLatency(&p, k, s)
	}
	p.Server = "aiperf"
	finish(&p)
	return p, tool, model, nil
}

// aiperfValue reads a metric's statistic converted to want ("ms" or "s") from the metric's unit.
func aiperfValue(m obj, metric, stat, want string) (float64, error) {
	v := num(m, metric+"."+stat)
	if math.IsNaN(v) {
		return v, nil
	}
	unit := str(m, metric+".unit")
	secs, ok := map[string]float64{"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "secs": 1, "seconds": 1}[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("%s: unit %q, want a time unit (ns, us, ms, s, sec)", metric, unit)
	}
	if want == "ms" {
		return v * secs * 1000, nil
	}
	return v * secs, nil
}
