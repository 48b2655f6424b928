package analysis

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "amdahl",
		Signature: `amdahl(base, scaled, n=None, metric="request_throughput")`,
		Doc: `Compares a base run with a run on n times the GPUs (Amdahl / Karp–Flatt).

base and scaled are SweepResults or lists of dicts. n defaults to scaled.server.gpus /
base.server.gpus when both runs carry a server. Returns Scaling(.speedup .efficiency
.serial_fraction .valid .diagnosis .n .metric .mode .rate .base .scaled .pairs .predict(n)
.predict_value(n)): serial_fraction is Karp–Flatt's e = (1/S − 1/n)/(1 − 1/n); valid is False with
a diagnosis when the comparison cannot show scaling (the base was not saturated at the compared
load, or the scaled run failed requests). mode says what was compared: "capacity" when both runs
saturated somewhere (the best throughput each delivered while overloaded: the real speedup),
else "matched" at the highest request_rate both share (rate), else "peak" (the best of each run). predict(n) is Amdahl's speedup at n for the measured e,
predict_value(n) the metric it implies.`,
		Fn: amdahlFn,
	})
}

func amdahlFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var base, scaled starlark.Value
	var nv starlark.Value = starlark.None
	metric := "request_throughput"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "base", &base, "scaled", &scaled, "n?", &nv, "metric?", &metric); err != nil {
		return nil, err
	}
	bt, err := TableArg(b, "base", base)
	if err != nil {
		return nil, err
	}
	st, err := TableArg(b, "scaled", scaled)
	if err != nil {
		return nil, err
	}
	var n int
	if nv == starlark.None {
		if bt.GPUs == 0 || st.GPUs == 0 {
			return nil, runtime.ArgError(b, "n", "not given and the runs carry no server GPU counts: pass n (the resource ratio, e.g. n=4)")
		}
		if st.GPUs%bt.GPUs != 0 {
			return nil, runtime.ArgError(b, "n", "not given and scaled.server.gpus=%d is not a multiple of base.server.gpus=%d: pass n", st.GPUs, bt.GPUs)
		}
		n = st.GPUs / bt.GPUs
	} else if err := starlark.AsInt(nv, &n); err != nil {
		return nil, runtime.ArgError(b, "n", "got %s, want an int", nv.Type())
	}
	if n < 2 {
		return nil, runtime.ArgError(b, "n", "got %d, want at least 2", n)
	}
	s, err := Amdahl(bt.Points, st.Points, n, metric)
	if err != nil {
		return nil, errorf(b, "%v", err)
	}
	RecordOf(runtime.FromThread(thread)).addScaling(NamedScaling{Base: bt.Name, Scaled: st.Name, Scaling: s})
	return newScalingValue(s), nil
}

// scalingValue is the Starlark Scaling.
type scalingValue struct {
	attrs
	s Scaling
}

var _ starlark.HasAttrs = (*scalingValue)(nil)

func newScalingValue(s Scaling) *scalingValue {
	sv := &scalingValue{s: s}
	pairs := make([]starlark.Value, len(s.Pairs))
	for i, p := range s.Pairs {
		pairs[i] = mkStruct(starlark.StringDict{
			"rate": starlark.Float(p.Load), "base": starlark.Float(p.Base),
			"scaled": starlark.Float(p.Scaled), "speedup": starlark.Float(p.Speedup),
		})
	}
	sv.fields = starlark.StringDict{
		"n":               starlark.MakeInt(s.N),
		"metric":          starlark.String(s.Metric),
		"mode":            starlark.String(s.Mode),
		"rate":            optFloat(s.Load),
		"base":            starlark.Float(s.Base),
		"scaled":          starlark.Float(s.Scaled),
		"speedup":         starlark.Float(s.Speedup),
		"efficiency":      starlark.Float(s.Efficiency),
		"serial_fraction": starlark.Float(s.SerialFraction),
		"valid":           starlark.Bool(s.Valid),
		"diagnosis":       starlark.String(s.Diagnosis),
		"pairs":           starlark.NewList(pairs),
		"predict":         starlark.NewBuiltin("predict", sv.predict(false)),
		"predict_value":   starlark.NewBuiltin("predict_value", sv.predict(true)),
	}
	return sv
}

func (sv *scalingValue) predict(value bool) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var nv starlark.Value
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n", &nv); err != nil {
			return nil, err
		}
		n, err := numberArg(b, "n", nv)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return nil, runtime.ArgError(b, "n", "got %s, want a positive number", num(n))
		}
		if value {
			return starlark.Float(sv.s.PredictValue(n)), nil
		}
		return starlark.Float(sv.s.Predict(n)), nil
	}
}

func (sv *scalingValue) String() string {
	return fmt.Sprintf("Scaling(n=%d, speedup=%s, efficiency=%s, serial_fraction=%s, valid=%t)",
		sv.s.N, num(sv.s.Speedup), num(sv.s.Efficiency), num(sv.s.SerialFraction), sv.s.Valid)
}
func (sv *scalingValue) Type() string          { return "Scaling" }
func (sv *scalingValue) Freeze()               { sv.fields.Freeze() }
func (sv *scalingValue) Truth() starlark.Bool  { return starlark.True }
func (sv *scalingValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: Scaling") }
