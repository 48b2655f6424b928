package analysis

import (
	"fmt"
	"math"
	"strings"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
	"starlab/stats"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "expect",
		Signature: `expect(quantity, op, threshold)`,
		Doc: `Decides "quantity op threshold" on the quantity's interval: a Rule for hypothesis(claim=...).

op is ">=", ">", "<=" or "<". The verdict is "supported" when the whole interval satisfies the
rule, "refuted" when none of it does and "inconclusive" when it straddles the threshold; then
.need says about how much more data would decide it if the estimate stayed where it is.
quantity is a number a builtin measured (a point's p["request_throughput"], amdahl's .speedup,
compare's .ratio, ...), whose interval at the run's confidence is found by its value; a number
without one is treated as exact, and the rule says so. It may also be given explicitly as
(value, [lo, hi]) or as anything with .value and .ci. Returns Rule(.verdict .value .ci .rule
.need .level .quantity), e.g. .rule "speedup 3.4 [2.9, 3.9] >= 3 at 95%".`,
		Fn: expectFn,
	})
	runtime.Register(runtime.Builtin{
		Name:      "within",
		Signature: `within(quantity, lo, hi)`,
		Doc: `Decides lo <= quantity <= hi on the quantity's interval: a Rule, like expect().

Supported when the whole interval lies in [lo, hi], refuted when it lies wholly outside,
inconclusive otherwise.`,
		Fn: withinFn,
	})
}

func expectFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var q starlark.Value
	var op string
	var threshold float64
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "quantity", &q, "op", &op, "threshold", &threshold); err != nil {
		return nil, err
	}
	r := runtime.FromThread(thread)
	est, err := quantityOf(r, q)
	if err != nil {
		return nil, err
	}
	c, err := Expect(est.Label, est.Value, est.CI, est.Seq, op, threshold, r.Level())
	if err != nil {
		return nil, paramerr.Wrap("op", err)
	}
	return ruleValue(c), nil
}

func withinFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var q starlark.Value
	var lo, hi float64
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "quantity", &q, "lo", &lo, "hi", &hi); err != nil {
		return nil, err
	}
	r := runtime.FromThread(thread)
	est, err := quantityOf(r, q)
	if err != nil {
		return nil, err
	}
	c, err := Within(est.Label, est.Value, est.CI, est.Seq, lo, hi, r.Level())
	if err != nil {
		return nil, paramerr.Wrap("lo", err)
	}
	return ruleValue(c), nil
}

// ruleQuantity is a quantity as a rule reads it; CI is NoInterval when none is known.
type ruleQuantity struct {
	Label string
	Value float64
	CI    stats.Interval
	Seq   int
}

// quantityOf reads expect()'s and within()'s quantity: a number whose interval a builtin noted
// with the run, or an explicit (value, [lo, hi]) or .value/.ci.
func quantityOf(r *runtime.Run, v starlark.Value) (ruleQuantity, error) {
	if f, ok := starlark.AsFloat(v); ok && !isBoolValue(v) {
		if math.IsNaN(f) {
			return ruleQuantity{}, paramerr.New("quantity", "got nan: nothing was measured")
		}
		return notedQuantity(r, f)
	}
	value, ci, label, err := explicitQuantity(v)
	if err != nil {
		return ruleQuantity{}, paramerr.Wrap("quantity", err)
	}
	est := ruleQuantity{Label: label, Value: value, CI: ci}
	if ci.Unknown() {
		return est, nil
	}
	// The same interval noted by a builtin: keep its label and when it was measured.
	_, _, all := r.EstimateOf(value)
	for _, e := range all {
		if e.Lo == ci.Lo && e.Hi == ci.Hi {
			if label == "value" {
				est.Label = e.Label
			}
			est.Seq = e.Seq
		}
	}
	return est, nil
}

// notedQuantity finds a number's interval among those the run's builtins noted.
func notedQuantity(r *runtime.Run, f float64) (ruleQuantity, error) {
	e, found, all := r.EstimateOf(f)
	if found {
		return ruleQuantity{Label: e.Label, Value: f, CI: stats.Interval{Lo: e.Lo, Hi: e.Hi}, Seq: e.Seq}, nil
	}
	if len(all) > 1 {
		var list []string
		for _, e := range all {
			list = append(list, fmt.Sprintf("%s [%s, %s]", e.Label, num(e.Lo), num(e.Hi)))
		}
		return ruleQuantity{}, paramerr.New("quantity", "%s is ambiguous: %d measured quantities have this value with different intervals (%s); give the one you mean explicitly, as (value, [lo, hi])",
			num(f), len(all), strings.Join(list, "; "))
	}
	return ruleQuantity{Label: "value", Value: f, CI: stats.NoInterval}, nil
}

// explicitQuantity reads (value, [lo, hi]), or a struct, object or dict with value and ci
// (and optionally a quantity or label naming it). A ci of None means no interval.
func explicitQuantity(v starlark.Value) (value float64, ci stats.Interval, label string, err error) {
	var val, civ starlark.Value
	label = "value"
	switch x := v.(type) {
	case starlark.String, starlark.Bool, starlark.NoneType:
		return 0, ci, "", fmt.Errorf("got %s, want a number, (value, [lo, hi]) or something with .value and .ci", v.Type())
	case starlark.Tuple, *starlark.List:
		seq := x.(starlark.Indexable)
		if seq.Len() != 2 {
			return 0, ci, "", fmt.Errorf("got a %s of %d, want (value, [lo, hi])", v.Type(), seq.Len())
		}
		val, civ = seq.Index(0), seq.Index(1)
	case *starlark.Dict:
		val, _, _ = x.Get(starlark.String("value"))
		civ, _, _ = x.Get(starlark.String("ci"))
		for _, k := range []string{"quantity", "label"} {
			if s, found, _ := x.Get(starlark.String(k)); found {
				if s, ok := starlark.AsString(s); ok && s != "" {
					label = s
				}
			}
		}
	case starlark.HasAttrs:
		val, _ = x.Attr("value")
		civ, _ = x.Attr("ci")
		for _, k := range []string{"quantity", "label"} {
			if s, err := x.Attr(k); err == nil && s != nil {
				if s, ok := starlark.AsString(s); ok && s != "" {
					label = s
				}
			}
		}
	default:
		return 0, ci, "", fmt.Errorf("got %s, want a number, (value, [lo, hi]) or something with .value and .ci", v.Type())
	}
	if val == nil || civ == nil {
		return 0, ci, "", fmt.Errorf("%s has no value and ci, want a number, (value, [lo, hi]) or something with .value and .ci", v.Type())
	}
	value, ok := starlark.AsFloat(val)
	if !ok || isBoolValue(val) {
		return 0, ci, "", fmt.Errorf("value: got %s, want a number", val.Type())
	}
	if math.IsNaN(value) {
		return 0, ci, "", fmt.Errorf("value is nan: nothing was measured")
	}
	if civ == starlark.None {
		return value, stats.NoInterval, label, nil
	}
	seq, ok := civ.(starlark.Indexable)
	if !ok || seq.Len() != 2 {
		return 0, ci, "", fmt.Errorf("ci: got %s, want [lo, hi] or None", civ.Type())
	}
	lo, ok1 := starlark.AsFloat(seq.Index(0))
	hi, ok2 := starlark.AsFloat(seq.Index(1))
	if !ok1 || !ok2 {
		return 0, ci, "", fmt.Errorf("ci: want two numbers [lo, hi], got %s", civ)
	}
	if !(lo <= hi) {
		return 0, ci, "", fmt.Errorf("ci: [%s, %s] is not an interval (lo must not exceed hi)", num(lo), num(hi))
	}
	return value, stats.Interval{Lo: lo, Hi: hi}, label, nil
}

func isBoolValue(v starlark.Value) bool { _, ok := v.(starlark.Bool); return ok }

// ruleValue is a Rule: the decision and, as state, the Claim hypothesis(claim=...) takes.
func ruleValue(c Claim) *runtime.Object {
	d := c.Decision
	return runtime.NewObject("Rule", starlark.StringDict{
		"verdict":  starlark.String(string(d.Verdict)),
		"value":    starlark.Float(d.Value),
		"ci":       ciTuple(d.CI),
		"rule":     starlark.String(c.Rule()),
		"need":     starlark.String(d.Need()),
		"level":    starlark.Float(c.Level),
		"quantity": starlark.String(c.Quantity),
	}).WithState(c).WithString(func() string { return fmt.Sprintf("<Rule %s: %s>", d.Verdict, c.Rule()) })
}

// ciTuple is an interval as a (lo, hi) tuple, or None when unknown.
func ciTuple(ci stats.Interval) starlark.Value {
	if ci.Unknown() {
		return starlark.None
	}
	return starlark.Tuple{starlark.Float(ci.Lo), starlark.Float(ci.Hi)}
}
