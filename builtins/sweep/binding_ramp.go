package sweep

import (
	"go.starlark.net/starlark"

	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "ramp",
		Signature: `ramp(kind, start, end, over, slices=10)`,
		Doc: `Describes a rate ramp for sweep(ramp = ...): one point whose target rate goes from start
to end requests/s over the duration over ("5m", or seconds), after the sweep's warmup at the start
rate. kind="linear" moves the rate by equal steps per second, rate(t) = start + (end - start)·t/over;
kind="exponential" by equal ratios, rate(t) = start·(end/start)^(t/over). These are vLLM bench's
--ramp-up-strategy formulas, with the ramp running over time instead of over the request count.
start may exceed end (a ramp down). Sends follow the sweep's arrival (poisson, gamma, constant)
with that rate at every instant. The point reports its figures as a whole and per slice: slices
equal time slices of over, each with its mean target rate (request_rate), sends, completions,
throughputs and latencies, so that find_knee(result) reads a knee from the one ramp. Returns
Ramp(.kind .start .end .over .slices), over in seconds.`,
		Fn: rampBuiltin,
	})
}

func rampBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := &Ramp{Slices: 10}
	var over runtime.Duration
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "kind", &r.Kind, "start", &r.Start, "end", &r.End,
		"over", &over, "slices?", &r.Slices); err != nil {
		return nil, err
	}
	r.Over = over.Std()
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return runtime.NewObject("Ramp", starlark.StringDict{
		"kind":   starlark.String(r.Kind),
		"start":  starlark.Float(r.Start),
		"end":    starlark.Float(r.End),
		"over":   starlark.Float(r.Over.Seconds()),
		"slices": starlark.MakeInt(r.Slices),
	}).WithState(r).WithKey(r.String).WithString(r.String), nil
}
