package sweep

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"starlab/builtins/consistency"
	"starlab/stats"
)

// SLO keys accepted in Config.SLO (thresholds in ms), as vLLM bench's --goodput.
var sloKeys = map[string]bool{"ttft": true, "tpot": true, "e2el": true}

// ValidateSLO rejects unknown metrics and non-positive thresholds.
func ValidateSLO(slo map[string]float64) error {
	for k, v := range slo {
		if !sloKeys[k] {
			return fmt.Errorf("slo: unknown metric %q, want ttft, tpot or e2el", k)
		}
		if !(v > 0) {
			return fmt.Errorf("slo: %s must be > 0 ms, got %v", k, v)
		}
	}
	return nil
}

// Aggregator turns records into a Point. Per-request TTFT/TPOT/E2EL/lag are kept as float slices
// (8 bytes each, exact percentiles); ITL, which has one value per token, goes to a Histogram.
// It is safe for concurrent Add.
type Aggregator struct {
	mu     sync.Mutex
	warmup time.Duration
	slo    map[string]float64

	ttft, tpot, e2el, lag []float64
	itl                   *Histogram
	live                  *Histogram // TTFT for the progress reporter

	completed, failed, incomplete int
	errors                        map[string]int
	inTok, outTok, fromChunks     int
	lastDone                      time.Duration

	sent, sentAll, errAll, doneAll int
	firstSent, lastSent            time.Duration
	firstIntended, lastIntended    time.Duration

	// departures are the successful completions after warmup, whenever the request was sent:
	// throughput counts those inside the measured window (the server's completion rate, unbiased
	// both below saturation and above it).
	departures []departure
	stoppedAt  time.Duration // > 0 when the point stopped early
	// toLastDone makes the window run to the last completion, as a closed loop's does: a replay
	// of a whole trace measures its makespan, like vLLM bench, since its load is the trace's.
	toLastDone bool

	// generated counts output tokens by the time they streamed, in tokenBucket slots after
	// warmup: output_throughput is the tokens generated inside the window, which is smooth where
	// completions come in convoys (a batch admitted together finishes together).
	generated []float64

	// The intervals' level and bootstrap seed (setIntervals), and the intended send times the
	// intervals and the steady-state check need: of every measured send, and of each TTFT/E2EL
	// and TPOT sample (parallel to ttft/e2el and to tpot), so that samples can be put in send
	// order for the block bootstrap.
	level        float64
	seed         uint64
	sends        []time.Duration
	okAt, tpotAt []time.Duration
	running      []runningSample // the server's running requests, as the runner sampled them
	// flight holds every request's intended send and finish (warmup, failed and incomplete ones
	// too): the requests in flight over the window, whose growth is the load not delivered.
	flight []span
}

// span is one request's time in flight: from its intended send to its finish.
type span struct{ from, to time.Duration }

// tokenBucket is the resolution of the generated-token timeline.
const tokenBucket = 10 * time.Millisecond

// noteGenerated spreads a request's output tokens over its content chunks' arrival times (a chunk
// may carry several tokens when the server merges them).
func (a *Aggregator) noteGenerated(r *RequestRecord, chunks []time.Duration) {
	if len(chunks) == 0 {
		return
	}
	per := 1.0
	if r.OutputTokens > 0 {
		per = float64(r.OutputTokens) / float64(len(chunks))
	}
	for _, c := range chunks {
		if c < a.warmup {
			continue
		}
		// Slot i holds (warmup+(i-1)·tokenBucket, warmup+i·tokenBucket]: a window ending on a
		// slot edge includes the token streamed exactly at its end.
		i := int((c - a.warmup + tokenBucket - 1) / tokenBucket)
		for len(a.generated) <= i {
			a.generated = append(a.generated, 0)
		}
		a.generated[i] += per
	}
}

// generatedUntil sums the tokens generated between warmup and end.
func (a *Aggregator) generatedUntil(end time.Duration) float64 {
	n := int((end - a.warmup) / tokenBucket)
	total := 0.0
	for i := 0; i <= n && i < len(a.generated); i++ {
		total += a.generated[i]
	}
	return total
}

type departure struct {
	at   time.Duration
	in   int
	good bool
}

// StopAt records that the point stopped early at t (origin-relative).
func (a *Aggregator) StopAt(t time.Duration) {
	a.mu.Lock()
	a.stoppedAt = t
	a.mu.Unlock()
}

// NewAggregator measures requests whose intended send time is at or after warmup.
func NewAggregator(warmup time.Duration, slo map[string]float64) *Aggregator {
	return &Aggregator{warmup: warmup, slo: slo, itl: NewHistogram(), live: NewHistogram(), errors: map[string]int{},
		level: stats.DefaultLevel}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Add folds one finished record in and releases its chunk times.
func (a *Aggregator) Add(r *RequestRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r.finish()
	chunks := r.Chunks
	r.Chunks = nil
	a.doneAll++
	if r.Err != "" {
		a.errAll++
	}
	a.noteGenerated(r, chunks)
	a.flight = append(a.flight, span{r.Intended, r.Done})
	if !r.Incomplete && r.Err == "" && r.ChunkCount > 0 && r.Done >= a.warmup {
		a.departures = append(a.departures, departure{at: r.Done, in: r.InputTokens, good: a.meetsSLO(r)})
	}
	r.Warmup = r.Intended < a.warmup
	if r.Warmup {
		return
	}
	if a.sent == 0 || r.Sent < a.firstSent {
		a.firstSent, a.firstIntended = r.Sent, r.Intended
	}
	if r.Sent > a.lastSent {
		a.lastSent = r.Sent
	}
	if r.Intended > a.lastIntended {
		a.lastIntended = r.Intended
	}
	a.sent++
	a.sends = append(a.sends, r.Intended)
	a.lag = append(a.lag, ms(r.Lag()))
	switch {
	case r.Incomplete:
		a.incomplete++
		return
	case r.Err != "":
		a.failed++
		a.errors[r.Err]++
		return
	case r.ChunkCount == 0:
		a.failed++
		a.errors["empty_response"]++
		return
	}
	a.completed++
	a.lastDone = max(a.lastDone, r.Done)
	a.inTok += r.InputTokens
	a.outTok += r.OutputTokens
	if !r.UsageReported {
		a.fromChunks++
	}
	ttft, e2el := ms(r.TTFT()), ms(r.E2EL())
	a.ttft = append(a.ttft, ttft)
	a.e2el = append(a.e2el, e2el)
	a.okAt = append(a.okAt, r.Intended)
	a.live.Add(ttft)
	if t, ok := r.TPOT(); ok {
		a.tpot = append(a.tpot, ms(t))
		a.tpotAt = append(a.tpotAt, r.Intended)
	}
	for i := 1; i < len(chunks); i++ {
		a.itl.Add(ms(chunks[i] - chunks[i-1]))
	}
}

// meetsSLO reports whether a finished request met every SLO.
func (a *Aggregator) meetsSLO(r *RequestRecord) bool {
	if lim, ok := a.slo["ttft"]; ok && ms(r.TTFT()) > lim {
		return false
	}
	if lim, ok := a.slo["e2el"]; ok && ms(r.E2EL()) > lim {
		return false
	}
	if lim, ok := a.slo["tpot"]; ok {
		if t, has := r.TPOT(); has && ms(t) > lim {
			return false
		}
	}
	return true
}

// NoteSent counts a send as it happens (for live progress); measured counts come from Add.
func (a *Aggregator) NoteSent() {
	a.mu.Lock()
	a.sentAll++
	a.mu.Unlock()
}

// Live is the progress snapshot: sends, finished, failed and the median TTFT so far.
func (a *Aggregator) Live() (sent, done, errs int, p50TTFTms float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sentAll, a.doneAll, a.errAll, a.live.Quantile(0.5)
}

// Finalize computes the point: the figures vLLM bench reports, their intervals (uncertainty.go),
// the steady-state check (steadystate.go) and the consistency checks. sendEnd is the end of the
// send window (origin-relative); dropped is the number of scheduled sends skipped.
func (a *Aggregator) Finalize(p *Point, sendEnd time.Duration, dropped int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Open loop: the window runs from the end of warmup to the end of sends (or the early stop),
	// the steady state the offered rate holds. Closed loop, which has no offered rate: to the last
	// completion (the makespan, as vLLM bench measures it), since with num_requests at or below
	// the concurrency every request is sent at once.
	end := sendEnd
	if math.IsInf(float64(p.RequestRate), 1) || a.toLastDone {
		end = max(sendEnd, a.lastDone)
	}
	if a.stoppedAt > 0 {
		end = a.stoppedAt
	}
	var completed, inTok, good int
	for _, d := range a.departures {
		if d.at <= end {
			completed++
			inTok += d.in
			if d.good {
				good++
			}
		}
	}
	window := (end - a.warmup).Seconds()
	p.Duration = Float(window)
	p.Completed, p.Failed, p.Incomplete = a.completed, a.failed, a.incomplete
	p.Errors = a.errors
	p.TotalInputTokens, p.TotalOutputTokens, p.OutputTokensFromChunks = a.inTok, a.outTok, a.fromChunks
	rate := func(n int) Float {
		if window <= 0 {
			return Float(math.NaN())
		}
		return Float(float64(n) / window)
	}
	generated := a.generatedUntil(end)
	p.RequestThroughput = rate(completed)
	p.OutputThroughput = Float(generated / window)
	p.TotalTokenThroughput = Float((float64(inTok) + generated) / window)
	if window <= 0 {
		p.OutputThroughput, p.TotalTokenThroughput = Float(math.NaN()), Float(math.NaN())
	}

	p.RequestGoodput = Float(math.NaN())
	if len(a.slo) > 0 {
		p.RequestGoodput = rate(good)
	}
	fill(a.ttft, &p.MeanTTFTMs, &p.MedianTTFTMs, &p.StdTTFTMs, &p.P90TTFTMs, &p.P99TTFTMs)
	fill(a.tpot, &p.MeanTPOTMs, &p.MedianTPOTMs, &p.StdTPOTMs, &p.P90TPOTMs, &p.P99TPOTMs)
	fill(a.e2el, &p.MeanE2ELMs, &p.MedianE2ELMs, &p.StdE2ELMs, &p.P90E2ELMs, &p.P99E2ELMs)
	h := a.itl
	p.MeanITLMs, p.MedianITLMs, p.StdITLMs = Float(h.Mean()), Float(h.Quantile(0.5)), Float(h.Std())
	p.P90ITLMs, p.P99ITLMs = Float(h.Quantile(0.9)), Float(h.Quantile(0.99))

	a.clientStats(&p.Client, dropped)

	a.intervals(p, end)
	p.SteadyState = a.steadyState(min(sendEnd, end), math.IsInf(float64(p.RequestRate), 1))
	p.Checks = consistency.Point(consistency.OfPoint(p))
}

// clientStats fills the send figures of the measured sends added so far (a.mu held).
func (a *Aggregator) clientStats(c *ClientStats, dropped int) {
	lag := sortedCopy(a.lag)
	c.SendLagP50Ms, c.SendLagP99Ms = Float(percentile(lag, 50)), Float(percentile(lag, 99))
	c.SendLagMaxMs = Float(math.NaN())
	if len(lag) > 0 {
		c.SendLagMaxMs = Float(lag[len(lag)-1])
	}
	c.Sent, c.Dropped = a.sent, dropped
	c.AchievedSendRate, c.ScheduledSendRate = Float(math.NaN()), Float(math.NaN())
	if a.sent >= 2 && a.lastSent > a.firstSent {
		c.AchievedSendRate = Float(float64(a.sent-1) / (a.lastSent - a.firstSent).Seconds())
		if a.lastIntended > a.firstIntended {
			c.ScheduledSendRate = Float(float64(a.sent-1) / (a.lastIntended - a.firstIntended).Seconds())
		}
	}
}

func fill(v []float64, mean, median, std, p90, p99 *Float) {
	s := sortedCopy(v)
	m, sd := meanStd(s)
	*mean, *std = Float(m), Float(sd)
	*median, *p90, *p99 = Float(percentile(s, 50)), Float(percentile(s, 90)), Float(percentile(s, 99))
}

func sortedCopy(v []float64) []float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s
}

func meanStd(v []float64) (float64, float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	m := sum / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return m, math.Sqrt(ss / float64(len(v)))
}

// percentile is numpy's default (linear interpolation) on sorted data, as vLLM bench uses.
func percentile(s []float64, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}
