package analysis

import (
	"fmt"
	"math"

	"starlab/stats"
)

// ComparedPoint is one side of a comparison: a point, the repeats it averages, and its requests
// when the sweep's requests file has them.
type ComparedPoint struct {
	// Label names the point in messages, e.g. `sweep "a" point 1 (rate 6)`.
	Label   string
	Point   LoadPoint
	Repeats []LoadPoint
	// Samples are the point's requests; nil when unavailable, NoSamples then says why ("" when
	// the point never had any: a table typed into the plan).
	Samples   *Samples
	NoSamples string
}

// Comparison is compare()'s result: B against A on one metric (stats.Comparison), at the run's
// level, with a power hint.
type Comparison struct {
	stats.Comparison
	Metric string
	// At is the load both points were picked at (NaN when each side was a single point).
	At    float64
	Level float64
	// Resolve is the relative difference the power hint is for: the one asked for, or the
	// observed |ratio − 1|.
	Resolve float64
	// Requests is how many requests stand behind each side (NaN when unknown: a typed-in point
	// without "completed").
	Requests [2]float64
	// RequestsNeeded is about how many more requests per side would make the ratio's interval
	// exclude 1 for a difference of Resolve: 0 when it already does, NaN when it cannot be said.
	RequestsNeeded float64
}

// Compare compares metric between two points, choosing the strongest method the data allows:
//   - a latency statistic ({mean,median,p90,p99}_{ttft,tpot,e2el}_ms) of two points with their
//     requests: stats.CompareSamples (bootstrap over requests, seeded with seed);
//   - otherwise two points with >= 2 repeats each: stats.CompareReplicates (Welch across repeats);
//   - otherwise the points' own intervals (ci): stats.CompareEstimates.
//
// The power hint: intervals narrow as 1/√n. With n requests per side and the ratio's interval of
// relative half-width w = hw/ratio, a ratio ρ = 1 ± d (d = resolve, on the observed side of 1; or
// the observed ratio itself when resolve is NaN) has an interval of half-width ≈ w·ρ, which
// excludes 1 from n·(w·ρ/d)² requests per side — n·(hw/|ratio − 1|)² for the observed ratio.
// RequestsNeeded is what that adds to n.
func Compare(a, b ComparedPoint, metric string, level float64, seed uint64, resolve float64) (Comparison, error) {
	va, ok := a.Point.Field(metric)
	if !ok {
		return Comparison{}, fmt.Errorf("%s has no field %q", a.Label, metric)
	}
	vb, ok := b.Point.Field(metric)
	if !ok {
		return Comparison{}, fmt.Errorf("%s has no field %q", b.Label, metric)
	}
	out := Comparison{Metric: metric, At: math.NaN(), Level: level}
	stat, family, latency := LatencyMetric(metric)
	var why string // why per-request samples were not used, for a latency metric
	switch {
	case !latency:
	case a.Samples == nil || b.Samples == nil:
		why = firstNonEmpty(a.NoSamples, b.NoSamples, "the points carry no per-request samples")
	case len(a.Samples.Of(family)) < 2 || len(b.Samples.Of(family)) < 2:
		why = fmt.Sprintf("too few requests with a %s (%d and %d)", family, len(a.Samples.Of(family)), len(b.Samples.Of(family)))
	default:
		sa, sb := a.Samples.Of(family), b.Samples.Of(family)
		out.Comparison = stats.CompareSamples(sa, sb, stat, level, seed)
		out.Requests = [2]float64{float64(len(sa)), float64(len(sb))}
		return out.withHint(resolve), nil
	}
	ra, rb := repeatValues(a.Repeats, metric), repeatValues(b.Repeats, metric)
	if len(ra) >= 2 && len(rb) >= 2 {
		out.Comparison = stats.CompareReplicates(ra, rb, level)
		out.Method = fmt.Sprintf("%s (%d and %d repeats)", out.Method, len(ra), len(rb))
		out.Requests = [2]float64{requestsBehind(a), requestsBehind(b)}
	} else {
		cia, _ := a.Point.Interval(metric)
		cib, _ := b.Point.Interval(metric)
		out.Comparison = stats.CompareEstimates(va, cia, vb, cib, level)
		out.Requests = [2]float64{requestsBehind(a), requestsBehind(b)}
		out.NA, out.NB = intOr0(out.Requests[0]), intOr0(out.Requests[1])
	}
	if why != "" {
		out.Method += "; no per-request samples: " + why
	}
	return out.withHint(resolve), nil
}

func (c Comparison) withHint(resolve float64) Comparison {
	c.RequestsNeeded = math.NaN()
	target := c.Ratio // the ratio whose interval must exclude 1
	if math.IsNaN(resolve) {
		resolve = math.Abs(c.Ratio - 1)
	} else if c.Ratio < 1 {
		target = 1 - resolve
	} else {
		target = 1 + resolve
	}
	c.Resolve = resolve
	n := (c.Requests[0] + c.Requests[1]) / 2
	rel := c.RatioCI.HalfWidth() / c.Ratio // relative precision: it carries over to other ratios
	more := stats.MoreData(rel*target, target-1)
	if n > 0 && c.Ratio > 0 && !math.IsNaN(more) && !math.IsInf(more, 0) {
		c.RequestsNeeded = math.Max(0, math.Ceil(n*more-n))
	}
	return c
}

// repeatValues is the metric of every repeat that has it.
func repeatValues(repeats []LoadPoint, metric string) []float64 {
	var out []float64
	for _, p := range repeats {
		if v, ok := p.Field(metric); ok && !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// requestsBehind counts the completed requests of a point (of all its repeats when it has
// them); NaN when the point does not say.
func requestsBehind(p ComparedPoint) float64 {
	if len(p.Repeats) > 0 {
		var n float64
		for _, r := range p.Repeats {
			c, ok := r.Field("completed")
			if !ok {
				return math.NaN()
			}
			n += c
		}
		return n
	}
	if c, ok := p.Point.Field("completed"); ok {
		return c
	}
	return math.NaN()
}

func intOr0(x float64) int {
	if math.IsNaN(x) {
		return 0
	}
	return int(x)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
