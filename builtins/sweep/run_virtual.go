package sweep

import (
	"context"
	"errors"
	"sort"
	"time"

	"starlab/builtins/virtual"
)

// RunVirtualPoint runs one load level against a server in virtual time: no HTTP, no wall clock,
// byte-identical for a seed. Events become the same Records the HTTP client produces, so the
// metrics are computed by the same code. Send lag is zero unless max_concurrency holds a send
// back. Per-request timeouts are judged at completion (the contract has no cancel): a request
// finishing after its timeout is counted as "timeout".
func RunVirtualPoint(ctx context.Context, srv virtual.Server, o Options, spec PointSpec) (Point, error) {
	if err := o.validate(spec); err != nil {
		return Point{}, err
	}
	o = o.withDefaults()
	v := &vrun{o: o, spec: spec, srv: srv, base: srv.Now(), agg: NewAggregator(o.Warmup, o.SLO),
		track: newServerTracker(), inflight: map[*Record]bool{}}
	if o.StopWhen != nil && spec.Concurrency == 0 {
		v.sat = newSaturation(*o.StopWhen, o.Warmup)
	}
	p := o.newPoint(spec)
	if o.GPU != nil {
		probe, gerr := o.GPU(ctx)
		if gerr != nil {
			o.Logger.Warn().Err(gerr).Msg("sweep: gpu sampling unavailable")
		}
		v.probe = probe
	}
	var err error
	var sendEnd time.Duration
	if spec.Concurrency > 0 {
		sendEnd, err = v.closed(ctx)
	} else {
		sendEnd, err = v.open(ctx)
	}
	if err == nil && v.probe != nil {
		// The window's end: the clock may still be at the last send.
		if v.now() < sendEnd {
			_, err = v.advance(ctx, sendEnd)
		}
		v.mark(sendEnd)
	}
	if err == nil {
		err = v.drain(ctx, sendEnd)
	}
	// Requests still in flight are incomplete; finish them in send order so the requests file is
	// the same for the same seed.
	left := make([]*Record, 0, len(v.inflight))
	for r := range v.inflight {
		left = append(left, r)
	}
	sort.Slice(left, func(i, j int) bool { return left[i].Index < left[j].Index })
	if len(left) > 0 {
		defer v.flushServer()
	}
	for _, r := range left {
		r.Incomplete = true
		r.Done = v.now()
		v.finish(r)
	}
	v.track.add(v.sample())
	p.ServerMetrics = &v.track.m
	if v.stopWhy != "" {
		v.agg.StopAt(sendEnd)
	}
	v.agg.Finalize(&p, sendEnd, v.dropped)
	if v.probe != nil {
		if v.marks < 2 {
			// Stopped or cancelled before the window ended: close it where the clock is.
			v.mark(min(sendEnd, v.now()))
		}
		p.GPU = finishProbe(v.probe, windowOutputTokens(p), o)
	}
	if v.stopWhy != "" {
		p.StoppedEarly, p.StopReason = true, v.stopWhy
	}
	if err != nil {
		p.StoppedEarly, p.StopReason = true, "cancelled"
		return p, err
	}
	o.finishPoint(&p, spec)
	return p, nil
}

type vrun struct {
	o        Options
	spec     PointSpec
	srv      virtual.Server
	base     time.Duration
	agg      *Aggregator
	track    *serverTracker
	sat      *saturation
	inflight map[*Record]bool
	pending  []*Record // open loop, waiting for a max_concurrency slot
	dropped  int
	stopWhy  string
	nextTick time.Duration
	closedFn func(at time.Duration)
	probe    GPUProbe
	marks    int // window boundaries marked on the probe
}

// vtime maps an origin-relative virtual time onto the probe's time axis.
func (v *vrun) vtime(t time.Duration) time.Time { return VirtualEpoch.Add(v.base + t) }

// mark records a window boundary on the GPU probe; the server's clock must be at t.
func (v *vrun) mark(t time.Duration) {
	if v.probe != nil && v.marks < 2 {
		v.probe.Mark(v.vtime(t))
		v.marks++
	}
}

// flushServer runs abandoned requests to completion in virtual time (the contract has no cancel),
// so the next point starts on an idle server; their events are ignored.
func (v *vrun) flushServer() {
	for {
		t, ok := v.srv.NextEvent()
		if !ok {
			return
		}
		v.srv.RunUntil(t)
	}
}

func (v *vrun) now() time.Duration { return v.srv.Now() - v.base }

func (v *vrun) sample() serverSample {
	s := v.srv.Stats()
	return serverSample{running: float64(s.Running), waiting: float64(s.Waiting), kv: s.KVCacheUsage,
		preemptions: float64(s.Preemptions), hasPreempt: true}
}

// advance runs the server up to origin-relative t, sampling stats and checking stop_when at every
// virtual second on the way. It returns false when the point must stop.
func (v *vrun) advance(ctx context.Context, t time.Duration) (bool, error) {
	if v.probe != nil && v.marks == 0 && t >= v.o.Warmup {
		// The window opens at the end of warmup: mark it with the clock exactly there.
		if ok, err := v.tickUntil(ctx, v.o.Warmup); !ok {
			return ok, err
		}
		v.mark(v.o.Warmup)
	}
	return v.tickUntil(ctx, t)
}

// tickUntil is advance without the window mark.
func (v *vrun) tickUntil(ctx context.Context, t time.Duration) (bool, error) {
	for v.nextTick <= t {
		v.srv.RunUntil(v.base + v.nextTick)
		v.track.add(v.sample())
		if v.probe != nil {
			v.probe.Tick(v.vtime(v.nextTick))
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if v.sat != nil {
			if stop, why := v.sat.check(v.nextTick); stop {
				v.stopWhy = why
				v.o.Logger.Warn().Str("point", v.spec.String()).Str("reason", why).Msg("sweep: stopping point early")
				return false, nil
			}
		}
		v.nextTick += time.Second
	}
	v.srv.RunUntil(v.base + t)
	return true, nil
}

func (v *vrun) submit(r *Record, at time.Duration) {
	item := v.o.Dataset.Item(r.Index)
	r.Sent, r.InputTokens = at, item.PromptTokens
	v.inflight[r] = true
	v.agg.NoteSent()
	if v.sat != nil {
		v.sat.sent(r.Intended)
	}
	req := virtual.Request{PromptTokens: item.PromptTokens, MaxTokens: item.OutputTokens}
	if !v.o.AllowEOS {
		req.MinTokens, req.IgnoreEOS = item.OutputTokens, true
	}
	v.srv.Submit(v.base+at, req, virtual.Events{
		Chunk: func(t time.Duration, tokens int) {
			t -= v.base
			if r.ChunkCount == 0 {
				r.First = t
			}
			r.Last = t
			r.ChunkCount++
			r.Chunks = append(r.Chunks, t)
		},
		Done: func(t time.Duration, u virtual.Usage, err error) {
			if !v.inflight[r] {
				return
			}
			t -= v.base
			r.Done = t
			if u.CompletionTokens > 0 || err == nil {
				r.OutputTokens, r.UsageReported = u.CompletionTokens, true
			}
			if u.PromptTokens > 0 {
				r.InputTokens = u.PromptTokens
			}
			switch {
			case err != nil:
				r.Err, r.Detail = classifyVirtual(err), err.Error()
			case t-r.Intended > v.o.Timeout:
				r.Err, r.Detail = "timeout", "finished after the per-request timeout"
			}
			v.finish(r)
			if len(v.pending) > 0 {
				next := v.pending[0]
				v.pending = v.pending[1:]
				v.submit(next, t)
			}
			if v.closedFn != nil {
				v.closedFn(t)
			}
		},
	})
}

func classifyVirtual(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	msg := err.Error()
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return "server_error: " + msg
}

func (v *vrun) finish(r *Record) {
	delete(v.inflight, r)
	if v.sat != nil && r.Err == "" && !r.Incomplete && r.ChunkCount > 0 {
		v.sat.done(r.Done, r.TTFT())
	}
	v.agg.Add(r)
	if v.o.OnRecord != nil {
		v.o.OnRecord(v.spec, r)
	}
}

func (v *vrun) open(ctx context.Context) (time.Duration, error) {
	o := &v.o
	sched, err := NewSchedule(o.Seed, o.pointKey(v.spec), v.spec.Rate, o.Arrival, o.Burstiness)
	if err != nil {
		return 0, err
	}
	end := o.Warmup + o.Duration
	measured := 0
	for i := 0; ; i++ {
		at := sched.Next()
		if o.NumRequests > 0 && measured >= o.NumRequests {
			return at, nil
		}
		if o.NumRequests == 0 && at >= end {
			return end, nil
		}
		if ok, err := v.advance(ctx, at); !ok {
			return v.now(), err
		}
		if at >= o.Warmup {
			measured++
		}
		r := &Record{Index: i, Intended: at}
		if o.MaxConcurrency > 0 && len(v.inflight) >= o.MaxConcurrency {
			if o.OnFull == FullDrop {
				if at >= o.Warmup {
					v.dropped++
				}
				continue
			}
			v.pending = append(v.pending, r)
			continue
		}
		v.submit(r, at)
	}
}

func (v *vrun) closed(ctx context.Context) (time.Duration, error) {
	o := &v.o
	end := o.Warmup + o.Duration
	next, measured := 0, 0
	var last time.Duration
	stopped := false
	send := func(at time.Duration) {
		if stopped {
			return
		}
		if o.NumRequests > 0 {
			if at >= o.Warmup {
				if measured >= o.NumRequests {
					stopped = true
					return
				}
				measured++
				last = at
			}
		} else if at >= end {
			stopped = true
			return
		}
		r := &Record{Index: next, Intended: at}
		next++
		v.submit(r, at)
	}
	v.closedFn = send
	for w := 0; w < v.spec.Concurrency; w++ {
		send(0)
	}
	for !stopped && len(v.inflight) > 0 {
		t, ok := v.srv.NextEvent()
		if !ok {
			break
		}
		if o.NumRequests == 0 && t-v.base > end {
			t = v.base + end
		}
		if ok, err := v.advance(ctx, t-v.base); !ok {
			v.closedFn = nil
			return v.now(), err
		}
		if o.NumRequests == 0 && v.now() >= end {
			break
		}
	}
	v.closedFn = nil
	if o.NumRequests > 0 {
		return last, nil
	}
	return end, nil
}

// drain runs the server until every in-flight request is done or the grace period ends.
func (v *vrun) drain(ctx context.Context, sendEnd time.Duration) error {
	if v.stopWhy != "" {
		return nil
	}
	limit := max(sendEnd, v.now()) + v.o.Grace
	for len(v.inflight) > 0 || len(v.pending) > 0 {
		t, ok := v.srv.NextEvent()
		if !ok || t-v.base > limit {
			break
		}
		if ok, err := v.advance(ctx, t-v.base); !ok {
			return err
		}
	}
	for _, r := range v.pending {
		r.Incomplete, r.Sent, r.Done = true, v.now(), v.now()
		v.inflight[r] = true
	}
	v.pending = nil
	return nil
}

// RunVirtual runs a sweep against a virtual-time server; points run one after another on the
// server's clock.
func RunVirtual(ctx context.Context, srv virtual.Server, c Config) (*Result, error) {
	return c.run(ctx, func(ctx context.Context, o Options, s PointSpec) (Point, error) {
		return RunVirtualPoint(ctx, srv, o, s)
	})
}
