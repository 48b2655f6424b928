package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"starlab/builtins/virtual"
)

// MetricSeries names the Prometheus series a point's server_metrics summarises, first choice first
// (vLLM renamed its KV usage series). The engine adapters of the server package know them; an
// external server of unknown engine gets every engine's names. A series with several label sets
// (vLLM's one per data-parallel engine, SGLang's one per scheduler) is summed, KV usage takes the
// max; a series the server does not export leaves its field null.
type MetricSeries struct {
	Running, Waiting, KVUsage, Preemptions []string
}

// serverSample is one reading of the series the point summary needs; has* is false when the
// server exports no such series, which leaves the field null rather than 0.
type serverSample struct {
	running, waiting, kv, preemptions         float64
	hasRunning, hasWaiting, hasKV, hasPreempt bool
	// prefixQueries and prefixHits are the prefix-cache counters (prompt tokens looked up and
	// found); only vLLM exports them.
	prefixQueries, prefixHits       float64
	hasPrefixQueries, hasPrefixHits bool
}

// Prefix-cache counters, under vLLM's names: vllm:prefix_cache_* since the V1 engine's metrics
// (prometheus_client exposes a counter as NAME_total), vllm:gpu_prefix_cache_* before, kept
// deprecated for a while. They are read from any server that exports them.
var (
	prefixQuerySeries = []string{"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"}
	prefixHitSeries   = []string{"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"}
)

// sampleOfStats is a virtual-time server's reading: its gauges and counters are always known,
// the prefix-cache counters when it caches prefixes.
func sampleOfStats(s virtual.Stats) serverSample {
	out := serverSample{running: float64(s.Running), waiting: float64(s.Waiting), kv: s.KVCacheUsage,
		preemptions: float64(s.Preemptions), hasRunning: true, hasWaiting: true, hasKV: true, hasPreempt: true}
	if s.PrefixCaching {
		out.prefixQueries, out.prefixHits = float64(s.PrefixCacheQueries), float64(s.PrefixCacheHits)
		out.hasPrefixQueries, out.hasPrefixHits = true, true
	}
	return out
}

// counterDelta is a counter's increase from the first sample that had it to the last.
type counterDelta struct {
	first, last float64
	seen        bool
}

func (c *counterDelta) add(v float64, ok bool) {
	if !ok {
		return
	}
	if !c.seen {
		c.first, c.seen = v, true
	}
	c.last = v
}

// value is the delta, NaN when the counter was never seen.
func (c *counterDelta) value() float64 {
	if !c.seen {
		return math.NaN()
	}
	return c.last - c.first
}

// serverTracker folds samples into ServerMetrics.
type serverTracker struct {
	m                ServerMetrics
	firstPre         float64
	lastPre          float64
	havePreempt      bool
	prefixQ, prefixH counterDelta
	note             func(serverSample) // sees every sample (nil: none)
}

// newServerTracker starts with every figure unknown (NaN, null in JSON): a series the server
// never reports stays null rather than reading 0.
func newServerTracker() *serverTracker {
	nan := Float(math.NaN())
	return &serverTracker{m: ServerMetrics{MaxRunning: nan, MaxWaiting: nan, MaxKVCacheUsage: nan, Preemptions: nan,
		PrefixCacheQueries: nan, PrefixCacheHits: nan, PrefixCacheHitRate: nan}}
}

func fmax(a Float, b float64) Float {
	if math.IsNaN(float64(a)) || b > float64(a) {
		return Float(b)
	}
	return a
}

func (t *serverTracker) add(s serverSample) {
	if t.note != nil {
		t.note(s)
	}
	t.m.Samples++
	if s.hasRunning {
		t.m.MaxRunning = fmax(t.m.MaxRunning, s.running)
	}
	if s.hasWaiting {
		t.m.MaxWaiting = fmax(t.m.MaxWaiting, s.waiting)
	}
	if s.hasKV {
		t.m.MaxKVCacheUsage = fmax(t.m.MaxKVCacheUsage, s.kv)
	}
	if s.hasPreempt {
		if !t.havePreempt {
			t.firstPre, t.havePreempt = s.preemptions, true
		}
		t.lastPre = s.preemptions
		t.m.Preemptions = Float(t.lastPre - t.firstPre)
	}
	t.prefixQ.add(s.prefixQueries, s.hasPrefixQueries)
	t.prefixH.add(s.prefixHits, s.hasPrefixHits)
	q, h := t.prefixQ.value(), t.prefixH.value()
	t.m.PrefixCacheQueries, t.m.PrefixCacheHits = Float(q), Float(h)
	// The hit rate needs both counters and a lookup in the point; NaN (null) otherwise.
	t.m.PrefixCacheHitRate = Float(math.NaN())
	if q > 0 && !math.IsNaN(h) {
		t.m.PrefixCacheHitRate = Float(h / q)
	}
}

func (t *serverTracker) fail(err error) {
	t.m.ScrapeErrors++
	t.m.LastScrapeError = err.Error()
}

// parseMetrics reads the Prometheus text exposition format with Prometheus' own parser and keeps
// the series the summary needs.
func parseMetrics(r io.Reader, series MetricSeries) (serverSample, error) {
	var s serverSample
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	// pick folds the first of names that the scrape holds: the sum over its label sets, or the
	// largest sample.
	pick := func(names []string, largest bool) (float64, bool) {
		for _, name := range names {
			fam, ok := families[name]
			if !ok {
				continue
			}
			total, best := 0.0, 0.0
			for i, m := range fam.GetMetric() {
				switch {
				case m.Gauge != nil:
					total += m.GetGauge().GetValue()
				case m.Counter != nil:
					total += m.GetCounter().GetValue()
				case m.Untyped != nil:
					total += m.GetUntyped().GetValue()
				}
				v := m.GetGauge().GetValue()
				if m.Untyped != nil {
					v = m.GetUntyped().GetValue()
				}
				if i == 0 || v > best {
					best = v
				}
			}
			if largest {
				return best, true
			}
			return total, true
		}
		return 0, false
	}
	s.running, s.hasRunning = pick(series.Running, false)
	s.waiting, s.hasWaiting = pick(series.Waiting, false)
	s.kv, s.hasKV = pick(series.KVUsage, true)
	s.preemptions, s.hasPreempt = pick(series.Preemptions, false)
	s.prefixQueries, s.hasPrefixQueries = pick(prefixQuerySeries, false)
	s.prefixHits, s.hasPrefixHits = pick(prefixHitSeries, false)
	return s, nil
}

// MetricsMemo carries what one point learned about a server's /metrics to the later points
// measured against it: an endpoint that answered 404 or 501 does not exist (ollama has none;
// llama-server has one only with --metrics), so later points record that without asking again.
// Any other refusal is asked again at the next point, as it may pass. The zero value knows
// nothing; it is safe for concurrent use.
type MetricsMemo struct {
	mu     sync.Mutex
	absent string
}

func (m *MetricsMemo) get() string {
	if m == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.absent
}

func (m *MetricsMemo) set(why string) {
	if m != nil {
		m.mu.Lock()
		m.absent = why
		m.mu.Unlock()
	}
}

// statusError is a /metrics answer other than 200.
type statusError struct {
	url    string
	code   int
	status string
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: %s", e.url, e.status) }

// absent reports an answer that means the server has no metrics endpoint at all.
func (e *statusError) absent() bool {
	return e.code == http.StatusNotFound || e.code == http.StatusNotImplemented
}

// scrapeLoop polls url every interval until ctx ends and returns the summary. Until a scrape
// succeeds, an HTTP answer other than 200 means the server serves no metrics: the point records
// it once in Unavailable and stops scraping (the first scrape is the probe). Failures after a
// success, and connection errors before one (the server may be down), count as scrape errors.
func scrapeLoop(ctx context.Context, hc *http.Client, url string, interval time.Duration, series MetricSeries, memo *MetricsMemo) *ServerMetrics {
	return scrapeLoopNoting(ctx, hc, url, interval, series, memo, nil)
}

// scrapeLoopNoting is scrapeLoop handing every sample to note as well (the steady-state check
// reads the running requests over time).
func scrapeLoopNoting(ctx context.Context, hc *http.Client, url string, interval time.Duration, series MetricSeries, memo *MetricsMemo, note func(serverSample)) *ServerMetrics {
	t := newServerTracker()
	t.note = note
	if why := memo.get(); why != "" {
		t.m.Unavailable = why
		return &t.m
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	probing := true
	for {
		err := scrapeOnce(ctx, hc, url, series, t)
		var se *statusError
		switch {
		case err == nil:
			probing = false
		case ctx.Err() != nil:
		case probing && errors.As(err, &se):
			if se.absent() {
				t.m.Unavailable = "no metrics endpoint (HTTP " + se.status + ")"
				memo.set(t.m.Unavailable)
			} else {
				t.m.Unavailable = "HTTP " + se.status
			}
			return &t.m
		default:
			t.fail(err)
		}
		select {
		case <-ctx.Done():
			return &t.m
		case <-tick.C:
		}
	}
}

func scrapeOnce(ctx context.Context, hc *http.Client, url string, series MetricSeries, t *serverTracker) error {
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
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return &statusError{url: url, code: resp.StatusCode, status: resp.Status}
	}
	s, err := parseMetrics(resp.Body, series)
	if err != nil {
		return err
	}
	t.add(s)
	return nil
}
