package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

func notFound(method, detail string) KneeEvidence {
	return KneeEvidence{Method: method, Rate: math.NaN(), Bracket: [2]float64{math.NaN(), math.NaN()}, Detail: detail}
}

func between(method string, c curve, i int, detail string) KneeEvidence {
	return KneeEvidence{Method: method, Found: true, Rate: c.x[i-1], Bracket: [2]float64{c.x[i-1], c.x[i]}, Detail: detail}
}

// kneeOffered: the knee lies between the highest load decidedly not saturated and the lowest
// decidedly saturated (SaturationOf: delivered under OfferedFraction of the load sent, at the
// run's confidence; decided on the value alone for a row without an interval). Meaningful only
// when x is the offered rate. Inconclusive loads between the two widen the bracket and are named
// in the detail; a lowest load that is inconclusive is not "already saturated": cannot tell yet.
func kneeOffered(c curve, o KneeOptions) KneeEvidence {
	if o.X != "request_rate" {
		return notFound(MethodOffered, fmt.Sprintf("applies only when x is the offered request_rate, not %s", o.X))
	}
	n := len(c.x)
	u, s := verdictBracket(c)
	all := [2]float64{math.Inf(-1), math.Inf(1)}
	if s < 0 {
		if notes := inconclusiveNotes(c, all); notes != "" {
			return notFound(MethodOffered, fmt.Sprintf("no rate up to %s decidedly saturated; %s", num(c.x[n-1]), notes))
		}
		return notFound(MethodOffered, fmt.Sprintf("achieved ≥ %s%% of offered at every rate up to %s", num(100*o.OfferedFraction), num(c.x[n-1])))
	}
	if s == 0 {
		e := notFound(MethodOffered, "already saturated at the lowest rate "+num(c.x[0])+
			" (achieved "+num(c.y[0])+"): extend the sweep to lower rates")
		if !c.verdicts[0].ValueOnly {
			e.Detail += " (" + c.verdicts[0].Reason + ")"
		}
		e.belowRange = true
		return e
	}
	if u < 0 {
		e := notFound(MethodOffered, fmt.Sprintf("cannot tell yet: rate %s is saturated, but no lower rate is decidedly not: %s",
			num(c.x[s]), inconclusiveNotes(c, [2]float64{c.x[0], c.x[s]})))
		e.undecided = true
		return e
	}
	detail := fmt.Sprintf("at rate %s achieved %s (%s) < %s%%; at %s achieved %s", num(c.x[s]), num(c.y[s]),
		offeredShare(c, s, o.Level), num(100*o.OfferedFraction), num(c.x[u]), num(c.y[u]))
	if notes := inconclusiveNotes(c, [2]float64{c.x[u], c.x[s]}); notes != "" {
		detail += "; " + notes
	}
	return KneeEvidence{Method: MethodOffered, Found: true, Rate: c.x[u], Bracket: [2]float64{c.x[u], c.x[s]}, Detail: detail}
}

// offeredShare is "61.2% of the 20 offered", with the interval when the verdict has one.
func offeredShare(c curve, i int, level float64) string {
	v := c.verdicts[i]
	pct := func(f float64) string { return num(math.Round(1000*f)/10) + "%" }
	out := fmt.Sprintf("%s of the %s offered", pct(v.Delivered), num(c.sent[i]))
	if !v.DeliveredCI.Unknown() {
		out += fmt.Sprintf(", [%s, %s] at %s%%", pct(v.DeliveredCI.Lo), pct(v.DeliveredCI.Hi), num(100*level))
	}
	return out
}

// kneeLatency: the first load whose latency exceeds LatencyFactor times its
// value at the lowest load.
func kneeLatency(c curve, o KneeOptions) KneeEvidence {
	if c.lat == nil {
		return notFound(MethodLatency, "no latency field given")
	}
	base := c.lat[0]
	if base <= 0 {
		return notFound(MethodLatency, fmt.Sprintf("%s at the lowest load is %s: no baseline", o.Latency, num(base)))
	}
	for i := 1; i < len(c.x); i++ {
		if c.lat[i] > o.LatencyFactor*base {
			return between(MethodLatency, c, i, fmt.Sprintf("%s %s at %s is %s× its %s at %s",
				o.Latency, num(c.lat[i]), num(c.x[i]), num(c.lat[i]/base), num(base), num(c.x[0])))
		}
	}
	n := len(c.x) - 1
	return notFound(MethodLatency, fmt.Sprintf("%s stays within %s× its low-load %s (%s at %s)",
		o.Latency, num(o.LatencyFactor), num(base), num(c.lat[n]), num(c.x[n])))
}

// anchored prepends the origin: at zero load a server completes nothing. The
// anchor gives the rising segment a second point when a sweep has only one
// load below the knee (seed 003).
func anchored(c curve) (xs, ys []float64) {
	if c.x[0] <= 0 {
		return c.x, c.y
	}
	return append([]float64{0}, c.x...), append([]float64{0}, c.y...)
}

// hingeFit fits y = a + b·x + d·max(0, x−h) by least squares for a given
// hinge h and returns the coefficients and the residual sum of squares.
func hingeFit(xs, ys []float64, h float64) (a, b, d, sse float64, ok bool) {
	A := mat.NewDense(len(xs), 3, nil)
	for i, x := range xs {
		A.Set(i, 0, 1)
		A.Set(i, 1, x)
		A.Set(i, 2, math.Max(0, x-h))
	}
	var beta mat.VecDense
	if err := beta.SolveVec(A, mat.NewVecDense(len(ys), append([]float64(nil), ys...))); err != nil {
		return 0, 0, 0, 0, false
	}
	a, b, d = beta.AtVec(0), beta.AtVec(1), beta.AtVec(2)
	for i, x := range xs {
		r := ys[i] - (a + b*x + d*math.Max(0, x-h))
		sse += r * r
	}
	return a, b, d, sse, true
}

// kneeSegments fits a continuous two-segment line to throughput vs load
// (origin anchored) by scanning the hinge over a fine grid that leaves at
// least two points on each side, and calls it saturated when the second
// slope is at most SlopeRatio of the first.
func kneeSegments(c curve, o KneeOptions) KneeEvidence {
	xs, ys := anchored(c)
	m := len(xs)
	if m < 4 {
		return notFound(MethodSegments, "needs at least 4 points including the origin")
	}
	lo, hi := xs[1], xs[m-2]
	const steps = 400
	best := struct{ h, b, d, sse float64 }{sse: math.Inf(1)}
	for s := 0; s <= steps; s++ {
		h := lo + (hi-lo)*float64(s)/steps
		if _, b, d, sse, ok := hingeFit(xs, ys, h); ok && sse < best.sse {
			best.h, best.b, best.d, best.sse = h, b, d, sse
		}
	}
	if math.IsInf(best.sse, 1) {
		return notFound(MethodSegments, "least squares failed")
	}
	before, after := best.b, best.b+best.d
	detail := fmt.Sprintf("hinge at %s: slope %s before, %s after", num(best.h), num(before), num(after))
	if before <= 0 {
		return notFound(MethodSegments, detail+": throughput does not rise with load")
	}
	if after > o.SlopeRatio*before {
		return notFound(MethodSegments, detail+fmt.Sprintf(": second slope above %s× the first", num(o.SlopeRatio)))
	}
	// i: first measured load beyond the hinge.
	i := 0
	for i < len(c.x) && c.x[i] <= best.h {
		i++
	}
	if i == 0 {
		e := notFound(MethodSegments, detail+": already saturated at the lowest load "+num(c.x[0]))
		e.belowRange = true
		return e
	}
	if i == len(c.x) {
		return notFound(MethodSegments, detail+": hinge at the highest load")
	}
	return between(MethodSegments, c, i, detail)
}

// kneeKneedle is Kneedle (Satopää et al. 2011) without its curve flipping:
// x and y are normalised to [0, 1] (origin anchored) and the knee is the
// point farthest above the chord from the first to the last point. Distance
// is computed on the actual normalised x, so unevenly spaced loads are not
// distorted (kneed reverses y for concave curves, which is only correct on
// an even grid).
func kneeKneedle(c curve, o KneeOptions) KneeEvidence {
	xs, ys := anchored(c)
	m := len(xs)
	x0, x1 := xs[0], xs[m-1]
	y0, y1 := minOf(ys), maxOf(ys)
	if x1 == x0 || y1 == y0 {
		return notFound(MethodKneedle, "flat curve")
	}
	nx := func(i int) float64 { return (xs[i] - x0) / (x1 - x0) }
	ny := func(i int) float64 { return (ys[i] - y0) / (y1 - y0) }
	ax, ay, bx, by := nx(0), ny(0), nx(m-1), ny(m-1)
	length := math.Hypot(bx-ax, by-ay)
	bestI, bestD := -1, 0.0
	for i := 1; i < m-1; i++ {
		// Signed distance, positive above the chord (a concave bend).
		d := ((bx-ax)*(ny(i)-ay) - (by-ay)*(nx(i)-ax)) / length
		if d > bestD {
			bestI, bestD = i, d
		}
	}
	if bestI < 0 || bestD < o.KneedleMinDistance {
		return notFound(MethodKneedle, fmt.Sprintf("largest distance above the chord %s < %s", num(bestD), num(o.KneedleMinDistance)))
	}
	detail := fmt.Sprintf("knee point at %s, distance %s above the chord", num(xs[bestI]), num(bestD))
	if xs[bestI] == 0 {
		return notFound(MethodKneedle, detail+": at the origin")
	}
	// The bend lies between the knee point's neighbours.
	return KneeEvidence{Method: MethodKneedle, Found: true, Rate: xs[bestI],
		Bracket: [2]float64{xs[bestI-1], xs[bestI+1]}, Detail: detail}
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}
