package sweep

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"starlab/builtins/sim"
	"starlab/builtins/virtual"
)

// runningPage is the start of a vLLM /metrics page: two data-parallel engines running 3 and 2.
const runningPage = "# HELP vllm:num_requests_running Number of requests in model execution batches.\n# TYPE vllm:num_requests_running gauge\n" +
	"vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\nvllm:num_requests_running{engine=\"1\",model_name=\"m\"} 2.0\n"

// prefixExposition is vLLM's prefix-cache counters as prometheus_client writes them, for two
// data-parallel engines under name (vllm:prefix_cache or the older vllm:gpu_prefix_cache);
// queries and hits are per engine.
func prefixExposition(name string, queries, hits [2]float64) string {
	var b strings.Builder
	for _, c := range []struct {
		suffix string
		v      [2]float64
	}{{"queries", queries}, {"hits", hits}} {
		fam := name + "_" + c.suffix + "_total"
		fmt.Fprintf(&b, "# HELP %s Prefix cache %s.\n# TYPE %s counter\n", fam, c.suffix, fam)
		for e, v := range c.v {
			fmt.Fprintf(&b, "%s{engine=\"%d\",model_name=\"m\"} %v\n", fam, e, v)
		}
	}
	return b.String()
}

func TestPrefixCacheScrape(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                  string
		pages                 []string
		queries, hits, rateOK float64
	}{
		{"vLLM V1 counters, summed over engines",
			[]string{prefixExposition("vllm:prefix_cache", [2]float64{1000, 500}, [2]float64{100, 0}),
				prefixExposition("vllm:prefix_cache", [2]float64{3000, 1500}, [2]float64{1700, 900})},
			3000, 2500, 2500.0 / 3000},
		{"the older gpu_ names",
			[]string{prefixExposition("vllm:gpu_prefix_cache", [2]float64{0, 0}, [2]float64{0, 0}),
				prefixExposition("vllm:gpu_prefix_cache", [2]float64{800, 0}, [2]float64{200, 0})},
			800, 200, 0.25},
		{"both names: the new one wins",
			[]string{prefixExposition("vllm:prefix_cache", [2]float64{10, 0}, [2]float64{5, 0}) +
				prefixExposition("vllm:gpu_prefix_cache", [2]float64{99, 0}, [2]float64{1, 0}),
				prefixExposition("vllm:prefix_cache", [2]float64{110, 0}, [2]float64{55, 0}) +
					prefixExposition("vllm:gpu_prefix_cache", [2]float64{999, 0}, [2]float64{2, 0})},
			100, 50, 0.5},
		{"no lookups in the point: the rate is unknown",
			[]string{prefixExposition("vllm:prefix_cache", [2]float64{40, 0}, [2]float64{16, 0}),
				prefixExposition("vllm:prefix_cache", [2]float64{40, 0}, [2]float64{16, 0})},
			0, 0, nan},
		{"a server without the counters",
			[]string{"", ""}, nan, nan, nan},
	}
	same := func(a Float, b float64) bool {
		return float64(a) == b || math.IsNaN(float64(a)) && math.IsNaN(b)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newServerTracker()
			for _, page := range tc.pages {
				s, err := parseMetrics(strings.NewReader(runningPage+page), everyEngine)
				if err != nil {
					t.Fatal(err)
				}
				tr.add(s)
			}
			m := tr.m
			if !same(m.PrefixCacheQueries, tc.queries) || !same(m.PrefixCacheHits, tc.hits) || !same(m.PrefixCacheHitRate, tc.rateOK) {
				t.Errorf("queries %v hits %v rate %v; want %v %v %v", m.PrefixCacheQueries, m.PrefixCacheHits, m.PrefixCacheHitRate,
					tc.queries, tc.hits, tc.rateOK)
			}
			if m.MaxRunning != 5 || m.Samples != 2 {
				t.Errorf("running %v in %d samples", m.MaxRunning, m.Samples)
			}
		})
	}
}

// A tracker that has seen nothing reports every figure unknown, and the unknown prefix figures
// are null in JSON rather than 0.
func TestPrefixCacheUnknownIsNull(t *testing.T) {
	m := newServerTracker().m
	for name, v := range map[string]Float{"queries": m.PrefixCacheQueries, "hits": m.PrefixCacheHits, "rate": m.PrefixCacheHitRate} {
		if !math.IsNaN(float64(v)) {
			t.Errorf("%s = %v before any sample, want NaN", name, v)
		}
	}
	b, err := m.PrefixCacheHitRate.MarshalJSON()
	if err != nil || string(b) != "null" {
		t.Errorf("NaN marshals as %s, %v", b, err)
	}
}

func TestSampleOfStats(t *testing.T) {
	tr := newServerTracker()
	for _, st := range []virtual.Stats{
		{Running: 4, Waiting: 2, KVCacheUsage: 0.5, Preemptions: 1, PrefixCaching: true, PrefixCacheQueries: 1000, PrefixCacheHits: 100},
		{Running: 7, Waiting: 0, KVCacheUsage: 0.75, Preemptions: 3, PrefixCaching: true, PrefixCacheQueries: 5000, PrefixCacheHits: 3300},
	} {
		tr.add(sampleOfStats(st))
	}
	m := tr.m
	if m.MaxRunning != 7 || m.MaxWaiting != 2 || m.MaxKVCacheUsage != 0.75 || m.Preemptions != 2 ||
		m.PrefixCacheQueries != 4000 || m.PrefixCacheHits != 3200 || m.PrefixCacheHitRate != 0.8 {
		t.Errorf("%+v", m)
	}
	// Caching off: the counters are not exported, so the figures stay unknown.
	off := newServerTracker()
	off.add(sampleOfStats(virtual.Stats{Running: 1, PrefixCacheQueries: 0}))
	if s := sampleOfStats(virtual.Stats{Running: 1}); s.hasPrefixQueries || s.hasPrefixHits || !s.hasRunning || !s.hasPreempt {
		t.Errorf("%+v", s)
	}
	if !math.IsNaN(float64(off.m.PrefixCacheQueries)) || !math.IsNaN(float64(off.m.PrefixCacheHitRate)) || off.m.MaxRunning != 1 {
		t.Errorf("%+v", off.m)
	}
}

// The simulator's /metrics and the scraper agree on the names: two completions sharing a
// 320-token prefix, scraped before and after, give the second one's hit.
func TestPrefixCacheScrapeSimulator(t *testing.T) {
	srv, err := sim.NewWall(sim.Config{Model: "Llama-3.2-1B"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { srv.Close(); hs.Close() }()
	tr := newServerTracker()
	scrape := func() {
		if err := scrapeOnce(context.Background(), hs.Client(), hs.URL+"/metrics", everyEngine, tr); err != nil {
			t.Fatal(err)
		}
	}
	scrape()
	prefix := strings.Repeat("shared ", 320)
	for _, tail := range []string{"one", "two"} {
		resp, err := http.Post(hs.URL+"/v1/completions", "application/json",
			strings.NewReader(`{"prompt": "`+prefix+tail+`", "max_tokens": 2}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	scrape()
	if m := tr.m; m.PrefixCacheQueries != 642 || m.PrefixCacheHits != 320 || m.PrefixCacheHitRate != 320.0/642 {
		t.Errorf("queries %v hits %v rate %v", m.PrefixCacheQueries, m.PrefixCacheHits, m.PrefixCacheHitRate)
	}
}
