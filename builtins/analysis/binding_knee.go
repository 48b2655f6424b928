package analysis

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "find_knee",
		Signature: `find_knee(result, x="request_rate", y="request_throughput", latency="median_ttft_ms", name=None)`,
		Doc: `Finds the load at which a server saturates.

result is a SweepResult or a list of dicts with vLLM bench field names (a published table).
Four definitions are evaluated side by side (evidence): achieved throughput below 90% of offered,
latency above 3x its low-load value, a two-segment fit of throughput, and Kneedle. Returns
Knee(.found .rate .max_throughput .method .evidence .reason .bracket .around(n) .x .y .sweep):
rate is the highest load still below saturation (None when not found), bracket the (lo, hi) loads
the knee lies between, around(n) n loads spread across the bracket for a rerun. Too few points or
no saturation in range gives found=False with a reason. When latency is left at its default and the
points have no median_ttft_ms, the latency definition is skipped. name labels a typed-in table in
the report.`,
		Fn: findKnee,
	})
}

func findKnee(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var result starlark.Value
	opts := DefaultKneeOptions()
	latency := starlark.Value(starlark.None)
	var name starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "result", &result, "x?", &opts.X, "y?", &opts.Y,
		"latency?", &latency, "name?", &name); err != nil {
		return nil, err
	}
	t, err := TableArg(b, "result", result)
	if err != nil {
		return nil, err
	}
	switch l := latency.(type) {
	case starlark.NoneType:
		opts.Latency = ""
		if latencyGiven(kwargs) {
			break
		}
		if hasField(t.Points, "median_ttft_ms") {
			opts.Latency = "median_ttft_ms"
		}
	case starlark.String:
		opts.Latency = string(l)
	default:
		return nil, runtime.ArgError(b, "latency", "got %s, want a field name or None", latency.Type())
	}
	if s, ok := starlark.AsString(name); ok {
		t.Name = s
	} else if name != starlark.None {
		return nil, runtime.ArgError(b, "name", "got %s, want a string", name.Type())
	}
	k, err := FindKnee(t.Points, opts)
	if err != nil {
		return nil, errorf(b, "%v", err)
	}
	RecordOf(runtime.FromThread(thread)).addKnee(NamedKnee{Sweep: t.Name, Knee: k})
	return newKneeValue(k, t.Name), nil
}

// latencyGiven tells latency=None (skip the definition) from the default.
func latencyGiven(kwargs []starlark.Tuple) bool {
	for _, kv := range kwargs {
		if s, _ := starlark.AsString(kv[0]); s == "latency" {
			return true
		}
	}
	return false
}

func hasField(points []Point, name string) bool {
	for _, p := range points {
		if _, ok := p.Field(name); !ok {
			return false
		}
	}
	return len(points) > 0
}

// kneeValue is the Starlark Knee.
type kneeValue struct {
	attrs
	k Knee
}

var (
	_ starlark.HasAttrs = (*kneeValue)(nil)
)

func newKneeValue(k Knee, sweep string) *kneeValue {
	kv := &kneeValue{k: k}
	ev := make([]starlark.Value, len(k.Evidence))
	for i, e := range k.Evidence {
		ev[i] = mkStruct(starlark.StringDict{
			"method":  starlark.String(e.Method),
			"found":   starlark.Bool(e.Found),
			"rate":    optFloat(e.Rate),
			"bracket": pair(e.Bracket),
			"detail":  starlark.String(e.Detail),
		})
	}
	rate := optFloat(k.Rate)
	if !k.Found {
		rate = starlark.None
	}
	kv.fields = starlark.StringDict{
		"found":          starlark.Bool(k.Found),
		"rate":           rate,
		"max_throughput": starlark.Float(k.MaxThroughput),
		"method":         starlark.String(k.Method),
		"evidence":       starlark.NewList(ev),
		"reason":         starlark.String(k.Reason),
		"bracket":        pair(k.Bracket),
		"x":              starlark.String(k.X),
		"y":              starlark.String(k.Y),
		"sweep":          starlark.String(sweep),
		"around":         starlark.NewBuiltin("around", kv.around),
	}
	return kv
}

func (kv *kneeValue) around(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var n int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n", &n); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, runtime.ArgError(b, "n", "got %d, want at least 1", n)
	}
	loads := kv.k.Around(n)
	if loads == nil {
		return nil, fmt.Errorf("around: no knee to rerun around: %s", kv.k.Reason)
	}
	return floatList(loads), nil
}

func (kv *kneeValue) String() string {
	if !kv.k.Found {
		return fmt.Sprintf("Knee(found=False, reason=%q)", kv.k.Reason)
	}
	return fmt.Sprintf("Knee(found=True, rate=%s, max_throughput=%s, method=%q, bracket=(%s, %s))",
		num(kv.k.Rate), num(kv.k.MaxThroughput), kv.k.Method, num(kv.k.Bracket[0]), num(kv.k.Bracket[1]))
}
func (kv *kneeValue) Type() string          { return "Knee" }
func (kv *kneeValue) Freeze()               { kv.fields.Freeze() }
func (kv *kneeValue) Truth() starlark.Bool  { return starlark.True }
func (kv *kneeValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: Knee") }
