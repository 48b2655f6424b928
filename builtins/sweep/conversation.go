package sweep

import (
	"math"
	"sort"
	"sync"
	"time"

	"starlab/builtins/sweep/pointschema"
)

// A conversation point sends sessions, not independent requests. An open loop starts session i
// at the schedule's i-th offset (rates are session starts); a closed loop keeps concurrency
// sessions in flight, each worker starting a new session when its last one ended. Within a
// session, turn k+1 is intended think_time after turn k's answer ended, and is sent only while
// the window is open (warmup + duration, or until num_requests measured turns went out); a turn
// that would start later cuts its session short (truncated). A failed turn ends its session.
// Every turn is a request like any other: TTFT, throughput and the rest count them all.

// turn decides whether session s's k-th turn (k from 1), intended at at, goes out, and gives its
// record and request. Safe for concurrent use.
func (c *pointCore) turn(s, k int, at time.Duration) (*RequestRecord, Item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := !c.over && c.stopWhy == ""
	switch {
	case !ok:
	case c.o.NumRequests == 0:
		ok = at < c.end
	case at >= c.o.Warmup:
		if ok = c.measured < c.o.NumRequests; !ok {
			c.over = true
		}
	}
	if !ok {
		if k > 1 {
			c.sess.truncated(s)
		}
		return nil, Item{}, false
	}
	if at >= c.o.Warmup {
		c.measured++
		c.last = at
	}
	if k == 1 {
		c.sess.started(s, at)
	}
	i := c.next
	c.next++
	return &RequestRecord{Index: i, Intended: at, Session: s + 1, Turn: k}, c.conv.Turn(s, k), true
}

// afterTurn is what follows a finished turn: the next turn's intended send, or false when the
// session is over (its last turn answered, or a turn failed).
func (c *pointCore) afterTurn(r *RequestRecord) (time.Duration, bool) {
	s := r.Session - 1
	switch {
	case !r.OK():
		c.sess.ended(s, r, false)
		return 0, false
	case r.Turn >= c.conv.Turns(s):
		c.sess.ended(s, r, true)
		return 0, false
	}
	return r.Done + c.conv.ThinkTime, true
}

// takeSession gives a closed-loop worker its next session; false once sending is over.
func (c *pointCore) takeSession() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over || c.stopWhy != "" {
		return 0, false
	}
	c.sessions++
	return c.sessions - 1, true
}

// sessionCollector gathers the session and per-turn figures of a conversation point: sessions
// started after warmup, how they ended, and each turn's latencies.
type sessionCollector struct {
	mu     sync.Mutex
	warmup time.Duration
	open   map[int]time.Duration // measured sessions in flight: their first intended send

	startedN, completed, truncatedN int
	turnsSent                       int
	sessionTime                     float64 // seconds, summed over completed sessions
	turns                           []*turnSamples
}

type turnSamples struct {
	requests, completed int
	inTok               float64
	ttft, e2el          []float64
}

func newSessionCollector(warmup time.Duration) *sessionCollector {
	return &sessionCollector{warmup: warmup, open: map[int]time.Duration{}}
}

func (s *sessionCollector) started(sess int, at time.Duration) {
	if at < s.warmup {
		return // a warmup session: excluded, like warmup requests
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startedN++
	s.open[sess] = at
}

func (s *sessionCollector) truncated(sess int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[sess]; ok {
		s.truncatedN++
		delete(s.open, sess)
	}
}

func (s *sessionCollector) ended(sess int, last *RequestRecord, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, measured := s.open[sess]
	if !measured {
		return
	}
	delete(s.open, sess)
	if ok {
		s.completed++
		s.sessionTime += (last.Done - from).Seconds()
	}
}

// finish notes a finished turn of a measured session.
func (s *sessionCollector) finish(r *RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[r.Session-1]; !ok || r.Turn < 1 {
		return
	}
	for len(s.turns) < r.Turn {
		s.turns = append(s.turns, &turnSamples{})
	}
	t := s.turns[r.Turn-1]
	t.requests++
	s.turnsSent++
	t.inTok += float64(r.InputTokens)
	if r.OK() {
		t.completed++
		t.ttft = append(t.ttft, ms(r.TTFT()))
		t.e2el = append(t.e2el, ms(r.E2EL()))
	}
}

// stats is the point's Sessions field. Sessions still open when the point ended (their last
// turn incomplete) count as neither completed nor truncated.
func (s *sessionCollector) stats() *pointschema.SessionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	nan := Float(math.NaN())
	st := &pointschema.SessionStats{Started: s.startedN, Completed: s.completed, Truncated: s.truncatedN,
		MeanTurns: nan, MeanSessionS: nan, Turns: []pointschema.TurnStats{}}
	if s.startedN > 0 {
		st.MeanTurns = Float(float64(s.turnsSent) / float64(s.startedN))
	}
	if s.completed > 0 {
		st.MeanSessionS = Float(s.sessionTime / float64(s.completed))
	}
	for k, t := range s.turns {
		ts := pointschema.TurnStats{Turn: k + 1, Requests: t.requests, Completed: t.completed,
			MeanInputTokens: nan, MeanTTFTMs: nan, MedianTTFTMs: nan, P99TTFTMs: nan, MeanE2ELMs: nan}
		if t.requests > 0 {
			ts.MeanInputTokens = Float(t.inTok / float64(t.requests))
		}
		if len(t.ttft) > 0 {
			ttft := sortedCopy(t.ttft)
			mean, _ := meanStd(ttft)
			e2el, _ := meanStd(t.e2el)
			ts.MeanTTFTMs, ts.MedianTTFTMs, ts.P99TTFTMs = Float(mean), Float(percentile(ttft, 50)), Float(percentile(ttft, 99))
			ts.MeanE2ELMs = Float(e2el)
		}
		st.Turns = append(st.Turns, ts)
	}
	sort.SliceStable(st.Turns, func(i, j int) bool { return st.Turns[i].Turn < st.Turns[j].Turn })
	return st
}

// tracePoint fills a trace replay's own fields: its offered rate is what the trace sent in the
// window.
func (c *pointCore) tracePoint(p *Point, sendEnd time.Duration) {
	t := c.o.Dataset.trace
	info := &pointschema.TraceInfo{Path: c.o.Trace.Path, Format: c.o.Trace.Format, TimeScale: Float(c.spec.TimeScale),
		Rows: c.opened, Skipped: t.skipped, SpanS: Float(c.last0.Seconds() * c.spec.TimeScale)}
	p.Trace = info
	if window := (sendEnd - c.o.Warmup).Seconds(); window > 0 {
		p.RequestRate = Float(float64(c.measured) / window)
	} else {
		p.RequestRate = Float(math.NaN())
	}
}

// datasetErr is a streamed dataset's read error, which makes the point fail.
func (c *pointCore) datasetErr() error { return c.o.Dataset.Err() }
