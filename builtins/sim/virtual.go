package sim

import (
	"container/heap"
	"io"
	"time"

	"starlab/builtins/virtual"
)

// VirtualServer runs the engine in discrete-event time: no goroutines, no wall clock. The same
// config, seed and submission sequence give byte-identical event streams. It implements
// virtual.Server and, like it, is not safe for concurrent use.
type VirtualServer struct {
	core   *core
	now    time.Duration
	events eventQueue
	seq    uint64
	tele   telemetry
}

var _ virtual.Server = (*VirtualServer)(nil)

// NewVirtual builds a virtual-time server. It fails the way `vllm serve` would fail to start
// (unknown model or GPU, out of memory, Faults.FailAtStart).
func NewVirtual(cfg Config, seed uint64) (*VirtualServer, error) {
	r, err := Resolve(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.startError(); err != nil {
		return nil, err
	}
	return &VirtualServer{core: newCore(r, seed)}, nil
}

// Config is the resolved configuration (the figures of the start-up log).
func (s *VirtualServer) Config() *Resolved { return s.core.cfg }

// Now implements virtual.Server.
func (s *VirtualServer) Now() time.Duration { return s.now }

// Submit implements virtual.Server. A request vLLM would reject (too long, empty) fails at once
// through Done with a *RequestError. Submissions before Now are treated as arriving at Now.
func (s *VirtualServer) Submit(at time.Duration, req virtual.Request, ev virtual.Events) {
	if at < s.now {
		at = s.now
	}
	// A calibrated twin's HTTP and tokenisation time, spent before the scheduler sees it.
	at += s.core.cfg.requestOverhead()
	s.push(at, func() { s.arrive(at, req, ev) })
}

func (s *VirtualServer) push(at time.Duration, fn func()) {
	s.seq++
	heap.Push(&s.events, event{at: at, seq: s.seq, fn: fn})
}

// arrive is a request reaching the server at at.
func (s *VirtualServer) arrive(at time.Duration, req virtual.Request, ev virtual.Events) {
	fail := func(err error) {
		if ev.Done != nil {
			ev.Done(at, virtual.Usage{}, err)
		}
	}
	c := s.core
	if c.countArrival(at) {
		fail(ErrCrashed)
		return
	}
	maxTokens, err := c.validate(req)
	if err != nil {
		fail(err)
		return
	}
	d := c.draw(req, maxTokens)
	if d.fail {
		fail(ErrInjected)
		return
	}
	vs := &vsink{s: s, ev: ev, stallAfter: -1}
	if d.stall {
		vs.stallAfter = c.cfg.Faults.StallAfterTokens
	}
	vs.q, vs.r = c.admit(at, req, d.target, vs)
	if vs.stallAfter == 0 {
		vs.stall(at)
	}
}

// vsink delivers engine progress to the driver's callbacks, applying stalled-stream faults.
type vsink struct {
	s          *VirtualServer
	ev         virtual.Events
	q          *request
	r          *replica
	stallAfter int
	emitted    int
	stalled    bool
}

func (v *vsink) chunk(at time.Duration, n int) {
	if v.stalled {
		return
	}
	v.emitted += n
	if v.ev.Chunk != nil {
		v.ev.Chunk(at, n)
	}
	if v.stallAfter > 0 && v.emitted >= v.stallAfter && !v.q.finished {
		v.stall(at)
	}
}

// stall stops the stream: the client sees nothing more and gives up StallFor later.
func (v *vsink) stall(at time.Duration) {
	v.stalled = true
	v.r.cancel(v.q)
	v.s.push(at+v.s.core.cfg.Faults.stallFor(), func() {
		if v.ev.Done != nil {
			v.ev.Done(at+v.s.core.cfg.Faults.stallFor(), virtual.Usage{PromptTokens: v.q.prompt, CompletionTokens: v.emitted}, ErrStalled)
		}
	})
}

func (v *vsink) done(at time.Duration, u virtual.Usage, err error) {
	if v.stalled {
		return
	}
	if v.ev.Done != nil {
		v.ev.Done(at, u, err)
	}
}

// RunUntil implements virtual.Server: arrivals due at an instant are queued before idle replicas
// start a step at that instant; steps ending at the same instant finish in replica order.
func (s *VirtualServer) RunUntil(t time.Duration) {
	for {
		for len(s.events) > 0 && s.events[0].at <= s.now {
			heap.Pop(&s.events).(event).fn()
		}
		for _, r := range s.core.replicas {
			if !r.stepping && r.load() > 0 {
				r.begin(s.now)
			}
		}
		next, ok := s.NextEvent()
		if !ok || next > t {
			break
		}
		s.now = next
		for _, r := range s.core.replicas {
			if r.stepping && r.stepTo == s.now {
				r.finish()
			}
		}
	}
	if t > s.now {
		s.now = t
	}
}

// NextEvent implements virtual.Server.
func (s *VirtualServer) NextEvent() (time.Duration, bool) {
	var at time.Duration
	ok := false
	if len(s.events) > 0 {
		at, ok = s.events[0].at, true
	}
	for _, r := range s.core.replicas {
		if r.stepping && (!ok || r.stepTo < at) {
			at, ok = r.stepTo, true
		}
	}
	return at, ok
}

// Stats implements virtual.Server.
func (s *VirtualServer) Stats() virtual.Stats { return s.core.stats() }

// WriteMetrics writes what GET /metrics would return now.
func (s *VirtualServer) WriteMetrics(w io.Writer) {
	writePrometheus(w, s.core.cfg.ServedModelName, s.core.gauges(), s.core.metrics)
}

type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

// eventQueue orders by time, then by submission order, so ties resolve deterministically.
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
