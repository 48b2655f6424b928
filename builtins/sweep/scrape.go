package sweep

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// vLLM's metric names (v1 engine; gpu_cache_usage_perc is the pre-0.9 name of kv_cache_usage_perc).
const (
	metricRunning     = "vllm:num_requests_running"
	metricWaiting     = "vllm:num_requests_waiting"
	metricKVUsage     = "vllm:kv_cache_usage_perc"
	metricKVUsageOld  = "vllm:gpu_cache_usage_perc"
	metricPreemptions = "vllm:num_preemptions_total"
)

// serverSample is one reading of the gauges the point summary needs; values are summed over
// series (data-parallel engines), KV usage is the max.
type serverSample struct {
	running, waiting, kv, preemptions float64
	hasPreempt                        bool
}

// serverTracker folds samples into ServerMetrics.
type serverTracker struct {
	m           ServerMetrics
	firstPre    float64
	lastPre     float64
	havePreempt bool
}

func newServerTracker() *serverTracker {
	return &serverTracker{m: ServerMetrics{MaxRunning: Float(math.NaN()), MaxWaiting: Float(math.NaN()),
		MaxKVCacheUsage: Float(math.NaN()), Preemptions: Float(math.NaN())}}
}

func fmax(a Float, b float64) Float {
	if math.IsNaN(float64(a)) || b > float64(a) {
		return Float(b)
	}
	return a
}

func (t *serverTracker) add(s serverSample) {
	t.m.Samples++
	t.m.MaxRunning = fmax(t.m.MaxRunning, s.running)
	t.m.MaxWaiting = fmax(t.m.MaxWaiting, s.waiting)
	t.m.MaxKVCacheUsage = fmax(t.m.MaxKVCacheUsage, s.kv)
	if s.hasPreempt {
		if !t.havePreempt {
			t.firstPre, t.havePreempt = s.preemptions, true
		}
		t.lastPre = s.preemptions
		t.m.Preemptions = Float(t.lastPre - t.firstPre)
	}
}

func (t *serverTracker) fail(err error) {
	t.m.ScrapeErrors++
	t.m.LastScrapeError = err.Error()
}

// parseVLLMMetrics reads the Prometheus text exposition format with Prometheus' own parser and
// keeps the vLLM series the summary needs, summed over label sets (one per model or engine).
func parseVLLMMetrics(r io.Reader) (serverSample, error) {
	var s serverSample
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	sum := func(name string) (float64, bool) {
		fam, ok := families[name]
		if !ok {
			return 0, false
		}
		total := 0.0
		for _, m := range fam.GetMetric() {
			switch {
			case m.Gauge != nil:
				total += m.GetGauge().GetValue()
			case m.Counter != nil:
				total += m.GetCounter().GetValue()
			case m.Untyped != nil:
				total += m.GetUntyped().GetValue()
			}
		}
		return total, true
	}
	max := func(name string) (float64, bool) {
		fam, ok := families[name]
		if !ok {
			return 0, false
		}
		best := 0.0
		for i, m := range fam.GetMetric() {
			v := m.GetGauge().GetValue()
			if m.Untyped != nil {
				v = m.GetUntyped().GetValue()
			}
			if i == 0 || v > best {
				best = v
			}
		}
		return best, true
	}
	s.running, _ = sum(metricRunning)
	s.waiting, _ = sum(metricWaiting)
	s.preemptions, s.hasPreempt = sum(metricPreemptions)
	if v, ok := max(metricKVUsage); ok {
		s.kv = v
	} else if v, ok := max(metricKVUsageOld); ok {
		s.kv = v
	}
	return s, nil
}

// scrapeLoop polls url every interval until ctx ends and returns the summary.
func scrapeLoop(ctx context.Context, hc *http.Client, url string, interval time.Duration) *ServerMetrics {
	t := newServerTracker()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := scrapeOnce(ctx, hc, url, t); err != nil && ctx.Err() == nil {
			t.fail(err)
		}
		select {
		case <-ctx.Done():
			return &t.m
		case <-tick.C:
		}
	}
}

func scrapeOnce(ctx context.Context, hc *http.Client, url string, t *serverTracker) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	s, err := parseVLLMMetrics(resp.Body)
	if err != nil {
		return err
	}
	t.add(s)
	return nil
}
