package sweep

import (
	"context"
	"math"
	"sync"
	"time"
)

// pointCore holds one point's rules and no clock, so that the HTTP runner (wall clock, a goroutine
// per request) and the virtual runner (the server's event time) cannot drift apart: which
// scheduled sends go out, which max_concurrency drops, which sends are measured (intended after
// warmup), when sending ends (the window's end handed to Finalize) and whether stop_when stops the
// point. Runners only move their clocks and carry requests.
type pointCore struct {
	o      Options
	spec   PointSpec
	agg    *Aggregator
	arr    arrivals // open loop: the schedule (rates, a trace's times or a ramp)
	trace  *traceArrivals
	end    time.Duration // warmup + duration: when sending ends without num_requests
	last0  time.Duration // open loop: the last send's offset
	opened int           // open loop: the schedule's offsets sent (or dropped), warmup included

	measured, dropped int // sends intended after warmup, and the drops among them

	conv     *ConversationSpec // conversation turns instead of independent requests
	sess     *sessionCollector
	sessions int             // closed-loop conversations: the next session
	slices   *sliceCollector // ramp points

	itemMu  sync.Mutex    // closed loop: takes an index and its item together
	mu      sync.Mutex    // closed-loop workers and stop_when state are shared on the wall clock
	next    int           // closed loop: the next request's index
	last    time.Duration // closed loop: the last measured send
	over    bool          // closed loop: a send was refused, sending is over
	sat     *saturation
	stopWhy string
}

// newPointCore validates the options and builds the core; a schedule that cannot be built (an
// unknown arrival) fails here like any other bad option, before anything is sent.
func newPointCore(o Options, spec PointSpec) (*pointCore, error) {
	if err := o.validate(spec); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	c := &pointCore{o: o, spec: spec, agg: NewAggregator(o.Warmup, o.SLO), end: o.Warmup + o.Duration}
	c.agg.setIntervals(o.level(), o.intervalSeed(spec))
	if c.conv = o.Dataset.conv; c.conv != nil {
		c.sess = newSessionCollector(o.Warmup)
	}
	if spec.Concurrency > 0 {
		return c, nil
	}
	if o.StopWhen != nil {
		c.sat = newSaturation(*o.StopWhen, o.Warmup)
	}
	switch {
	case spec.TimeScale > 0:
		if o.Duration <= 0 {
			c.end = math.MaxInt64 // the window ends with the trace and its last answer
			c.agg.toLastDone = true
		}
		var err error
		if c.trace, err = newTraceArrivals(*o.Trace, spec.TimeScale); err != nil {
			return nil, err
		}
		c.arr = c.trace
		return c, nil
	case spec.Ramp:
		c.end = o.Warmup + o.Ramp.Over
		c.arr = newRampArrivals(o.Seed, o.pointKey(spec), *o.Ramp, o.Warmup, o.Arrival, o.Burstiness)
		c.slices = newSliceCollector(*o.Ramp, o.Warmup)
		return c, nil
	}
	sched, err := NewSchedule(o.Seed, o.pointKey(spec), spec.Rate, o.Arrival, o.Burstiness)
	c.arr = sched
	return c, err
}

// release closes what the point holds open (a trace's readers).
func (c *pointCore) release() {
	if c.trace != nil {
		c.trace.close()
	}
	if c.o.Dataset.trace != nil {
		c.o.Dataset.trace.close()
	}
}

// startProbe starts GPU sampling; a failure leaves gpu out and says so in the log.
func (c *pointCore) startProbe(ctx context.Context) GPUProbe {
	if c.o.GPU == nil {
		return nil
	}
	probe, err := c.o.GPU(ctx)
	if err != nil {
		c.o.Logger.Warn().Err(err).Msg("sweep: gpu sampling unavailable")
	}
	return probe
}

// arrivals yields an open loop's send offsets, absolute from the point's origin and in order;
// false once the schedule is over (a trace's last row, a ramp's end).
type arrivals interface{ next() (time.Duration, bool) }

// pacer is what a runner lends the open loop: its clock and its way of sending.
type pacer interface {
	now() time.Duration
	// until waits for t; false when the point must stop first.
	until(t time.Duration) bool
	// slot takes a max_concurrency slot if one is free now.
	slot() bool
	// send sends request i, intended at at, now (in the slot taken, if bounded); with a
	// conversation dataset it starts session i.
	send(i int, at time.Duration)
	// queue sends request i once a slot frees; false when the point must stop first.
	queue(i int, at time.Duration) bool
}

// next is the schedule's next send offset; false when the schedule ended (a trace's last row).
func (s *Schedule) next() (time.Duration, bool) { return s.Next(), true }

// openLoop sends the schedule and returns the send window's end: the first unsent offset once
// num_requests measured sends went out, warmup+duration, the end of a trace (just after its last
// send), or the time the point stopped. Offsets are absolute, so a late send never shifts the
// ones after it.
func (c *pointCore) openLoop(p pacer) time.Duration {
	o := &c.o
	for i := 0; ; i++ {
		at, more := c.arr.next()
		if !more {
			return c.last0 + time.Nanosecond
		}
		if o.NumRequests > 0 {
			if c.measuredSends() >= o.NumRequests {
				return at
			}
		} else if at >= c.end {
			return c.end
		}
		if !p.until(at) {
			return p.now()
		}
		c.last0 = at
		c.opened++
		switch {
		case c.conv != nil:
			p.send(i, at) // the session's turns count themselves
			continue
		case o.MaxConcurrency == 0 || p.slot():
			p.send(i, at)
		case o.OnFull == FullDrop:
			if at >= o.Warmup {
				c.dropped++ // a dropped send still counts towards num_requests
			}
		case !p.queue(i, at):
			return p.now()
		}
		if at >= o.Warmup {
			c.measured++
		}
	}
}

// measuredSends is the sends intended after warmup so far (conversation turns count from their
// sessions' goroutines, hence the lock).
func (c *pointCore) measuredSends() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.measured
}

// take decides whether a closed-loop worker sends at at (intended = actual send time) and gives
// the request's index; false once num_requests measured sends went out or the duration ended.
// Safe for concurrent use.
func (c *pointCore) take(at time.Duration) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.over:
	case c.o.NumRequests == 0:
		c.over = at >= c.end
	case at >= c.o.Warmup:
		c.over = c.measured >= c.o.NumRequests
		if !c.over {
			c.measured++
			c.last = at
		}
	}
	if c.over {
		return 0, false
	}
	c.next++
	return c.next - 1, true
}

// takeItem is take with the request's item, taken under the same lock so that a streamed
// dataset is read in index order however the workers race.
func (c *pointCore) takeItem(at time.Duration) (int, Item, bool) {
	c.itemMu.Lock()
	defer c.itemMu.Unlock()
	i, ok := c.take(at)
	if !ok {
		return 0, Item{}, false
	}
	return i, c.o.Dataset.Item(i), true
}

// deadline is when a closed loop stops sending unless refused earlier; false with num_requests.
func (c *pointCore) deadline() (time.Duration, bool) { return c.end, c.o.NumRequests == 0 }

// closedEnd is a closed loop's send-window end once sending stopped at now: the last measured
// send when num_requests ran out, never later than warmup+duration, else now (cancelled).
func (c *pointCore) closedEnd(now time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.o.NumRequests == 0:
		return min(c.end, now)
	case c.over:
		return c.last
	}
	return now
}

// check judges stop_when at now and reports a new stop; runners call it at each whole second of
// the point, when a second of sends and completions is complete.
func (c *pointCore) check(now time.Duration) bool {
	if c.sat == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopWhy != "" {
		return false
	}
	stop, why := c.sat.check(now)
	if stop {
		c.stopWhy = why
		c.o.Logger.Warn().Str("point", c.spec.String()).Str("reason", why).Msg("sweep: stopping point early")
	}
	return stop
}

// sent notes a request going out.
func (c *pointCore) sent(r *RequestRecord) {
	c.agg.NoteSent()
	if c.sat != nil {
		c.mu.Lock()
		c.sat.sent(r.Intended)
		c.mu.Unlock()
	}
}

// finish folds a finished request into the metrics and hands it to OnRecord.
func (c *pointCore) finish(r *RequestRecord) {
	if c.slices != nil {
		c.slices.add(r)
	}
	if c.sess != nil {
		c.sess.finish(r)
	}
	if c.sat != nil && r.OK() {
		c.mu.Lock()
		c.sat.done(r.Done, r.TTFT())
		c.mu.Unlock()
	}
	c.agg.Add(r)
	if c.o.OnRecord != nil {
		c.o.OnRecord(c.spec, r)
	}
}

// point computes the point over the send window ending at sendEnd (an early stop ends the window
// there too) and ends GPU sampling, whose window the runner marked. err (the run was cancelled)
// marks the point partial; otherwise the client is judged.
func (c *pointCore) point(sendEnd time.Duration, probe GPUProbe, sm *ServerMetrics, err error) (Point, error) {
	why := c.stopWhy // the runner's goroutines have ended
	c.release()
	p := c.o.newPoint(c.spec)
	p.ServerMetrics = sm
	if why != "" {
		c.agg.StopAt(sendEnd)
		p.StoppedEarly, p.StopReason = true, why
	}
	if c.trace != nil {
		c.tracePoint(&p, sendEnd)
	}
	c.agg.Finalize(&p, sendEnd, c.dropped)
	if c.slices != nil {
		p.Slices = c.slices.slices()
	}
	if c.sess != nil {
		p.Sessions = c.sess.stats()
	}
	if err == nil {
		err = c.datasetErr()
	}
	if probe != nil {
		// J/token divides the window's energy by the output tokens the window counts (a point
		// stopped early counts every token the server finished in it).
		tokens := float64(p.OutputThroughput) * float64(p.Duration)
		if math.IsNaN(tokens) {
			tokens = 0
		}
		if raw, err := probe.Finish(int(math.Round(tokens))); err != nil {
			c.o.Logger.Warn().Err(err).Msg("sweep: gpu sampling failed")
		} else {
			p.GPU = raw
		}
	}
	if err != nil {
		p.StoppedEarly, p.StopReason = true, "cancelled"
		return p, err
	}
	c.o.finishPoint(&p, c.spec)
	return p, nil
}
