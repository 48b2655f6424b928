package sweep

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"starlab/builtins/virtual"
)

// RunVirtualPoint runs one load level against a server in virtual time: no HTTP, no wall clock,
// byte-identical for a seed. Events become the same Records the HTTP client produces, so the
// metrics are computed by the same code. Send lag is zero unless max_concurrency holds a send
// back. Per-request timeouts are judged at completion (the contract has no cancel): a request
// finishing after its timeout is counted as "timeout".
func RunVirtualPoint(ctx context.Context, srv virtual.Server, o Options, spec PointSpec) (Point, error) {
	p, _, err := RunVirtualPointTimed(ctx, srv, o, spec)
	return p, err
}

// RunVirtualPointTimed is RunVirtualPoint that also says how long the point would take on the
// wall clock: from its first send to the end of its drain (requests abandoned after an early stop
// are run out in virtual time afterwards, which a real run does not wait for).
func RunVirtualPointTimed(ctx context.Context, srv virtual.Server, o Options, spec PointSpec) (Point, time.Duration, error) {
	c, err := newPointCore(o, spec)
	if err != nil {
		return Point{}, 0, err
	}
	v := newVrun(ctx, c, srv)
	sendEnd := v.run()
	if v.err == nil && c.trace != nil && c.trace.err != nil {
		v.err = c.trace.err
	}
	p, err := c.point(sendEnd, v.probe, &v.track.m, v.err)
	return p, v.wallEnd, err
}

// vrun drives a pointCore in the server's virtual time, on one goroutine.
type vrun struct {
	*pointCore
	ctx      context.Context
	err      error // the run's cancellation, once seen
	srv      virtual.Server
	base     time.Duration
	track    *serverTracker
	inflight map[*RequestRecord]bool
	pending  []pendingSend // open loop, waiting for a max_concurrency slot
	caching  bool          // the server caches prefixes: requests carry their blocks
	nextTick time.Duration
	closedFn func(at time.Duration)
	probe    GPUProbe
	marks    int           // window boundaries marked on the probe
	wallEnd  time.Duration // when a wall-clock run of the point would end (before flushServer)
}

func newVrun(ctx context.Context, c *pointCore, srv virtual.Server) *vrun {
	return &vrun{pointCore: c, ctx: ctx, srv: srv, base: srv.Now(), track: newServerTracker(),
		inflight: map[*RequestRecord]bool{}, probe: c.startProbe(ctx), caching: srv.Stats().PrefixCaching}
}

// pendingSend is a send waiting for a max_concurrency slot.
type pendingSend struct {
	r    *RequestRecord
	item Item
}

// run sends, drains and finishes requests still in flight as incomplete; it returns the send
// window's end.
func (v *vrun) run() time.Duration {
	var sendEnd time.Duration
	if v.spec.Concurrency > 0 {
		sendEnd = v.closedLoop()
	} else {
		sendEnd = v.openLoop(v)
	}
	if v.err == nil && v.probe != nil {
		// The window's end: the clock may still be at the last send.
		if v.now() < sendEnd {
			v.until(sendEnd)
		}
		v.mark(sendEnd)
	}
	if v.err == nil {
		v.drain(sendEnd)
	}
	// Requests still in flight are incomplete; finish them in send order so the requests file is
	// the same for the same seed.
	left := slices.SortedFunc(maps.Keys(v.inflight), func(a, b *RequestRecord) int { return a.Index - b.Index })
	for _, r := range left {
		r.Incomplete = true
		r.Done = v.now()
		v.complete(r)
	}
	v.wallEnd = v.now()
	v.track.add(v.sample())
	if v.probe != nil && v.marks < 2 {
		// Stopped or cancelled before the window ended: close it where the clock is.
		v.mark(min(sendEnd, v.now()))
	}
	if len(left) > 0 {
		v.flushServer()
	}
	return sendEnd
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
	for t, ok := v.srv.NextEvent(); ok; t, ok = v.srv.NextEvent() {
		v.srv.RunUntil(t)
	}
}

func (v *vrun) now() time.Duration { return v.srv.Now() - v.base }

func (v *vrun) sample() serverSample { return sampleOfStats(v.srv.Stats()) }

// until runs the server up to origin-relative t, sampling stats and checking stop_when at every
// virtual second on the way. It returns false when the point must stop (v.err when cancelled).
func (v *vrun) until(t time.Duration) bool {
	if v.probe != nil && v.marks == 0 && t >= v.o.Warmup {
		// The window opens at the end of warmup: mark it with the clock exactly there.
		if !v.tickUntil(v.o.Warmup) {
			return false
		}
		v.mark(v.o.Warmup)
	}
	return v.tickUntil(t)
}

// tickUntil is until without the window mark.
func (v *vrun) tickUntil(t time.Duration) bool {
	for v.nextTick <= t {
		v.srv.RunUntil(v.base + v.nextTick)
		s := v.sample()
		v.track.add(s)
		v.agg.NoteRunning(v.nextTick, s.running)
		if v.probe != nil {
			v.probe.Tick(v.vtime(v.nextTick))
		}
		if v.err = v.ctx.Err(); v.err != nil || v.check(v.nextTick) {
			return false
		}
		v.nextTick += time.Second
	}
	v.srv.RunUntil(v.base + t)
	return true
}

// The pacer: waiting is running the server; a send that finds every slot taken queues and goes
// out when a request finishes.
func (v *vrun) slot() bool { return len(v.inflight) < v.o.MaxConcurrency }
func (v *vrun) send(i int, at time.Duration) {
	if v.conv != nil {
		v.sendTurn(i, 1, at)
		return
	}
	v.submit(&RequestRecord{Index: i, Intended: at}, v.o.Dataset.Item(i), at)
}
func (v *vrun) queue(i int, at time.Duration) bool {
	v.pending = append(v.pending, pendingSend{&RequestRecord{Index: i, Intended: at}, v.o.Dataset.Item(i)})
	return true
}

// sendTurn submits session s's k-th turn at at (a future time is fine: the server holds it until
// then); false when the turn is not sent and the session is over.
func (v *vrun) sendTurn(s, k int, at time.Duration) bool {
	r, item, ok := v.turn(s, k, at)
	if ok {
		v.submit(r, item, at)
	}
	return ok
}

func (v *vrun) submit(r *RequestRecord, item Item, at time.Duration) {
	r.Sent, r.InputTokens = at, item.PromptTokens
	v.inflight[r] = true
	v.sent(r)
	req := virtual.Request{PromptTokens: item.PromptTokens, MaxTokens: item.OutputTokens}
	if v.caching {
		req.Blocks = virtual.PromptBlocks(item.Prompt)
	}
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
			v.complete(r)
			if len(v.pending) > 0 {
				next := v.pending[0]
				v.pending = v.pending[1:]
				v.submit(next.r, next.item, t)
			}
			if r.Turn > 0 {
				if at, more := v.afterTurn(r); more && v.sendTurn(r.Session-1, r.Turn+1, at) {
					return // the session goes on
				}
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

func (v *vrun) complete(r *RequestRecord) {
	delete(v.inflight, r)
	v.finish(r)
}

// closedLoop starts Concurrency workers at 0; each completion is its worker's next send.
func (v *vrun) closedLoop() time.Duration {
	v.closedFn = func(at time.Duration) {
		if v.conv != nil {
			if s, ok := v.takeSession(); ok {
				v.sendTurn(s, 1, at)
			}
			return
		}
		if i, ok := v.take(at); ok {
			v.submit(&RequestRecord{Index: i, Intended: at}, v.o.Dataset.Item(i), at)
		}
	}
	defer func() { v.closedFn = nil }()
	for range v.spec.Concurrency {
		v.closedFn(0)
	}
	end, timed := v.deadline()
	for !v.over && len(v.inflight) > 0 {
		t, ok := v.srv.NextEvent()
		if !ok {
			break
		}
		t -= v.base
		if timed {
			t = min(t, end)
		}
		if !v.until(t) || timed && v.now() >= end {
			break
		}
	}
	return v.closedEnd(v.now())
}

// drain runs the server until every in-flight request is done or the grace period ends.
func (v *vrun) drain(sendEnd time.Duration) {
	if v.stopWhy != "" { // one goroutine: no lock needed
		return
	}
	limit := max(sendEnd, v.now()) + v.o.Grace
	for len(v.inflight) > 0 || len(v.pending) > 0 {
		t, ok := v.srv.NextEvent()
		if !ok || t-v.base > limit {
			break
		}
		if !v.until(t - v.base) {
			return
		}
	}
	for _, p := range v.pending {
		p.r.Incomplete, p.r.Sent, p.r.Done = true, v.now(), v.now()
		v.inflight[p.r] = true
	}
	v.pending = nil
}

// RunVirtual runs a sweep against a virtual-time server; points run one after another on the
// server's clock.
func RunVirtual(ctx context.Context, srv virtual.Server, c Config) (*Result, error) {
	return c.run(ctx, func(ctx context.Context, o Options, s PointSpec) (Point, error) {
		return RunVirtualPoint(ctx, srv, o, s)
	})
}
