package analysis

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "find_knee",
		Signature: `find_knee(result, x="request_rate", y="request_throughput", latency="median_ttft_ms", name=None)`,
		Doc: `Finds the load at which a server saturates.

result is a SweepResult or a list of dicts with vLLM bench field names (a published table).
Four definitions are evaluated side by side (evidence): achieved throughput below 90% of offered,
latency above 3x its low-load value, a two-segment fit of throughput, and Kneedle. Returns
Knee(.found .rate .max_throughput .method .evidence .reason .bracket .around(n) .x .y .sweep
.verdicts .rate_ci .max_throughput_ci .checks): rate is the highest load still below saturation
(None when not found), bracket the (lo, hi) loads the knee lies between, around(n) n loads spread
across the bracket for a rerun. Too few points or no saturation in range gives found=False with a
reason. When x is request_rate, verdicts holds each load's struct(rate, verdict, delivered, ci,
reason), ascending, by saturation()'s rule at the run's confidence; the offered definition puts
the knee between the highest load decidedly not saturated and the lowest decidedly saturated
(inconclusive loads between are named in the reason), and never calls the lowest load saturated
unless it decidedly is ("cannot tell yet" otherwise). rate_ci is that (lo, hi) when both loads
were decided on intervals, max_throughput_ci the plateau point's interval (None where the points
carry none; expect() on max_throughput finds it). checks lists the failed consistency checks
(Little's law, tokens, offered load, a per-request throughput column), which the reason also
names when the column is per request. When latency is left at its default and the
points have no median_ttft_ms, the latency definition is skipped. name labels a typed-in table in
the report.

A result of exactly one point with slices (a sweep with ramp = ramp(...)) is read slice by slice:
each slice is a load (its request_rate is the ramp's mean target rate over it, the load sent its
sends over its length), so a knee is found from one ramp. Slices nothing was sent in are left out;
slices carry no intervals, so their verdicts rest on their values, as for a typed-in table.`,
		Fn: findKnee,
	})
}

func findKnee(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var t Table
	opts := DefaultKneeOptions()
	latency := runtime.Opt[string]{V: DefaultKneeOptions().Latency, Set: true}
	var name runtime.Opt[string]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "result", &t, "x?", &opts.X, "y?", &opts.Y,
		"latency?", &latency, "name?", &name); err != nil {
		return nil, err
	}
	if rows, ok := RampSlices(t.Rows); ok {
		pts, err := PointsFromMaps(rows)
		if err != nil {
			return nil, paramerr.New("result", "the ramp's slices: %w", err)
		}
		t.Points = pts
	}
	// Left out, the default latency is used only when every point has it; given, it must be there.
	if opts.Latency = latency.V; !latency.Given && !hasField(t.Points, latency.V) {
		opts.Latency = ""
	}
	t.Name = name.Or(t.Name)
	r := runtime.FromThread(thread)
	opts.Level = r.Level()
	k, err := FindKnee(t.Points, opts)
	if err != nil {
		return nil, err
	}
	FindingsOf(r).addKnee(NamedKnee{Sweep: t.Name, Knee: k})
	// The knee rate is a measured load, not an estimate; the plateau is a measured throughput.
	noteEstimate(r, fmt.Sprintf("find_knee(%s).max_throughput", orDefault(t.Name, "table")), k.MaxThroughput, k.MaxThroughputCI)
	return newKneeValue(k, t.Name), nil
}

func hasField(points []LoadPoint, name string) bool {
	for _, p := range points {
		if _, ok := p.Field(name); !ok {
			return false
		}
	}
	return len(points) > 0
}

// newKneeValue is the Knee plans see; around(n) spreads n loads across the bracket.
func newKneeValue(k Knee, sweep string) *runtime.Object {
	ev := make([]starlark.Value, len(k.Evidence))
	for i, e := range k.Evidence {
		ev[i] = mkStruct(starlark.StringDict{"method": starlark.String(e.Method), "found": starlark.Bool(e.Found),
			"rate": optFloat(e.Rate), "bracket": pair(e.Bracket), "detail": starlark.String(e.Detail)})
	}
	verdicts := make([]starlark.Value, len(k.Verdicts))
	for i, v := range k.Verdicts {
		verdicts[i] = verdictValue(v)
	}
	checks := make([]starlark.Value, len(k.Checks))
	for i, c := range k.Checks {
		checks[i] = starlark.String(c)
	}
	rate := optFloat(k.Rate)
	if !k.Found {
		rate = starlark.None
	}
	around := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var n int
		if err := runtime.UnpackArgs(thread, b, args, kwargs, "n", &n); err != nil {
			return nil, err
		}
		if n < 1 {
			return nil, paramerr.New("n", "got %d, want at least 1", n)
		}
		loads := k.Around(n)
		if loads == nil {
			return nil, fmt.Errorf("no knee to rerun around: %s", k.Reason)
		}
		return floatList(loads), nil
	}
	return runtime.NewObject("Knee", starlark.StringDict{
		"found": starlark.Bool(k.Found), "rate": rate, "max_throughput": starlark.Float(k.MaxThroughput),
		"method": starlark.String(k.Method), "evidence": starlark.NewList(ev), "reason": starlark.String(k.Reason),
		"bracket": pair(k.Bracket), "x": starlark.String(k.X), "y": starlark.String(k.Y),
		"sweep": starlark.String(sweep), "around": runtime.Method("around", around),
		"verdicts": starlark.NewList(verdicts), "rate_ci": interval(k.RateCI),
		"max_throughput_ci": interval(k.MaxThroughputCI), "checks": starlark.NewList(checks),
	}).WithString(func() string {
		if !k.Found {
			return fmt.Sprintf("Knee(found=False, reason=%q)", k.Reason)
		}
		return fmt.Sprintf("Knee(found=True, rate=%s, max_throughput=%s, method=%q, bracket=(%s, %s))",
			num(k.Rate), num(k.MaxThroughput), k.Method, num(k.Bracket[0]), num(k.Bracket[1]))
	})
}

// verdictValue is one load's saturation verdict: struct(rate, verdict, delivered, ci, reason).
// The load is .rate: `load` is a Starlark keyword, so v.load would not parse.
func verdictValue(v PointVerdict) starlark.Value {
	return mkStruct(starlark.StringDict{
		"rate": optFloat(v.Load), "verdict": starlark.String(v.Verdict), "delivered": optFloat(v.Delivered),
		"ci": interval(v.DeliveredCI), "reason": starlark.String(v.Reason),
	})
}
