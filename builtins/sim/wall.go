package sim

import (
	"context"
	"sync"
	"time"

	"starlab/builtins/virtual"
)

// WallServer runs the engine against the wall clock: one goroutine per data-parallel replica
// sleeps through each step's modelled duration. Safe for concurrent use.
type WallServer struct {
	mu      sync.Mutex
	core    *core
	origin  time.Time
	wake    []chan struct{}
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	crashed chan struct{}
	crashMu sync.Once
	tele    telemetry
}

// NewWall builds and starts a wall-clock server (no HTTP: see Handler). Close stops it.
func NewWall(cfg Config, seed uint64) (*WallServer, error) {
	r, err := Resolve(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.startError(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &WallServer{core: newCore(r, seed), origin: time.Now(), ctx: ctx, stop: stop, crashed: make(chan struct{})}
	for _, rep := range s.core.replicas {
		w := make(chan struct{}, 1)
		s.wake = append(s.wake, w)
		s.wg.Add(1)
		go s.loop(rep, w)
	}
	return s, nil
}

// Config is the resolved configuration.
func (s *WallServer) Config() *Resolved { return s.core.cfg }

// Close stops the replica loops; streams still open end with an error.
func (s *WallServer) Close() {
	s.stop()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.core.replicas {
		r.abort(s.now(), context.Canceled)
	}
}

// Crashed is closed when Faults.CrashAfter kills the engine.
func (s *WallServer) Crashed() <-chan struct{} { return s.crashed }

func (s *WallServer) now() time.Duration { return time.Since(s.origin) }

func (s *WallServer) loop(r *replica, wake chan struct{}) {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		started := !s.core.crashed && (r.stepping || r.begin(s.now()))
		end := r.stepTo
		s.mu.Unlock()
		if !started {
			select {
			case <-wake:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		if d := time.Until(s.origin.Add(end)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-s.ctx.Done():
				return
			}
		}
		s.mu.Lock()
		if r.stepping {
			r.finish()
		}
		s.mu.Unlock()
	}
}

// Stream is one request's progress on the wall clock.
type Stream struct {
	srv        *WallServer
	q          *request
	r          *replica
	notify     chan struct{}
	mu         sync.Mutex
	tokens     int
	finished   bool
	err        error
	usage      virtual.Usage
	stallAfter int // -1: never
}

func (st *Stream) chunk(_ time.Duration, n int) {
	st.mu.Lock()
	st.tokens += n
	st.mu.Unlock()
	st.poke()
}

func (st *Stream) done(_ time.Duration, u virtual.Usage, err error) {
	st.mu.Lock()
	st.finished, st.usage, st.err = true, u, err
	st.mu.Unlock()
	st.poke()
}

func (st *Stream) poke() {
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

// Wait blocks until the stream has more than seen tokens or has ended, and returns the total
// token count so far. ctx ending cancels the request (the client went away).
func (st *Stream) Wait(ctx context.Context, seen int) (tokens int, finished bool, u virtual.Usage, err error) {
	for {
		st.mu.Lock()
		tokens, finished, u, err = st.tokens, st.finished, st.usage, st.err
		st.mu.Unlock()
		if tokens > seen || finished {
			return
		}
		select {
		case <-st.notify:
		case <-ctx.Done():
			st.Cancel()
			return tokens, true, u, ctx.Err()
		}
	}
}

// Cancel removes the request from the engine and frees its KV blocks.
func (st *Stream) Cancel() {
	st.srv.mu.Lock()
	st.r.cancel(st.q)
	st.srv.mu.Unlock()
}

// ID is the request's number, also the seed of its generated text.
func (st *Stream) ID() uint64 { return st.q.id }

// StallAfter is the token count after which an injected stall freezes this stream (-1: never).
func (st *Stream) StallAfter() int { return st.stallAfter }

// Submit admits a request now. Errors are *RequestError (400), ErrInjected or ErrCrashed.
func (s *WallServer) Submit(req virtual.Request) (*Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.core
	now := s.now()
	if c.countArrival(now) {
		s.crashMu.Do(func() { close(s.crashed) })
		return nil, ErrCrashed
	}
	maxTokens, err := c.validate(req)
	if err != nil {
		return nil, err
	}
	d := c.draw(req, maxTokens)
	if d.fail {
		return nil, ErrInjected
	}
	st := &Stream{srv: s, notify: make(chan struct{}, 1), stallAfter: -1}
	if d.stall {
		st.stallAfter = c.cfg.Faults.StallAfterTokens
	}
	st.q, st.r = c.admit(now, req, d.target, st)
	select {
	case s.wake[st.r.idx] <- struct{}{}:
	default:
	}
	return st, nil
}

// Stats reports the gauges and counters now.
func (s *WallServer) Stats() virtual.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.stats()
}

// requestOverhead is the calibrated latency before a request reaches the scheduler.
func (s *WallServer) requestOverhead() time.Duration { return s.core.cfg.requestOverhead() }
