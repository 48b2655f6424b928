package sweep

import (
	"math"
	"slices"
	"sort"
	"time"

	"starlab/stats"
)

// setIntervals sets the level of the point's intervals and the seed of its bootstrap.
func (a *Aggregator) setIntervals(level float64, seed uint64) {
	a.mu.Lock()
	a.level, a.seed = level, seed
	a.mu.Unlock()
}

// intervals fills Confidence, CI and Delivered once the figures are computed (Finalize holds the
// lock). end is the measured window's end. Methods, as the README's metric table states them:
//
//   - request_throughput, output_throughput, total_token_throughput, request_goodput: the
//     events inside the window (completions; generated tokens as weighted events at their
//     10 ms slot's end) by stats.RateInterval: batch means over 10 sub-windows, an exact
//     Poisson interval below 30 events.
//   - {mean,median,p90,p99}_{ttft,tpot,e2el}_ms: stats.Bootstrap.Summary over the requests in
//     send order (a moving-block bootstrap, as neighbours share a queue, widened by sectioning
//     where a stretch of load moves them all), seeded from the sweep seed, key and point.
//   - delivered (tokens generated in the window / (sends in it × the mean output per completed
//     request)): stats.BacklogInterval, from the requests in flight sampled over the window. What
//     was sent and not delivered is still in flight, so the noise of the backlog around its
//     trend is the noise of the fraction: small for a server that keeps up and for a saturated
//     one (whose backlog grows along a line), large near the knee.
//
// ITL and the std figures get none: ITL pools gaps of many requests in a histogram (no request
// order to resample, and its gaps are far from independent), and a spread's interval decides
// nothing a verdict rests on. An interval always holds its figure (a bootstrap's percentiles
// can miss it by a hair).
func (a *Aggregator) intervals(p *Point, end time.Duration) {
	level := a.level
	p.Confidence = Float(level)
	p.CI = map[string][2]Float{}
	p.Delivered = Float(math.NaN())
	put := func(field string, value Float, ci stats.Interval) {
		v := float64(value)
		if ci.Unknown() || math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		p.CI[field] = [2]Float{Float(math.Min(ci.Lo, v)), Float(math.Max(ci.Hi, v))}
	}

	window := (end - a.warmup).Seconds()
	sec := func(t time.Duration) float64 { return (t - a.warmup).Seconds() }
	// Completions inside the window, with their input tokens and whether they met the SLO.
	var done, doneIn, good []float64
	for _, d := range a.departures {
		if d.at <= end {
			done = append(done, sec(d.at))
			doneIn = append(doneIn, float64(d.in))
			if d.good {
				good = append(good, sec(d.at))
			}
		}
	}
	tokAt, tokN := a.tokenEvents(end)
	if window > 0 {
		_, ci := stats.RateInterval(done, nil, window, level)
		put("request_throughput", p.RequestThroughput, ci)
		_, ci = stats.RateInterval(tokAt, tokN, window, level)
		put("output_throughput", p.OutputThroughput, ci)
		_, ci = stats.RateInterval(append(append([]float64{}, done...), tokAt...),
			append(append([]float64{}, doneIn...), tokN...), window, level)
		put("total_token_throughput", p.TotalTokenThroughput, ci)
		if len(a.slo) > 0 {
			_, ci = stats.RateInterval(good, nil, window, level)
			put("request_goodput", p.RequestGoodput, ci)
		}
	}

	for i, m := range []struct {
		name    string
		v       []float64
		at      []time.Duration
		figures [4]*Float // mean, median, p90, p99: stats.Stats' order
	}{
		{"ttft", a.ttft, a.okAt, [4]*Float{&p.MeanTTFTMs, &p.MedianTTFTMs, &p.P90TTFTMs, &p.P99TTFTMs}},
		{"tpot", a.tpot, a.tpotAt, [4]*Float{&p.MeanTPOTMs, &p.MedianTPOTMs, &p.P90TPOTMs, &p.P99TPOTMs}},
		{"e2el", a.e2el, a.okAt, [4]*Float{&p.MeanE2ELMs, &p.MedianE2ELMs, &p.P90E2ELMs, &p.P99E2ELMs}},
	} {
		b := stats.Bootstrap{Level: level, Seed: splitmix(a.seed + uint64(i))}
		sum := b.Summary(inSendOrder(m.v, m.at))
		for j, s := range stats.Stats {
			put(string(s)+"_"+m.name+"_ms", *m.figures[j], sum[s])
		}
	}

	if math.IsInf(float64(p.RequestRate), 1) || !(window > 0) {
		p.Delivered = Float(math.NaN()) // a closed loop offers no load to deliver
		return
	}
	var sent []float64
	for _, t := range a.sends {
		if t >= a.warmup && t <= end {
			sent = append(sent, sec(t))
		}
	}
	if len(sent) == 0 {
		return
	}
	var f float64
	if a.completed > 0 && a.outTok > 0 {
		perRequest := float64(a.outTok) / float64(a.completed)
		f = a.generatedUntil(end) / (float64(len(sent)) * perRequest)
	} else { // no token counts: requests
		f = float64(len(done)) / float64(len(sent))
	}
	p.Delivered = Float(f)
	ci := stats.BacklogInterval(f, float64(len(sent)), a.inFlight(end, backlogSamples), level)
	ci.Lo = math.Max(0, ci.Lo) // nothing delivered is the least
	put("delivered", p.Delivered, ci)
}

// backlogSamples is how many times the delivered interval reads the requests in flight.
const backlogSamples = 101

// inFlight counts the requests in flight (intended send <= t < finish) at k evenly spaced times
// from warmup to end, both included.
func (a *Aggregator) inFlight(end time.Duration, k int) []float64 {
	from := make([]time.Duration, len(a.flight))
	to := make([]time.Duration, len(a.flight))
	for i, s := range a.flight {
		from[i], to[i] = s.from, s.to
	}
	slices.Sort(from)
	slices.Sort(to)
	out := make([]float64, k)
	var started, finished int
	for i := range k {
		t := a.warmup + time.Duration(float64(end-a.warmup)*float64(i)/float64(k-1))
		for started < len(from) && from[started] <= t {
			started++
		}
		for finished < len(to) && to[finished] <= t {
			finished++
		}
		out[i] = float64(started - finished)
	}
	return out
}

// tokenEvents are the generated-token slots inside the window that hold tokens: each slot's
// end (s after warmup) and its tokens. Their sum is generatedUntil(end).
func (a *Aggregator) tokenEvents(end time.Duration) (at, n []float64) {
	last := int((end - a.warmup) / tokenBucket)
	for i := 0; i <= last && i < len(a.generated); i++ {
		if a.generated[i] > 0 {
			at = append(at, (time.Duration(i) * tokenBucket).Seconds())
			n = append(n, a.generated[i])
		}
	}
	return at, n
}

// inSendOrder returns v ordered by the intended send times at (ties keep the order requests
// finished in, which a virtual run replays exactly).
func inSendOrder(v []float64, at []time.Duration) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return at[idx[i]] < at[idx[j]] })
	out := make([]float64, len(v))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}
