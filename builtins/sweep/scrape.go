package sweep

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// parseVLLMMetrics reads the Prometheus text exposition format, keeping only the vLLM series the
// summary needs. It is a small hand parser because expfmt's transitive modules (goautoneg,
// go-abnf, protobuf) are not in go.sum and this package may not change go.mod.
func parseVLLMMetrics(r io.Reader) (serverSample, error) {
	var s serverSample
	haveKV := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		name, v, err := parseSampleLine(text)
		if err != nil {
			return s, fmt.Errorf("metrics line %d: %w", line, err)
		}
		switch name {
		case metricRunning:
			s.running += v
		case metricWaiting:
			s.waiting += v
		case metricPreemptions:
			s.preemptions += v
			s.hasPreempt = true
		case metricKVUsage, metricKVUsageOld:
			if !haveKV || v > s.kv {
				s.kv = v
			}
			haveKV = true
		}
	}
	return s, sc.Err()
}

// parseSampleLine splits `name{labels} value [timestamp]`, honouring quoted label values.
func parseSampleLine(text string) (string, float64, error) {
	i := strings.IndexAny(text, "{ \t")
	if i <= 0 {
		return "", 0, fmt.Errorf("no value in %q", text)
	}
	name, rest := text[:i], text[i:]
	if rest[0] == '{' {
		inQuote, esc, j := false, false, 1
		for ; j < len(rest); j++ {
			c := rest[j]
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inQuote = !inQuote
			case c == '}' && !inQuote:
				goto closed
			}
		}
		return "", 0, fmt.Errorf("unterminated labels in %q", text)
	closed:
		rest = rest[j+1:]
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", 0, fmt.Errorf("no value in %q", text)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", 0, fmt.Errorf("bad value in %q", text)
	}
	return name, v, nil
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
