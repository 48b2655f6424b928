package sweep

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is the HTTP server a point runs against.
type Target struct {
	URL      string // server base URL, with or without /v1
	Model    string
	APIKey   string
	Endpoint Endpoint // completions (default) or chat
	// MetricsURL is scraped about every ScrapeInterval (default URL+"/metrics"; "-" disables).
	MetricsURL     string
	ScrapeInterval time.Duration // default 1s
}

func (t Target) metricsURL() string {
	switch t.MetricsURL {
	case "-":
		return ""
	case "":
		return strings.TrimSuffix(strings.TrimRight(t.URL, "/"), "/v1") + "/metrics"
	}
	return t.MetricsURL
}

// pointRun is the shared state of one HTTP point.
type pointRun struct {
	o      Options
	spec   PointSpec
	client *httpClient
	agg    *Aggregator
	origin time.Time

	reqCtx    context.Context // cancelled at the end of grace, on stop or on cancellation
	cancelReq context.CancelFunc
	stop      chan struct{} // closed to stop sending
	stopOnce  sync.Once
	stopWhy   string

	wg       sync.WaitGroup
	satMu    sync.Mutex
	sat      *saturation
	measured atomic.Int64 // sends with intended >= warmup
	dropped  int
}

// windowOutputTokens are the output tokens the point's output_throughput counts, so that J/token
// divides the energy of the measured window by the tokens of the same window (a point stopped
// early counts every token the server finished in the window).
func windowOutputTokens(p Point) int {
	n := float64(p.OutputThroughput) * float64(p.Duration)
	if math.IsNaN(n) {
		return 0
	}
	return int(math.Round(n))
}

// finishProbe ends GPU sampling; a failure leaves gpu out of the point and says so in the log.
func finishProbe(probe GPUProbe, outputTokens int, o Options) json.RawMessage {
	raw, err := probe.Finish(outputTokens)
	if err != nil {
		o.Logger.Warn().Err(err).Msg("sweep: gpu sampling failed")
		return nil
	}
	return raw
}

// RunPoint runs one load level against an HTTP server. On cancellation it returns the partial
// point (stopped_early, stop_reason "cancelled") together with ctx's error.
func RunPoint(ctx context.Context, t Target, o Options, spec PointSpec) (Point, error) {
	if err := o.validate(spec); err != nil {
		return Point{}, err
	}
	o = o.withDefaults()
	if t.Endpoint == "" {
		t.Endpoint = EndpointCompletions
	}
	conns := spec.Concurrency
	if conns == 0 {
		conns = o.MaxConcurrency
		if conns == 0 {
			conns = 1024
		}
	}
	r := &pointRun{o: o, spec: spec, agg: NewAggregator(o.Warmup, o.SLO), stop: make(chan struct{}),
		client: newHTTPClient(t.URL, t.Model, t.APIKey, t.Endpoint, conns, !o.AllowEOS)}
	defer r.client.close()
	if o.StopWhen != nil && spec.Concurrency == 0 {
		r.sat = newSaturation(*o.StopWhen, o.Warmup)
	}
	p := o.newPoint(spec)

	var probe GPUProbe
	if o.GPU != nil {
		var err error
		if probe, err = o.GPU(ctx); err != nil {
			o.Logger.Warn().Err(err).Msg("sweep: gpu sampling unavailable")
		}
	}
	scrapeCtx, stopScrape := context.WithCancel(ctx)
	scraped := make(chan *ServerMetrics, 1)
	if u := t.metricsURL(); u != "" {
		interval := t.ScrapeInterval
		if interval <= 0 {
			interval = time.Second
		}
		go func() { scraped <- scrapeLoop(scrapeCtx, &http.Client{}, u, interval) }()
	} else {
		scraped <- nil
	}

	r.reqCtx, r.cancelReq = context.WithCancel(context.WithoutCancel(ctx))
	defer r.cancelReq()
	r.origin = time.Now().Add(5 * time.Millisecond)
	prog := newProgress(o.Progress, o.Logger, spec, o.NumRequests)
	monDone := make(chan struct{})
	go r.monitor(ctx, prog, monDone)

	var sendEnd time.Duration
	if spec.Concurrency > 0 {
		sendEnd = r.closedLoop(ctx)
	} else {
		sendEnd = r.openLoop(ctx)
	}
	r.drain(ctx)
	close(monDone)
	stopScrape()
	p.ServerMetrics = <-scraped
	if r.stopWhy != "" {
		r.agg.StopAt(sendEnd)
	}
	r.agg.Finalize(&p, sendEnd, r.dropped)
	if probe != nil {
		probe.Mark(r.origin.Add(o.Warmup))
		probe.Mark(r.origin.Add(sendEnd))
		p.GPU = finishProbe(probe, windowOutputTokens(p), o)
	}
	prog.update(r.agg, time.Since(r.origin), true)
	if r.stopWhy != "" {
		p.StoppedEarly, p.StopReason = true, r.stopWhy
	}
	if ctx.Err() != nil {
		p.StoppedEarly, p.StopReason = true, "cancelled"
		return p, ctx.Err()
	}
	o.finishPoint(&p, spec)
	return p, nil
}

func (r *pointRun) halt(why string) {
	r.stopOnce.Do(func() {
		r.stopWhy = why
		close(r.stop)
	})
}

// openLoop sends at origin+offset for every scheduled offset and returns the send window's end.
func (r *pointRun) openLoop(ctx context.Context) time.Duration {
	o := &r.o
	sched, err := NewSchedule(o.Seed, o.pointKey(r.spec), r.spec.Rate, o.Arrival, o.Burstiness)
	if err != nil {
		r.halt(err.Error())
		return 0
	}
	var sem chan struct{}
	if o.MaxConcurrency > 0 {
		sem = make(chan struct{}, o.MaxConcurrency)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	end := o.Warmup + o.Duration
	var at time.Duration
	for i := 0; ; i++ {
		at = sched.Next()
		if o.NumRequests > 0 {
			if int(r.measured.Load()) >= o.NumRequests {
				return at
			}
		} else if at >= end {
			return end
		}
		if d := time.Until(r.origin.Add(at)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-r.stop:
				return time.Since(r.origin)
			case <-ctx.Done():
				return time.Since(r.origin)
			}
		}
		if sem != nil {
			if o.OnFull == FullDrop {
				select {
				case sem <- struct{}{}:
				default:
					if at >= o.Warmup {
						r.dropped++
						r.measured.Add(1)
					}
					continue
				}
			} else {
				select {
				case sem <- struct{}{}:
				case <-r.stop:
					return time.Since(r.origin)
				case <-ctx.Done():
					return time.Since(r.origin)
				}
			}
		}
		if at >= o.Warmup {
			r.measured.Add(1)
		}
		r.wg.Add(1)
		go func(i int, at time.Duration) {
			defer r.wg.Done()
			if sem != nil {
				defer func() { <-sem }()
			}
			r.one(i, at)
		}(i, at)
	}
}

// closedLoop runs Concurrency workers back to back (intended = actual send time) and returns when
// sending is over; workers still finishing a request are left to drain.
func (r *pointRun) closedLoop(ctx context.Context) time.Duration {
	o := &r.o
	end := o.Warmup + o.Duration
	var next atomic.Int64
	var last atomic.Int64
	sendDone := make(chan struct{})
	var once sync.Once
	finish := func() { once.Do(func() { close(sendDone) }) }
	time.Sleep(time.Until(r.origin)) // offsets are from origin; none may be negative
	for w := 0; w < r.spec.Concurrency; w++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				select {
				case <-r.stop:
					return
				case <-ctx.Done():
					return
				case <-sendDone:
					return
				default:
				}
				at := time.Since(r.origin)
				if o.NumRequests > 0 {
					if at >= o.Warmup {
						n := r.measured.Add(1)
						if n > int64(o.NumRequests) {
							finish()
							return
						}
						if n == int64(o.NumRequests) {
							last.Store(int64(at))
						}
					}
				} else if at >= end {
					finish()
					return
				}
				r.one(int(next.Add(1)-1), at)
			}
		}()
	}
	var timeout <-chan time.Time
	if o.NumRequests == 0 {
		t := time.NewTimer(time.Until(r.origin.Add(end)))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-sendDone:
	case <-timeout:
		finish()
	case <-r.stop:
	case <-ctx.Done():
	}
	if o.NumRequests > 0 {
		if l := time.Duration(last.Load()); l > 0 {
			return l
		}
		return time.Since(r.origin)
	}
	return min(end, time.Since(r.origin))
}

// one runs request i intended at offset at.
func (r *pointRun) one(i int, at time.Duration) {
	r.agg.NoteSent()
	if r.sat != nil {
		r.satMu.Lock()
		r.sat.sent(at)
		r.satMu.Unlock()
	}
	rec := &Record{Index: i, Intended: at}
	ctx, cancel := context.WithTimeout(r.reqCtx, r.o.Timeout)
	err := r.client.do(ctx, r.o.Dataset.Item(i), rec, r.origin)
	cancel()
	rec.Done = time.Since(r.origin)
	if err != nil {
		if r.reqCtx.Err() != nil {
			rec.Incomplete = true
		} else {
			rec.Err = classify(err)
		}
		rec.Detail = err.Error()
	}
	if r.sat != nil && rec.Err == "" && !rec.Incomplete && rec.ChunkCount > 0 {
		r.satMu.Lock()
		r.sat.done(rec.Done, rec.TTFT())
		r.satMu.Unlock()
	}
	r.agg.Add(rec)
	if r.o.OnRecord != nil {
		r.o.OnRecord(r.spec, rec)
	}
}

// drain waits for in-flight requests: up to Grace after a normal end, not at all after an early
// stop or cancellation (those requests are counted incomplete).
func (r *pointRun) drain(ctx context.Context) {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	grace := time.NewTimer(r.o.Grace)
	defer grace.Stop()
	select {
	case <-done:
		return
	case <-grace.C:
	case <-r.stop:
	case <-ctx.Done():
	}
	r.cancelReq()
	<-done
}

// monitor refreshes progress and checks stop_when once a second.
func (r *pointRun) monitor(ctx context.Context, prog *progress, done chan struct{}) {
	tick := time.NewTicker(prog.opt.Interval)
	defer tick.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		prog.update(r.agg, time.Since(r.origin), false)
		if r.sat != nil && time.Since(lastCheck) >= time.Second {
			lastCheck = time.Now()
			r.satMu.Lock()
			stop, why := r.sat.check(time.Since(r.origin))
			r.satMu.Unlock()
			if stop {
				r.o.Logger.Warn().Str("point", r.spec.String()).Str("reason", why).Msg("sweep: stopping point early")
				r.halt(why)
			}
		}
	}
}
