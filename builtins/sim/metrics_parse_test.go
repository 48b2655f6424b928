package sim

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// sample is one parsed exposition line.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseText is a strict reader for the subset of the Prometheus text format the server writes:
// every sample must follow a # TYPE line for its family and carry a quoted model_name label.
// (expfmt's parser is exercised by metrics_expfmt_test.go under -tags expfmt: it needs
// github.com/munnerz/goautoneg in go.sum.)
func parseText(t *testing.T, body []byte) (map[string]string, []sample) {
	t.Helper()
	types := map[string]string{}
	var out []sample
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			types[f[2]] = f[3]
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		open, close := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
		if open < 0 || close < open {
			t.Fatalf("sample without labels: %q", line)
		}
		s := sample{name: line[:open], labels: map[string]string{}}
		for _, kv := range strings.Split(line[open+1:close], ",") {
			k, v, ok := strings.Cut(kv, "=")
			uq, err := strconv.Unquote(v)
			if !ok || err != nil {
				t.Fatalf("bad label %q in %q", kv, line)
			}
			s.labels[k] = uq
		}
		var err error
		if s.value, err = strconv.ParseFloat(strings.TrimSpace(line[close+1:]), 64); err != nil {
			t.Fatalf("bad value in %q", line)
		}
		fam := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s.name, "_bucket"), "_sum"), "_count")
		if types[s.name] == "" && types[fam] == "" {
			t.Fatalf("sample before its # TYPE: %q", line)
		}
		if s.labels["model_name"] == "" {
			t.Fatalf("no model_name label: %q", line)
		}
		out = append(out, s)
	}
	return types, out
}

func checkMetrics(t *testing.T, body []byte, genTokens float64, requests int) {
	t.Helper()
	types, samples := parseText(t, body)
	want := map[string]string{"vllm:num_requests_running": "gauge", "vllm:num_requests_waiting": "gauge",
		"vllm:kv_cache_usage_perc": "gauge", "vllm:num_preemptions_total": "counter", "vllm:prompt_tokens_total": "counter",
		"vllm:generation_tokens_total": "counter", "vllm:time_to_first_token_seconds": "histogram",
		"vllm:inter_token_latency_seconds": "histogram", "vllm:e2e_request_latency_seconds": "histogram"}
	for n, typ := range want {
		if types[n] != typ {
			t.Errorf("%s: type %q, want %q", n, types[n], typ)
		}
	}
	get := func(name string) float64 {
		for _, s := range samples {
			if s.name == name {
				return s.value
			}
		}
		t.Errorf("no sample %s", name)
		return 0
	}
	if get("vllm:num_preemptions_total") == 0 {
		t.Error("no preemptions")
	}
	if g := get("vllm:generation_tokens_total"); g != genTokens {
		t.Errorf("generation tokens %v, want %v", g, genTokens)
	}
	if n := get("vllm:e2e_request_latency_seconds_count"); n != float64(requests) {
		t.Errorf("e2e count %v, want %d", n, requests)
	}
}
