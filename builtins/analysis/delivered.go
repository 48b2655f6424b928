package analysis

import (
	"fmt"
	"math"

	"starlab/stats"
)

// SaturationThreshold: a point is saturated when its server delivered under this fraction of the
// load it was sent. Poisson arrivals and ramp-up lose a few percent even far from saturation (seed
// 003 achieves 9.11 of 10 req/s), so the line sits below 1.
const SaturationThreshold = 0.9

// Delivered is the fraction of the offered load a point's server delivered: 1 below saturation,
// less above it. See DeliveredInterval, which it is without the interval.
func Delivered(p LoadPoint) (fraction float64, ok bool) {
	f, _, ok := DeliveredInterval(p, stats.DefaultLevel)
	return f, ok
}

// DeliveredInterval is the fraction of the offered load a point's server delivered and its
// interval at level. A sweep point carries both (`delivered`, `ci.delivered`: tokens generated
// against the sends, sub-window by sub-window) and they are used as given when the point states
// its `confidence`. Otherwise the fraction
// is computed: in tokens when the point has them (output tokens generated per second against the
// rate actually sent times the tokens each request asked for), because token generation is smooth
// where completions come in convoys (a batch admitted together finishes together, so a short
// point's request count jumps by a batch); else in requests, request throughput against the rate
// sent. Its interval then comes from the completions counted in the window (completed and
// duration): their exact Poisson interval, as a relative width applied to the fraction. That
// ignores what the sends explain, so it is wider than the point's own: conservative. A row with
// neither counts nor ci (a published table) gets NoInterval. ok is false for closed loops and
// points without the fields.
func DeliveredInterval(p LoadPoint, level float64) (f float64, ci stats.Interval, ok bool) {
	offered, ok1 := p.Field("request_rate")
	if !ok1 || math.IsInf(offered, 0) || math.IsNaN(offered) || offered <= 0 {
		return math.NaN(), stats.NoInterval, false
	}
	if own, has := ownDelivered(p); has {
		if ci, has := p.Interval("delivered"); has {
			return own, ci, true
		}
		return own, countInterval(p, own, offered, level), true
	}
	if sent, has := p.Field(SentRateField); has && sent > 0 && !math.IsInf(sent, 0) {
		offered = sent
	}
	out, hasOut := p.Field("output_throughput")
	tokens, hasTok := p.Field("total_output_tokens")
	done, hasDone := p.Field("completed")
	if hasOut && hasTok && hasDone && done > 0 && tokens > 0 && !math.IsNaN(out) {
		f = out / (offered * tokens / done)
		return f, countInterval(p, f, offered, level), true
	}
	got, ok2 := p.Field("request_throughput")
	if !ok2 || math.IsNaN(got) {
		return math.NaN(), stats.NoInterval, false
	}
	f = got / offered
	return f, countInterval(p, f, offered, level), true
}

// ownDelivered is the point's own delivered fraction, trusted only from a point that states the
// confidence of its intervals: a point written before sweeps measured it (or built from the
// schema's zero value) carries a 0 there that is no measurement.
func ownDelivered(p LoadPoint) (float64, bool) {
	own, has := p.Field("delivered")
	level, stated := p.Field("confidence")
	if !has || !stated || !(level > 0) || math.IsNaN(own) || math.IsInf(own, 0) {
		return 0, false
	}
	return own, true
}

// countInterval bounds a delivered fraction f by the Poisson interval of the point's completions
// (completed over duration): its relative width applied to f. With no completion at all it is the
// Poisson bound on a rate of zero against the load sent. NoInterval without both counts.
func countInterval(p LoadPoint, f, offered, level float64) stats.Interval {
	done, ok1 := p.Field("completed")
	window, ok2 := p.Field("duration")
	if !ok1 || !ok2 || !(window > 0) || !(done >= 0) || math.IsInf(window, 0) || math.IsInf(done, 0) {
		return stats.NoInterval
	}
	n := int(math.Round(done))
	ci := stats.PoissonInterval(n, window, level)
	if n == 0 {
		return stats.Interval{Lo: 0, Hi: ci.Hi / offered}
	}
	rate := float64(n) / window
	return stats.Interval{Lo: f * ci.Lo / rate, Hi: f * ci.Hi / rate}
}

// SaturationOf is the one saturation rule, shared by delivered(), saturation(), find_knee's
// "offered" definition and amdahl's load-limited diagnosis: a point is saturated when its
// delivered fraction is decidedly under SaturationThreshold (the interval's top below it), not
// saturated when decidedly at or above it (the interval's bottom at or above it), inconclusive
// otherwise. A point its sweep stopped early is saturated: the stop rule fires only on clear
// overload. A row without an interval is decided on its value alone, and Reason says so. A
// point with no delivered fraction (closed loop, missing fields) is inconclusive.
func SaturationOf(p LoadPoint, level float64) PointVerdict {
	return saturationOfGroup([]LoadPoint{p}, level, SaturationThreshold)
}

// saturationOfGroup decides the points of one load together (a table may hold several rows of
// one rate): the mean fraction, with the mean of their intervals' ends, which is no narrower
// than the mean's own interval. Any point stopped early makes the load saturated.
func saturationOfGroup(points []LoadPoint, level, threshold float64) PointVerdict {
	if level == 0 {
		level = stats.DefaultLevel
	}
	v := PointVerdict{Load: math.NaN(), Delivered: math.NaN(), DeliveredCI: stats.NoInterval}
	if r, ok := points[0].Field("request_rate"); ok {
		v.Load = r
	}
	var sum, lo, hi, done float64
	n, withCI, withDone := 0, 0, 0
	stopped := false
	for _, p := range points {
		stopped = stopped || p.StoppedEarly
		f, ci, ok := DeliveredInterval(p, level)
		if !ok {
			continue
		}
		n++
		sum += f
		if !ci.Unknown() {
			withCI++
			lo += ci.Lo
			hi += ci.Hi
		}
		if c, ok := p.Field("completed"); ok && c > 0 {
			withDone++
			done += c
		}
	}
	if n > 0 {
		v.Delivered = sum / float64(n)
		if withCI == n {
			v.DeliveredCI = stats.Interval{Lo: lo / float64(n), Hi: hi / float64(n)}
		}
	}
	if !(withDone == n && n > 0) {
		done = math.NaN()
	}
	switch {
	case stopped:
		v.Verdict = Saturated
		v.Reason = "stopped early: the stop rule fires only on clear overload"
		if n > 0 {
			v.Reason = fmt.Sprintf("delivered %s; %s", fractionText(v.Delivered, v.DeliveredCI), v.Reason)
		}
	case n == 0:
		v.Verdict = SaturationUndecided
		v.Reason = "no delivered fraction: a closed loop, or no request_rate and throughput"
	default:
		decideSaturation(&v, done, level, threshold)
	}
	return v
}

// decideSaturation applies the threshold (SaturationThreshold, or find_knee's OfferedFraction) to
// v.Delivered and its interval. done is the completions behind it (NaN when unknown), for the advice of an
// inconclusive verdict.
func decideSaturation(v *PointVerdict, done, level, threshold float64) {
	f, ci := v.Delivered, v.DeliveredCI
	text := "delivered " + fractionText(f, ci)
	t := num(threshold)
	if ci.Unknown() {
		v.ValueOnly = true
		if f < threshold {
			v.Verdict = Saturated
			v.Reason = fmt.Sprintf("%s < %s; no interval: decided on the value alone", text, t)
		} else {
			v.Verdict = NotSaturated
			v.Reason = fmt.Sprintf("%s >= %s; no interval: decided on the value alone", text, t)
		}
		return
	}
	pct := num(100*level) + "%"
	switch {
	case ci.Hi < threshold:
		v.Verdict = Saturated
		v.Reason = fmt.Sprintf("%s < %s at %s", text, t, pct)
	case ci.Lo >= threshold:
		v.Verdict = NotSaturated
		v.Reason = fmt.Sprintf("%s >= %s at %s", text, t, pct)
	default:
		v.Verdict = SaturationUndecided
		// The side of the interval that crosses the threshold is what more data must shrink.
		hw, d := ci.Hi-f, threshold-f
		if f >= threshold {
			hw, d = f-ci.Lo, f-threshold
		}
		v.MoreData = stats.MoreData(hw, d)
		v.Reason = fmt.Sprintf("%s straddles %s at %s: cannot tell yet: %s", text, t, pct, moreAdvice(v.MoreData, done))
	}
}

// moreAdvice says how much more data would decide a verdict if the estimate stayed put: more
// requests when the point's completions are known, else a longer point.
func moreAdvice(factor, done float64) string {
	if math.IsInf(factor, 1) || math.IsNaN(factor) {
		return "the estimate sits on the threshold: more data alone may not decide it"
	}
	if !math.IsNaN(done) && done > 0 {
		more := math.Max(1, math.Ceil(done*(factor-1)))
		if more == 1 {
			return "run ~1 more request"
		}
		return fmt.Sprintf("run ~%s more requests", num(more))
	}
	return fmt.Sprintf("~%sx longer points needed", num(math.Ceil(factor*10)/10))
}

// fractionText is "0.88 [0.81, 0.95]", or the value alone without an interval.
func fractionText(f float64, ci stats.Interval) string {
	if ci.Unknown() {
		return num(round3(f))
	}
	return fmt.Sprintf("%s [%s, %s]", num(round3(f)), num(round3(ci.Lo)), num(round3(ci.Hi)))
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
