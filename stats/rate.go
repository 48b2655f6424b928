package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Batches is the number of equal sub-windows a rate interval splits its window into: enough
// degrees of freedom for a t interval (2.26 × se at 95 % instead of 1.96), few enough that each
// batch holds several events.
const Batches = 10

// minBatchEvents is the fewest events for which batch means are used; below it the count is
// treated as Poisson.
const minBatchEvents = 3 * Batches

// RateInterval bounds the long-run rate of events (completions, tokens) from their times t (s
// from the window's start, inside [0, window]) and weights w (nil: 1 each). With enough events it
// uses batch means: the window is cut into Batches sub-windows and the per-batch rates, nearly
// independent, give a Student t interval — right for Poisson arrivals, for regular ones, and for
// the convoys of a saturated server. With few events it falls back to an exact Poisson interval on
// the count (PoissonInterval). It returns the rate (sum of weights / window) and the interval.
func RateInterval(t, w []float64, window, level float64) (rate float64, ci Interval) {
	if !(window > 0) {
		return math.NaN(), NoInterval
	}
	total := 0.0
	for i := range t {
		total += weight(w, i)
	}
	rate = total / window
	if len(t) < minBatchEvents {
		if w != nil && len(t) > 0 {
			// Weighted events (tokens of requests): bound the event count, scale by the mean weight.
			per := total / float64(len(t))
			ci = PoissonInterval(len(t), window, level).Scale(per)
			return rate, ci
		}
		return rate, PoissonInterval(len(t), window, level)
	}
	sums := BatchSums(t, w, window, Batches)
	width := window / Batches
	rates := make([]float64, len(sums))
	for i, s := range sums {
		rates[i] = s / width
	}
	_, sd := MeanSD(rates)
	h := T(level, Batches-1) * sd / math.Sqrt(Batches)
	return rate, Interval{math.Max(0, rate-h), rate + h}
}

// BatchSums adds weights (nil: 1 each) into k equal sub-windows of [0, window]; an event exactly
// on the end falls in the last one, events outside the window are ignored.
func BatchSums(t, w []float64, window float64, k int) []float64 {
	sums := make([]float64, k)
	for i, x := range t {
		if x < 0 || x > window {
			continue
		}
		j := min(int(x/window*float64(k)), k-1)
		sums[j] += weight(w, i)
	}
	return sums
}

func weight(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

// PoissonInterval is Garwood's exact interval for a Poisson count n over window, as a rate. Its
// coverage is at least the level for every rate, which is what few events call for.
func PoissonInterval(n int, window, level float64) Interval {
	if !(window > 0) || n < 0 {
		return NoInterval
	}
	alpha := 1 - level
	lo := 0.0
	if n > 0 {
		lo = distuv.ChiSquared{K: 2 * float64(n)}.Quantile(alpha/2) / 2
	}
	hi := distuv.ChiSquared{K: 2*float64(n) + 2}.Quantile(1-alpha/2) / 2
	return Interval{lo / window, hi / window}
}

// RatioInterval bounds Σnum / Σden — the fraction of the load sent that a server delivered,
// from per-batch sums (completions and sends in each sub-window) — given the denominators: the
// question is whether the server kept up with the load it was actually sent, not what load a
// Poisson client might have sent. The completions' noise is what the sends do not explain: the
// residuals of a least-squares line c = α + β·a over the batches. A server that keeps up completes
// what it is sent (β ≈ 1), a saturated one its capacity whatever it is sent (β ≈ 0); in both the
// residuals are small, where the plain ratio estimator would carry the sends' Poisson noise into
// the saturated case. The interval is Σnum/Σden ± t(k−2) · √(k·s²) / Σden, s² the residual
// variance. ok is false when the denominators sum to zero; fewer than 3 batches give no interval.
func RatioInterval(num, den []float64, level float64) (ratio float64, ci Interval, ok bool) {
	var sn, sd float64
	for i := range num {
		sn += num[i]
		sd += den[i]
	}
	if !(sd > 0) {
		return math.NaN(), NoInterval, false
	}
	ratio = sn / sd
	k := float64(len(num))
	if k < 3 {
		return ratio, NoInterval, true
	}
	ma, mc := sd/k, sn/k
	var sxx, sxy float64
	for i := range num {
		sxx += (den[i] - ma) * (den[i] - ma)
		sxy += (den[i] - ma) * (num[i] - mc)
	}
	beta := 0.0
	if sxx > 0 {
		beta = sxy / sxx
	}
	var ss float64
	for i := range num {
		e := num[i] - (mc + beta*(den[i]-ma))
		ss += e * e
	}
	s2 := ss / (k - 2)
	h := T(level, k-2) * math.Sqrt(k*s2) / sd
	return ratio, Interval{ratio - h, ratio + h}, true
}

// RatioOf bounds a/b for independent estimates with intervals ai and bi (from their half-widths,
// as normal standard errors on the log scale: the delta method). NoInterval when either is
// unknown or not positive.
func RatioOf(a float64, ai Interval, b float64, bi Interval, level float64) Interval {
	if ai.Unknown() || bi.Unknown() || !(a > 0) || !(b > 0) {
		return NoInterval
	}
	z := Z(level)
	sa, sb := ai.HalfWidth()/z/a, bi.HalfWidth()/z/b
	h := z * math.Sqrt(sa*sa+sb*sb)
	r := a / b
	return Interval{r * math.Exp(-h), r * math.Exp(h)}
}

// BacklogInterval bounds a delivered fraction f = 1 − ΔB/sent, where ΔB is the growth of the
// requests in flight over the window and sent the requests sent in it, from the in-flight count
// sampled on an even grid over the window. A server that keeps up holds a stationary backlog: its
// ends differ by noise of variance 2·Var(B) (independent ends, the window being much longer than a
// request). A saturated one grows it along a line. So Var(B) is taken around the least-squares
// line through the samples: the backlog's noise without its trend, small in both regimes and
// large only near the knee, where the backlog wanders. The interval is f ± z·√(2·Var)/sent.
func BacklogInterval(f, sent float64, inflight []float64, level float64) Interval {
	n := float64(len(inflight))
	if !(sent > 0) || len(inflight) < 3 || math.IsNaN(f) {
		return NoInterval
	}
	var mt, mb float64
	for i, b := range inflight {
		mt += float64(i)
		mb += b
	}
	mt, mb = mt/n, mb/n
	var stt, stb float64
	for i, b := range inflight {
		stt += (float64(i) - mt) * (float64(i) - mt)
		stb += (float64(i) - mt) * (b - mb)
	}
	slope := stb / stt
	var ss float64
	for i, b := range inflight {
		e := b - (mb + slope*(float64(i)-mt))
		ss += e * e
	}
	h := Z(level) * math.Sqrt(2*ss/(n-2)) / sent
	return Interval{f - h, f + h}
}
