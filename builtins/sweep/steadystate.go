package sweep

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"starlab/builtins/sweep/pointschema"
	"starlab/stats"
)

// runningSample is one reading of the server's running requests, origin-relative.
type runningSample struct {
	at time.Duration
	n  float64
}

// NoteRunning records the server's running requests at t (origin-relative), for the steady-state
// check. Runners call it wherever they sample the server's metrics.
func (a *Aggregator) NoteRunning(t time.Duration, running float64) {
	a.mu.Lock()
	a.running = append(a.running, runningSample{t, running})
	a.mu.Unlock()
}

// Steady-state thresholds: a half must hold this many sends to be judged; throughput halves
// must differ by more than 10% (and significantly), TTFT medians and running requests grow by
// more than 1.5x.
const (
	steadyMinSends   = 10
	steadyThroughput = 0.10
	steadyGrowth     = 1.5
)

// steadyState compares the halves of the send window [warmup, end] of an open (closed = false)
// or closed loop: the completion rate, the
// median TTFT of the requests sent in each half, and the server's mean running requests. A point
// whose queue keeps growing has a second half worse than its first, and its averages describe a
// transient that a longer window would change. Each test must be decided at the level: the
// throughput halves by stats.CompareEstimates on their rate intervals, the TTFT medians by
// the Mann–Whitney test; running requests (a few samples a half, strongly autocorrelated) must
// grow by at least one request as well as 1.5x. In an open loop the halves' throughputs are
// judged against their sends, which Poisson arrivals make differ by themselves.
func (a *Aggregator) steadyState(end time.Duration, closed bool) *pointschema.SteadyState {
	start := a.warmup
	nan := Float(math.NaN())
	s := &pointschema.SteadyState{OK: true, ThroughputHalves: [2]Float{nan, nan}, MedianTTFTHalves: [2]Float{nan, nan},
		RunningHalves: [2]Float{nan, nan}}
	if end <= start {
		s.Detail = "too few requests to check"
		return s
	}
	mid := start + (end-start)/2
	half := (mid - start).Seconds()
	// which is 0 or 1 for a time in the first or second half, -1 outside [start, end].
	which := func(t time.Duration) int {
		switch {
		case t < start || t > end:
			return -1
		case t < mid:
			return 0
		}
		return 1
	}
	var sends [2]int
	for _, t := range a.sends {
		if h := which(t); h >= 0 {
			sends[h]++
		}
	}
	var done [2][]float64 // completion times, s from the half's start
	for _, d := range a.departures {
		if h := which(d.at); h >= 0 {
			done[h] = append(done[h], (d.at - start - time.Duration(h)*(mid-start)).Seconds())
		}
	}
	var rate [2]float64
	var rateCI [2]stats.Interval
	for h := range 2 {
		rate[h], rateCI[h] = stats.RateInterval(done[h], nil, half, a.level)
		s.ThroughputHalves[h] = Float(rate[h])
	}
	var ttft [2][]float64
	for i, t := range a.okAt {
		if h := which(t); h >= 0 {
			ttft[h] = append(ttft[h], a.ttft[i])
		}
	}
	for h := range 2 {
		if len(ttft[h]) > 0 {
			sorted := append([]float64(nil), ttft[h]...)
			sort.Float64s(sorted)
			s.MedianTTFTHalves[h] = Float(stats.Quantile(sorted, 0.5))
		}
	}
	var runSum, runN [2]float64
	for _, r := range a.running {
		if h := which(r.at); h >= 0 {
			runSum[h] += r.n
			runN[h]++
		}
	}
	for h := range 2 {
		if runN[h] > 0 {
			s.RunningHalves[h] = Float(runSum[h] / runN[h])
		}
	}
	if sends[0] < steadyMinSends || sends[1] < steadyMinSends {
		s.Detail = "too few requests to check"
		return s
	}

	var drift []string
	alpha := 1 - a.level
	c := stats.CompareEstimates(rate[0], rateCI[0], rate[1], rateCI[1], a.level)
	changed := c.Significant(a.level) && math.Abs(rate[1]-rate[0]) > steadyThroughput*rate[0]
	if changed && !closed {
		// Open loop: a half that was sent more completes more; only a change in the fraction
		// delivered is drift.
		f0, f1 := rate[0]/float64(sends[0]), rate[1]/float64(sends[1])
		changed = math.Abs(f1-f0) > steadyThroughput*f0
	}
	if changed {
		drift = append(drift, fmt.Sprintf("throughput %s from %s to %s req/s (%s)",
			moved(rate[1]-rate[0]), num(rate[0]), num(rate[1]), pValue(c.PValue)))
	}
	if len(ttft[0]) >= steadyMinSends && len(ttft[1]) >= steadyMinSends {
		m0, m1 := float64(s.MedianTTFTHalves[0]), float64(s.MedianTTFTHalves[1])
		if _, p := stats.MannWhitney(ttft[0], ttft[1]); m1 > steadyGrowth*m0 && p < alpha {
			drift = append(drift, fmt.Sprintf("median TTFT rose from %s to %s ms (%s): the queue kept growing",
				num(m0), num(m1), pValue(p)))
		}
	}
	if r0, r1 := float64(s.RunningHalves[0]), float64(s.RunningHalves[1]); r1 > steadyGrowth*r0 && r1-r0 >= 1 {
		drift = append(drift, fmt.Sprintf("running requests rose from %s to %s", num(r0), num(r1)))
	}
	if len(drift) > 0 {
		s.OK = false
		s.Detail = "second half vs first: " + strings.Join(drift, "; ")
	}
	return s
}

func moved(d float64) string {
	if d < 0 {
		return "fell"
	}
	return "rose"
}

// num formats a figure for a sentence: whole numbers from 100 up, three significant digits below.
func num(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func pValue(p float64) string {
	if p < 0.001 {
		return "p < 0.001"
	}
	return fmt.Sprintf("p = %.2g", p)
}
