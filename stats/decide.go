package stats

import (
	"fmt"
	"math"
)

// Verdict is a three-valued decision at a confidence level.
type Verdict string

// Verdicts of a decision rule.
const (
	Supported    Verdict = "supported"
	Refuted      Verdict = "refuted"
	Inconclusive Verdict = "inconclusive"
)

// Decision is a rule applied to an uncertain quantity.
type Decision struct {
	Verdict Verdict
	Value   float64
	CI      Interval // Exact(Value) when the quantity came without an interval
	// Rule is the rule in words, e.g. "speedup >= 3".
	Rule string
	// MoreData is, for an inconclusive verdict, about how many times more data (requests, or
	// duration) would let the interval decide if the estimate stayed where it is: (half-width /
	// distance to the threshold)². 0 when decided; +Inf when the estimate sits on the threshold.
	MoreData float64
}

// Need is the inconclusive verdict's advice in words ("" when decided).
func (d Decision) Need() string {
	switch {
	case d.Verdict != Inconclusive:
		return ""
	case math.IsInf(d.MoreData, 1) || math.IsNaN(d.MoreData):
		return "the estimate sits on the threshold: more data alone may not decide it"
	}
	return fmt.Sprintf("~%.3gx more data needed", math.Ceil(d.MoreData*10)/10)
}

// Ops are the comparison operators Expect accepts.
var Ops = []string{">=", ">", "<=", "<"}

// Expect decides "value op threshold" on the whole interval: supported when every value in it
// satisfies the rule, refuted when none does, inconclusive otherwise.
func Expect(value float64, ci Interval, op string, threshold float64) (Decision, error) {
	if ci.Unknown() {
		ci = Exact(value)
	}
	d := Decision{Value: value, CI: ci, Rule: fmt.Sprintf("%s %g", op, threshold)}
	var all, none bool
	switch op {
	case ">=":
		all, none = ci.Lo >= threshold, ci.Hi < threshold
	case ">":
		all, none = ci.Lo > threshold, ci.Hi <= threshold
	case "<=":
		all, none = ci.Hi <= threshold, ci.Lo > threshold
	case "<":
		all, none = ci.Hi < threshold, ci.Lo >= threshold
	default:
		return d, fmt.Errorf("unknown operator %q: want one of >=, >, <=, < (use within(q, lo, hi) for a range)", op)
	}
	d.decide(all, none, math.Abs(value-threshold))
	return d, nil
}

// Within decides lo <= value <= hi on the whole interval.
func Within(value float64, ci Interval, lo, hi float64) (Decision, error) {
	if !(lo <= hi) {
		return Decision{}, fmt.Errorf("empty range [%g, %g]: lo must not exceed hi", lo, hi)
	}
	if ci.Unknown() {
		ci = Exact(value)
	}
	d := Decision{Value: value, CI: ci, Rule: fmt.Sprintf("within [%g, %g]", lo, hi)}
	dist := math.Min(math.Abs(value-lo), math.Abs(value-hi))
	d.decide(lo <= ci.Lo && ci.Hi <= hi, ci.Hi < lo || ci.Lo > hi, dist)
	return d, nil
}

func (d *Decision) decide(all, none bool, dist float64) {
	switch {
	case all:
		d.Verdict = Supported
	case none:
		d.Verdict = Refuted
	default:
		d.Verdict = Inconclusive
		d.MoreData = MoreData(d.CI.HalfWidth(), dist)
	}
}
