package sweep

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"sync"
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
	// MetricsMemo, shared by the points measured against one server, keeps them from probing a
	// metrics endpoint the server has been found not to have (nil: each point probes).
	MetricsMemo *MetricsMemo
	// Series are the engine's names for what server_metrics summarises.
	Series MetricSeries
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

// RunPoint runs one load level against an HTTP server. On cancellation it returns the partial
// point (stopped_early, stop_reason "cancelled") together with ctx's error.
func RunPoint(ctx context.Context, t Target, o Options, spec PointSpec) (Point, error) {
	c, err := newPointCore(o, spec)
	if err != nil {
		return Point{}, err
	}
	conns := cmp.Or(spec.Concurrency, o.MaxConcurrency, 1024)
	client := newHTTPClient(t.URL, t.Model, t.APIKey, cmp.Or(t.Endpoint, EndpointCompletions), conns, !o.AllowEOS)
	client.extra = o.Sampling.fragment()
	defer client.close()
	probe := c.startProbe(ctx)
	scrapeCtx, stopScrape := context.WithCancel(ctx)
	scraped := make(chan *ServerMetrics, 1)
	// running holds the scrapes' running requests on the wall clock; the point's origin is set
	// once sending starts, so they are placed on it after the scrape loop ended.
	var running []runningAt
	if u := t.metricsURL(); u != "" {
		interval := t.ScrapeInterval
		if interval <= 0 {
			interval = time.Second
		}
		note := func(s serverSample) {
			if s.hasRunning {
				running = append(running, runningAt{time.Now(), s.running})
			}
		}
		go func() {
			scraped <- scrapeLoopNoting(scrapeCtx, &http.Client{}, u, interval, t.Series, t.MetricsMemo, note)
		}()
	} else {
		scraped <- nil
	}

	var sendEnd time.Duration
	var origin time.Time
	var workers []WorkerStats
	if c.o.Clients > 1 {
		sendEnd, origin, workers, err = c.runWorkers(ctx, t)
		if err != nil {
			c.release()
			stopScrape()
			<-scraped
			if probe != nil {
				probe.Finish(0)
			}
			return Point{}, err
		}
	} else {
		r := &wallRun{pointCore: c, do: client.do}
		sendEnd = r.run(ctx)
		origin = r.origin
		if c.trace != nil && c.trace.err != nil && err == nil {
			err = c.trace.err
		}
	}
	stopScrape()
	if probe != nil {
		probe.Mark(origin.Add(c.o.Warmup))
		probe.Mark(origin.Add(sendEnd))
	}
	sm := <-scraped
	for _, s := range running {
		c.agg.NoteRunning(s.at.Sub(origin), s.n)
	}
	if err == nil {
		err = ctx.Err()
	}
	p, err := c.point(sendEnd, probe, sm, err)
	if workers != nil {
		noteWorkers(&p, workers, c.o.Logger, c.spec)
	}
	return p, err
}

// runningAt is a scrape's running requests at wall-clock time at.
type runningAt struct {
	at time.Time
	n  float64
}

// wallRun drives a pointCore on the wall clock: a goroutine per request, a semaphore for
// max_concurrency, a goroutine per closed-loop worker.
type wallRun struct {
	*pointCore
	// do runs one request (the HTTP client's; tests plug in a fake).
	do     func(ctx context.Context, item Item, rec *RequestRecord, origin time.Time) error
	origin time.Time
	prog   *progress

	sending   context.Context // ends on stop_when or cancellation: stop sending
	halt      context.CancelFunc
	reqCtx    context.Context // ends at the end of grace, on stop or on cancellation
	cancelReq context.CancelFunc
	sem       chan struct{} // max_concurrency slots, open loop
	timer     *time.Timer   // the open loop's, reused for every send
	wg        sync.WaitGroup
}

// run sends, waits for in-flight requests and returns the send window's end.
func (r *wallRun) run(ctx context.Context) time.Duration {
	r.sending, r.halt = context.WithCancel(ctx)
	defer r.halt()
	r.reqCtx, r.cancelReq = context.WithCancel(context.WithoutCancel(ctx))
	defer r.cancelReq()
	r.origin = time.Now().Add(5 * time.Millisecond)
	r.prog = newProgress(r.o.Progress, r.o.Logger, r.spec, r.o.NumRequests)
	stopMon, monDone := make(chan struct{}), make(chan struct{})
	go func() { r.monitor(stopMon); close(monDone) }()

	var sendEnd time.Duration
	if r.spec.Concurrency > 0 {
		sendEnd = r.closedLoop()
	} else {
		if r.o.MaxConcurrency > 0 {
			r.sem = make(chan struct{}, r.o.MaxConcurrency)
		}
		r.timer = time.NewTimer(time.Hour)
		sendEnd = r.openLoop(r)
		r.timer.Stop()
	}
	r.drain()
	close(stopMon)
	<-monDone // no stop_when verdict or progress line after this
	r.prog.update(r.agg, r.now(), true)
	return sendEnd
}

func (r *wallRun) now() time.Duration { return time.Since(r.origin) }

func (r *wallRun) until(t time.Duration) bool {
	d := time.Until(r.origin.Add(t))
	if d <= 0 {
		return true
	}
	r.timer.Reset(d)
	select {
	case <-r.timer.C:
		return true
	case <-r.sending.Done():
		return false
	}
}

func (r *wallRun) slot() bool {
	select {
	case r.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (r *wallRun) queue(i int, at time.Duration) bool {
	select {
	case r.sem <- struct{}{}:
		r.send(i, at)
		return true
	case <-r.sending.Done():
		return false
	}
}

// send sends request i (its item taken here, in schedule order), or starts session i.
func (r *wallRun) send(i int, at time.Duration) {
	r.wg.Add(1)
	if r.conv != nil {
		go func() {
			defer r.wg.Done()
			r.session(i, at)
		}()
		return
	}
	item := r.o.Dataset.Item(i)
	go func() {
		defer r.wg.Done()
		r.one(&RequestRecord{Index: i, Intended: at}, item)
		if r.sem != nil {
			<-r.sem
		}
	}()
}

// session sends session s's turns from at on, each think_time after the previous answer, until
// the session ends, the window closes or sending stops.
func (r *wallRun) session(s int, at time.Duration) {
	for k := 1; ; k++ {
		rec, item, ok := r.turn(s, k, at)
		if !ok {
			return
		}
		if !r.sleepUntil(at) {
			// Sending stopped during the think time: the turn was due and is counted, unsent.
			rec.Sent, rec.Done, rec.Incomplete = r.now(), r.now(), true
			r.sent(rec)
			r.finish(rec)
			return
		}
		r.one(rec, item)
		var more bool
		if at, more = r.afterTurn(rec); !more {
			return
		}
	}
}

// sleepUntil waits for offset t on a timer of its own (sessions wait concurrently); false when
// sending stopped first.
func (r *wallRun) sleepUntil(t time.Duration) bool {
	d := time.Until(r.origin.Add(t))
	if d <= 0 {
		return r.sending.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-r.sending.Done():
		return false
	}
}

// closedLoop runs Concurrency workers back to back and returns when sending is over; workers
// still finishing a request are left to drain.
func (r *wallRun) closedLoop() time.Duration {
	sending, over := context.WithCancel(r.sending)
	defer over()
	time.Sleep(time.Until(r.origin)) // offsets are from origin; none may be negative
	for range r.spec.Concurrency {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for sending.Err() == nil {
				at := r.now()
				if r.conv != nil {
					s, ok := r.takeSession()
					if !ok {
						over()
						return
					}
					r.session(s, at)
					continue
				}
				i, item, ok := r.takeItem(at)
				if !ok {
					over()
					return
				}
				r.one(&RequestRecord{Index: i, Intended: at}, item)
			}
		}()
	}
	if end, ok := r.deadline(); ok {
		defer time.AfterFunc(time.Until(r.origin.Add(end)), over).Stop()
	}
	<-sending.Done()
	return r.closedEnd(r.now())
}

// one runs the request of rec (its index and intended offset set) with item.
func (r *wallRun) one(rec *RequestRecord, item Item) {
	r.sent(rec)
	ctx, cancel := context.WithTimeout(r.reqCtx, r.o.Timeout)
	err := r.do(ctx, item, rec, r.origin)
	cancel()
	rec.Done = r.now()
	if err != nil {
		if r.reqCtx.Err() != nil {
			rec.Incomplete = true
		} else {
			rec.Err = classify(err)
		}
		rec.Detail = err.Error()
	}
	r.finish(rec)
}

// drain waits for in-flight requests: up to Grace after a normal end, not at all after an early
// stop or cancellation (those requests are counted incomplete).
func (r *wallRun) drain() {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	grace := time.NewTimer(r.o.Grace)
	defer grace.Stop()
	select {
	case <-done:
		return
	case <-grace.C:
	case <-r.sending.Done():
	}
	r.cancelReq()
	<-done
}

// monitor refreshes progress and judges stop_when at each whole second of the point, as virtual
// time does.
func (r *wallRun) monitor(done chan struct{}) {
	tick := time.NewTicker(r.prog.opt.Interval)
	defer tick.Stop()
	second := time.NewTimer(time.Until(r.origin.Add(time.Second)))
	defer second.Stop()
	for next := 2 * time.Second; ; {
		select {
		case <-done:
			return
		case <-tick.C:
			r.prog.update(r.agg, r.now(), false)
		case <-second.C:
			if r.check(r.now()) {
				r.halt()
			}
			second.Reset(time.Until(r.origin.Add(next)))
			next += time.Second
		}
	}
}
