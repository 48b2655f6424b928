package analysis

import (
	"fmt"
	"math"
	"sort"

	"starlab/builtins/consistency"
	"starlab/stats"
)

// Knee method names, as reported in Knee.Method and KneeEvidence.Method.
const (
	MethodOffered  = "offered"  // achieved throughput first falls below a fraction of offered load
	MethodLatency  = "latency"  // latency first exceeds a multiple of its low-load value
	MethodSegments = "segments" // two-segment (hinge) least-squares fit of throughput vs load
	MethodKneedle  = "kneedle"  // Kneedle: largest distance above the chord, x and y normalised
)

// KneeOptions selects the fields and thresholds of FindKnee.
type KneeOptions struct {
	// X is the load field; "" means "request_rate". The offered-load
	// definition applies only when X is "request_rate".
	X string
	// Y is the throughput field; "" means "request_throughput".
	Y string
	// Latency is the latency field for the latency definition; "" skips
	// that definition. DefaultKneeOptions sets "median_ttft_ms".
	Latency string
	// OfferedFraction: saturated when the delivered fraction is decidedly under
	// OfferedFraction (SaturationOf). 0 means SaturationThreshold, the rule every
	// other saturation verdict uses.
	OfferedFraction float64
	// LatencyFactor: saturated when latency > LatencyFactor·(latency at the
	// lowest load). 0 means 3: queueing past the knee multiplies latency
	// (seed 003: 80× from 10 to 20 req/s) while batching below it adds tens
	// of percent (seed 000: 4× the GPUs changed TTFT by 25%).
	LatencyFactor float64
	// SlopeRatio: the two-segment fit is saturated when the slope after the
	// hinge is at most SlopeRatio × the slope before it. 0 means 0.25.
	SlopeRatio float64
	// KneedleMinDistance: smallest normalised distance above the chord that
	// counts as a knee. 0 means 0.1; a straight line gives 0.
	KneedleMinDistance float64
	// Level is the confidence of the saturation verdicts (SaturationOf) where an interval is
	// computed from counts. 0 means stats.DefaultLevel; find_knee passes the run's.
	Level float64
}

// DefaultKneeOptions mirrors find_knee's Starlark defaults.
func DefaultKneeOptions() KneeOptions {
	return KneeOptions{X: "request_rate", Y: "request_throughput", Latency: "median_ttft_ms"}.withDefaults()
}

func (o KneeOptions) withDefaults() KneeOptions {
	if o.X == "" {
		o.X = "request_rate"
	}
	if o.Y == "" {
		o.Y = "request_throughput"
	}
	if o.OfferedFraction == 0 {
		o.OfferedFraction = SaturationThreshold
	}
	if o.LatencyFactor == 0 {
		o.LatencyFactor = 3
	}
	if o.SlopeRatio == 0 {
		o.SlopeRatio = 0.25
	}
	if o.KneedleMinDistance == 0 {
		o.KneedleMinDistance = 0.1
	}
	if o.Level == 0 {
		o.Level = stats.DefaultLevel
	}
	return o
}

// KneeEvidence is one definition's answer, kept side by side with the others
// so a reader can see whether they agree.
type KneeEvidence struct {
	Method  string
	Found   bool
	Rate    float64    // highest load below saturation by this definition; NaN when not found
	Bracket [2]float64 // loads the knee lies between; NaN when not found
	Detail  string     // what the definition saw, or why it does not apply

	belowRange bool // saturated already at the lowest load
	undecided  bool // saturated somewhere, but no load below it decidedly not: cannot tell yet
}

// Knee is the saturation point of a sweep.
type Knee struct {
	Found bool
	// Rate is the highest measured load still below saturation.
	Rate float64
	// MaxThroughput is the plateau: the highest Y measured.
	MaxThroughput float64
	// Method is the chosen definition (Method* constants); "" when not found.
	Method string
	// Bracket is [lo, hi], the measured loads the knee lies between.
	Bracket [2]float64
	// Reason says why no knee was found, or notes disagreement when found.
	Reason string
	// Evidence holds every definition's answer, in the order offered,
	// latency, segments, kneedle.
	Evidence []KneeEvidence
	// X and Y are the fields used.
	X, Y string

	// Verdicts holds each distinct load's noise-aware saturation verdict, in ascending load.
	Verdicts []PointVerdict
	// RateCI is where the knee lies at Level: from the highest load decidedly not saturated to the
	// lowest decidedly saturated (inconclusive loads between them widen it). MaxThroughputCI is
	// the plateau's interval. NoInterval where the points carry none.
	RateCI, MaxThroughputCI stats.Interval
	Level                   float64
	// Checks are the consistency checks that failed on the points (Little's law, a
	// per-request throughput column, ...), so a table that cannot be what it claims is flagged.
	Checks []string
}

// Saturation verdicts of one load.
const (
	Saturated           = "saturated"
	NotSaturated        = "not saturated"
	SaturationUndecided = "inconclusive"
)

// PointVerdict is one load's saturation verdict and what it rests on.
type PointVerdict struct {
	Load    float64
	Verdict string // Saturated, NotSaturated or SaturationUndecided
	// Delivered is the fraction of the sent load delivered, and DeliveredCI its interval
	// (NoInterval for a row without counts: the verdict then rests on the value and Reason says so).
	Delivered   float64
	DeliveredCI stats.Interval
	// ValueOnly: the row carried no interval, so the verdict rests on the value alone.
	ValueOnly bool
	// MoreData is, for an inconclusive verdict, about how many times the data would decide it
	// (stats.MoreData); 0 otherwise.
	MoreData float64
	Reason   string
}

// Around returns n loads spread evenly across the bracket, ends included
// (n = 1 gives the midpoint), for a rerun near the knee. It returns nil
// when no knee was found or n < 1.
func (k Knee) Around(n int) []float64 {
	if !k.Found || n < 1 {
		return nil
	}
	lo, hi := k.Bracket[0], k.Bracket[1]
	if n == 1 {
		return []float64{(lo + hi) / 2}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return out
}

// curve is a sweep reduced to sorted, de-duplicated (x, y, latency) triples.
type curve struct {
	x, y, lat []float64 // lat is nil when no latency field is used
	// sent is the load actually offered at each x: the achieved send rate when the points have
	// one (a Poisson schedule of nominal rate 2 may send 1.6/s over a short window), else x.
	sent []float64
	// yci is each y's interval (the mean of its points' ends); NoInterval where one lacks it.
	yci []stats.Interval
	// verdicts is each load's saturation verdict (SaturationOf); nil unless x is request_rate.
	verdicts []PointVerdict
}

// SentRateField is where a sweep point records the rate it really sent at.
const SentRateField = "client.achieved_send_rate"

// FindKnee locates the load at which a server saturates. It evaluates four
// definitions (see the Method* constants) and chooses, in this order of
// trust: offered (direct, when X is the offered rate), segments, latency,
// kneedle. Fewer than 3 distinct loads, or no saturation in range, gives
// Found=false with a Reason rather than a guess. Points may come unsorted
// and unevenly spaced; equal loads are averaged. Errors are for input that
// cannot be analysed: missing fields, or a closed-loop (infinite) load.
func FindKnee(points []LoadPoint, opts KneeOptions) (Knee, error) {
	opts = opts.withDefaults()
	k := Knee{X: opts.X, Y: opts.Y, Rate: math.NaN(), Bracket: [2]float64{math.NaN(), math.NaN()},
		Level: opts.Level, RateCI: stats.NoInterval, MaxThroughputCI: stats.NoInterval}
	c, err := readCurve(points, opts)
	if err != nil {
		return k, err
	}
	k.Verdicts = c.verdicts
	var finding string
	k.Checks, finding = consistencyChecks(points)
	if len(c.y) > 0 {
		i := argmax(c.y)
		k.MaxThroughput, k.MaxThroughputCI = c.y[i], c.yci[i]
	}
	if u, s := verdictBracket(c); u >= 0 && s >= 0 && !c.verdicts[u].ValueOnly && !c.verdicts[s].ValueOnly {
		k.RateCI = stats.Interval{Lo: c.x[u], Hi: c.x[s]}
	}
	if len(c.x) < 3 {
		k.Reason = joinNotes(fmt.Sprintf("only %d distinct %s value(s): need at least 3 loads to locate a knee", len(c.x), opts.X), finding)
		return k, nil
	}
	k.Evidence = []KneeEvidence{
		kneeOffered(c, opts),
		kneeLatency(c, opts),
		kneeSegments(c, opts),
		kneeKneedle(c, opts),
	}
	// Offered load already unmet at the lowest rate (no knee in range), or unmet somewhere with
	// no load below it decidedly met: the other definitions would guess.
	if off := k.Evidence[0]; !off.belowRange && !off.undecided {
		for _, i := range []int{0, 2, 1, 3} { // offered, segments, latency, kneedle
			e := k.Evidence[i]
			// Kneedle finds a bend on any concave curve, even one still
			// rising; it decides only when the curve has stopped rising.
			if e.Found && (e.Method != MethodKneedle || !stillRising(c, opts)) {
				k.Found, k.Method, k.Rate, k.Bracket = true, e.Method, e.Rate, e.Bracket
				break
			}
		}
	}
	if k.Found {
		k.Reason = joinNotes(disagreement(k), inconclusiveNotes(c, k.Bracket), finding)
		return k, nil
	}
	k.Reason = joinNotes(notFoundReason(c, opts, k.Evidence), finding)
	return k, nil
}

// verdictBracket is where the verdicts put the knee: s the lowest load decidedly saturated, u the
// highest load below it decidedly not; -1 where there is none.
func verdictBracket(c curve) (u, s int) {
	u, s = -1, -1
	for i, v := range c.verdicts {
		if v.Verdict == Saturated {
			s = i
			break
		}
	}
	for i := s - 1; i >= 0; i-- {
		if c.verdicts[i].Verdict == NotSaturated {
			u = i
			break
		}
	}
	return u, s
}

// inconclusiveNotes names the inconclusive loads inside [lo, hi] (all of them when the bounds are
// NaN) with their delivered fraction and what would decide them.
func inconclusiveNotes(c curve, bounds [2]float64) string {
	var notes []string
	for i, v := range c.verdicts {
		if v.Verdict != SaturationUndecided || c.x[i] < bounds[0] || c.x[i] > bounds[1] {
			continue
		}
		notes = append(notes, fmt.Sprintf("rate %s inconclusive: %s", num(c.x[i]), v.Reason))
	}
	return joinNotes(notes...)
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var out string
	for _, n := range notes {
		if n == "" {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += n
	}
	return out
}

func readCurve(points []LoadPoint, opts KneeOptions) (curve, error) {
	xs, err := column("result", points, opts.X)
	if err != nil {
		return curve{}, err
	}
	ys, err := column("result", points, opts.Y)
	if err != nil {
		return curve{}, err
	}
	var lats []float64
	if opts.Latency != "" {
		if lats, err = column("result", points, opts.Latency); err != nil {
			return curve{}, err
		}
	}
	for i, x := range xs {
		if math.IsInf(x, 0) {
			return curve{}, fmt.Errorf("point %d: %s is %v (closed loop): choose another x, e.g. x=\"max_concurrency\"", i, opts.X, x)
		}
	}
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	var c curve
	for start := 0; start < len(idx); {
		end := start
		var sy, sl, ss, lo, hi float64
		withCI := 0
		var group []LoadPoint
		for end < len(idx) && xs[idx[end]] == xs[idx[start]] {
			i := idx[end]
			p := points[i]
			group = append(group, p)
			sy += ys[i]
			sent := xs[i]
			if v, ok := p.Field(SentRateField); ok && v > 0 && !math.IsInf(v, 0) {
				sent = v
			}
			ss += sent
			if ci, ok := p.Interval(opts.Y); ok {
				withCI++
				lo += ci.Lo
				hi += ci.Hi
			}
			if lats != nil {
				sl += lats[i]
			}
			end++
		}
		cnt := float64(end - start)
		c.x = append(c.x, xs[idx[start]])
		c.y = append(c.y, sy/cnt)
		c.sent = append(c.sent, ss/cnt)
		yci := stats.NoInterval
		if withCI == end-start {
			yci = stats.Interval{Lo: lo / cnt, Hi: hi / cnt}
		}
		c.yci = append(c.yci, yci)
		if lats != nil {
			c.lat = append(c.lat, sl/cnt)
		}
		if opts.X == "request_rate" {
			v := saturationOfGroup(group, opts.Level, opts.OfferedFraction)
			if math.IsNaN(v.Delivered) && v.Verdict != Saturated {
				// No delivered fraction from the points' fields: y against the load sent.
				v.Delivered = c.y[len(c.y)-1] / c.sent[len(c.sent)-1]
				decideSaturation(&v, math.NaN(), opts.Level, opts.OfferedFraction)
			}
			c.verdicts = append(c.verdicts, v)
		}
		start = end
	}
	return c, nil
}

// disagreement notes definitions that found a knee outside the chosen
// bracket, so a reader does not trust one number blindly.
func disagreement(k Knee) string {
	var out string
	for _, e := range k.Evidence {
		if !e.Found || e.Method == k.Method {
			continue
		}
		if e.Bracket[1] < k.Bracket[0] || e.Bracket[0] > k.Bracket[1] {
			if out != "" {
				out += "; "
			}
			out += fmt.Sprintf("%s puts the knee in [%s, %s]", e.Method, num(e.Bracket[0]), num(e.Bracket[1]))
		}
	}
	return out
}

func notFoundReason(c curve, opts KneeOptions, ev []KneeEvidence) string {
	label := opts.X
	if opts.X == "request_rate" {
		label = "rate"
	}
	n := len(c.x)
	for _, e := range ev {
		if e.belowRange || e.undecided {
			return e.Detail
		}
	}
	// Loads no verdict could decide are what a rerun should lengthen.
	notes := inconclusiveNotes(c, [2]float64{math.Inf(-1), math.Inf(1)})
	if stillRising(c, opts) {
		return joinNotes(fmt.Sprintf("throughput still rising at the highest %s %s: extend the sweep", label, num(c.x[n-1])), notes)
	}
	return joinNotes(fmt.Sprintf("no definition found a knee between %s %s and %s (throughput %s to %s): see evidence",
		label, num(c.x[0]), num(c.x[n-1]), num(c.y[0]), num(c.y[n-1])), notes)
}

// stillRising: the last segment's slope exceeds SlopeRatio × the initial
// slope (from the origin, or the first segment when the sweep starts at 0).
func stillRising(c curve, opts KneeOptions) bool {
	n := len(c.x)
	last := (c.y[n-1] - c.y[n-2]) / (c.x[n-1] - c.x[n-2])
	first := c.y[0] / c.x[0]
	if c.x[0] <= 0 {
		first = (c.y[1] - c.y[0]) / (c.x[1] - c.x[0])
	}
	return last > 0 && last > opts.SlopeRatio*first
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// consistencyChecks runs the consistency checks on the points, each alone and then as a table,
// and returns the failed ones ("point 3 (rate 10): littles_law: ...", a table finding once) and
// the per-request throughput finding, which the knee's reason repeats: a curve of one stream's
// tok/s has a knee, but not the server's.
func consistencyChecks(points []LoadPoint) (failed []string, finding string) {
	rows := make([]consistency.Fields, len(points))
	for i, p := range points {
		rows[i] = p
		for _, c := range consistency.Point(p) {
			if !c.OK {
				failed = append(failed, fmt.Sprintf("point %d (%s): %s: %s", i, loadLabel(p), c.Name, c.Detail))
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range consistency.Table(rows) {
		if c.Name == "" || c.OK || seen[c.Name+c.Detail] {
			continue
		}
		seen[c.Name+c.Detail] = true
		line := c.Name + ": " + c.Detail
		failed = append(failed, line)
		if c.Name == consistency.PerRequestThroughput {
			finding = line
		}
	}
	return failed, finding
}

// loadLabel names a point's load: "rate 10", or "concurrency 8" for a closed loop.
func loadLabel(p LoadPoint) string {
	r, ok := p.Field("request_rate")
	if !ok || math.IsInf(r, 1) {
		if c, ok := p.Field("max_concurrency"); ok && c > 0 {
			return "concurrency " + num(c)
		}
		if ok {
			return "closed loop"
		}
		return "no request_rate"
	}
	return "rate " + num(r)
}
