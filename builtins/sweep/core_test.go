package sweep

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"starlab/builtins/virtual"
)

// svcModel is a server whose every request, sent at s with n output tokens, finishes at
// s + base + slope·s + n·perToken, all in parallel: a request's timeline depends on nothing else,
// so both runners must agree to the nanosecond. A slope above 0 is a server falling behind
// (completions lag sends and TTFT grows: saturation).
type svcModel struct {
	base     time.Duration
	slope    float64
	perToken time.Duration
}

func (m svcModel) doneAt(sent time.Duration, tokens int) time.Duration {
	return sent + m.base + time.Duration(m.slope*float64(sent)) + time.Duration(tokens)*m.perToken
}

// do stands in for the HTTP client in the wall runner.
func (m svcModel) do(ctx context.Context, item Item, rec *RequestRecord, origin time.Time) error {
	rec.InputTokens = item.PromptTokens
	rec.Sent = time.Since(origin)
	done := m.doneAt(rec.Sent, item.OutputTokens)
	t := time.NewTimer(time.Until(origin.Add(done)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	rec.First, rec.Last, rec.ChunkCount = done, done, 1
	rec.Chunks = append(rec.Chunks, done)
	rec.OutputTokens, rec.UsageReported = item.OutputTokens, true
	return nil
}

// modelServer is svcModel as a virtual.Server for the virtual runner.
type modelServer struct {
	m      svcModel
	now    time.Duration
	events []modelEvent // by time, then submission
}

type modelEvent struct {
	at  time.Duration
	req virtual.Request
	ev  virtual.Events
}

func (s *modelServer) Now() time.Duration { return s.now }
func (s *modelServer) Submit(at time.Duration, req virtual.Request, ev virtual.Events) {
	e := modelEvent{s.m.doneAt(at, req.MaxTokens), req, ev}
	i, _ := slices.BinarySearchFunc(s.events, e.at, func(x modelEvent, t time.Duration) int {
		if x.at <= t {
			return -1
		}
		return 1
	})
	s.events = slices.Insert(s.events, i, e)
}
func (s *modelServer) NextEvent() (time.Duration, bool) {
	if len(s.events) == 0 {
		return 0, false
	}
	return s.events[0].at, true
}
func (s *modelServer) RunUntil(t time.Duration) {
	for len(s.events) > 0 && s.events[0].at <= t {
		e := s.events[0]
		s.events = s.events[1:]
		s.now = e.at
		e.ev.Chunk(e.at, e.req.MaxTokens)
		e.ev.Done(e.at, virtual.Usage{PromptTokens: e.req.PromptTokens, CompletionTokens: e.req.MaxTokens}, nil)
	}
	s.now = max(s.now, t)
}
func (s *modelServer) Stats() virtual.Stats { return virtual.Stats{} }

// sendRec is what the core decided about one request, as either runner carried it out.
type sendRec struct {
	Index                int
	Intended, Sent, Done time.Duration
	Incomplete           bool
}

type driven struct {
	sends   []sendRec // by index
	sendEnd time.Duration
	point   Point
}

func (d *driven) note(_ PointSpec, r *RequestRecord) {
	d.sends = append(d.sends, sendRec{r.Index, r.Intended, r.Sent, r.Done, r.Incomplete})
}

// driveWall runs the HTTP runner's driver (its goroutines, timers, semaphore and monitor) on
// synctest's fake clock, with m in place of the HTTP client.
func driveWall(t *testing.T, o Options, spec PointSpec, m svcModel) driven {
	var d driven
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		o.OnRecord = func(s PointSpec, r *RequestRecord) { mu.Lock(); d.note(s, r); mu.Unlock() }
		c, err := newPointCore(o, spec)
		if err != nil {
			t.Fatal(err)
		}
		d.sendEnd = (&wallRun{pointCore: c, do: m.do}).run(context.Background())
		d.point, _ = c.point(d.sendEnd, nil, nil, nil)
	})
	slices.SortFunc(d.sends, func(a, b sendRec) int { return a.Index - b.Index })
	return d
}

// driveVirtual runs the virtual runner's driver against m as a virtual server.
func driveVirtual(t *testing.T, o Options, spec PointSpec, m svcModel) driven {
	var d driven
	o.OnRecord = d.note
	c, err := newPointCore(o, spec)
	if err != nil {
		t.Fatal(err)
	}
	d.sendEnd = newVrun(context.Background(), c, &modelServer{m: m}).run()
	d.point, _ = c.point(d.sendEnd, nil, nil, nil)
	slices.SortFunc(d.sends, func(a, b sendRec) int { return a.Index - b.Index })
	return d
}

// TestRunnersAgree drives the point core through the wall runner (fake clock) and the virtual
// runner with the same seed and server model: the sends (index, intended offset, send time, end),
// drops, send window and stop decision must be the same, and follow the core's rules.
func TestRunnersAgree(t *testing.T) {
	sec, ms := time.Second, time.Millisecond
	ds, err := NewRandom(RandomSpec{InputLen: 8, OutputLen: 10, RangeRatio: 0.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		spec PointSpec
		m    svcModel
		set  func(o *Options)
	}{
		{"open poisson", PointSpec{Rate: 20}, svcModel{50 * ms, 0, 5 * ms}, func(o *Options) {
			o.Duration, o.Warmup = 3*sec, sec
		}},
		{"open max_concurrency drop", PointSpec{Rate: 40}, svcModel{70 * ms, 0, 5 * ms}, func(o *Options) {
			o.Duration, o.Warmup, o.MaxConcurrency, o.OnFull = 3*sec, sec/2, 2, FullDrop
		}},
		{"open max_concurrency wait", PointSpec{Rate: 40}, svcModel{30 * ms, 0, 5 * ms}, func(o *Options) {
			o.NumRequests, o.Warmup, o.MaxConcurrency = 40, sec/2, 2
		}},
		{"closed duration", PointSpec{Concurrency: 3}, svcModel{20 * ms, 0, 5 * ms}, func(o *Options) {
			o.Duration, o.Warmup = 2*sec, 300*ms
		}},
		{"closed num_requests", PointSpec{Concurrency: 4}, svcModel{40 * ms, 0, 5 * ms}, func(o *Options) {
			o.NumRequests, o.Warmup = 25, 200*ms
		}},
		{"stop_when", PointSpec{Rate: 40}, svcModel{50 * ms, 1, 0}, func(o *Options) {
			o.Duration, o.Warmup, o.StopWhen = 30*sec, sec, &StopWhen{Window: 2 * sec}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t)
			o.Dataset, o.Timeout, o.Grace = ds, time.Hour, time.Minute
			tc.set(&o)
			wall := driveWall(t, o, tc.spec, tc.m)
			virt := driveVirtual(t, o, tc.spec, tc.m)
			if !slices.Equal(wall.sends, virt.sends) {
				t.Errorf("sends differ:\nwall    %v\nvirtual %v", wall.sends, virt.sends)
			}
			if wall.sendEnd != virt.sendEnd || wall.point.Client.Dropped != virt.point.Client.Dropped ||
				wall.point.StopReason != virt.point.StopReason || wall.point.Duration != virt.point.Duration {
				t.Errorf("wall: end %v dropped %d stop %q window %v; virtual: end %v dropped %d stop %q window %v",
					wall.sendEnd, wall.point.Client.Dropped, wall.point.StopReason, wall.point.Duration,
					virt.sendEnd, virt.point.Client.Dropped, virt.point.StopReason, virt.point.Duration)
			}
			checkRules(t, o, tc.spec, virt)
		})
	}
}

// checkRules pins what the core decided, so that both runners agreeing on a wrong rule fails too.
func checkRules(t *testing.T, o Options, spec PointSpec, d driven) {
	t.Helper()
	measured, lagged, last, top := 0, 0, time.Duration(0), 0
	for _, s := range d.sends {
		top = max(top, s.Index)
		if s.Intended >= o.Warmup {
			measured++
			last = max(last, s.Intended)
		}
		if s.Sent > s.Intended {
			lagged++
		}
	}
	dropped, stop := d.point.Client.Dropped, d.point.StopReason
	end := o.Warmup + o.Duration
	if spec.Concurrency > 0 {
		switch {
		case o.NumRequests > 0 && (measured != o.NumRequests || d.sendEnd != last):
			t.Errorf("closed num_requests: %d measured sends, window ends %v, want %d and the last send %v", measured, d.sendEnd, o.NumRequests, last)
		case o.NumRequests == 0 && (d.sendEnd != end || last >= end):
			t.Errorf("closed duration: window ends %v after a send at %v, want %v", d.sendEnd, last, end)
		}
		return
	}
	// Open loop: request i is sent (or dropped) at the i-th offset of the seeded schedule.
	sched, _ := NewSchedule(o.Seed, o.pointKey(spec), spec.Rate, o.Arrival, o.Burstiness)
	offsets := make([]time.Duration, top+2)
	for i := range offsets {
		offsets[i] = sched.Next()
	}
	for _, s := range d.sends {
		if s.Intended != offsets[s.Index] {
			t.Fatalf("request %d intended at %v, the schedule says %v", s.Index, s.Intended, offsets[s.Index])
		}
	}
	switch {
	case o.StopWhen != nil:
		if !strings.HasPrefix(stop, "saturated") || d.sendEnd%time.Second != 0 || d.sendEnd >= end {
			t.Errorf("stop_when: stop %q at %v, want saturated at a whole second before %v", stop, d.sendEnd, end)
		}
	case stop != "":
		t.Errorf("stopped early: %s", stop)
	case o.NumRequests > 0: // with OnFull wait: every scheduled send goes out
		if measured != o.NumRequests || d.sendEnd != offsets[top+1] {
			t.Errorf("num_requests: %d measured, window ends %v, want %d and the next offset %v",
				measured, d.sendEnd, o.NumRequests, offsets[top+1])
		}
	case d.sendEnd != end:
		t.Errorf("duration: window ends %v, want %v", d.sendEnd, end)
	}
	if o.MaxConcurrency > 0 && o.OnFull == FullDrop && dropped == 0 {
		t.Error("max_concurrency drop: nothing dropped")
	}
	if o.MaxConcurrency > 0 && o.OnFull != FullDrop && lagged == 0 {
		t.Error("max_concurrency wait: no send waited for a slot")
	}
}
