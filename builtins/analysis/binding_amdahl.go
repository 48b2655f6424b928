package analysis

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "amdahl",
		Signature: `amdahl(base, scaled, n=None, metric="request_throughput")`,
		Doc: `Compares a base run with a run on n times the GPUs (Amdahl / Karp–Flatt).

base and scaled are SweepResults or lists of dicts. n defaults to scaled.server.gpus /
base.server.gpus when both runs carry a server. Returns Scaling(.speedup .efficiency
.serial_fraction .speedup_ci .efficiency_ci .serial_fraction_ci .load_limited .valid .diagnosis .n
.metric .mode .rate .base .scaled .pairs .predict(n) .predict_value(n)): serial_fraction is Karp–Flatt's e = (1/S − 1/n)/(1 − 1/n); valid is False with
a diagnosis when the comparison cannot show scaling (the base was not saturated at the compared
load, or the scaled run failed requests). mode says what was compared: "capacity" when both runs
saturated somewhere (the best throughput each delivered while overloaded: the real speedup),
else "matched" at the highest request_rate both share (rate), else "peak" (the best of each run). predict(n) is Amdahl's speedup at n for the measured e,
predict_value(n) the metric it implies. speedup_ci, efficiency_ci and serial_fraction_ci are
(lo, hi) at the run's confidence, from the compared points' intervals (None when they carry
none); expect() on speedup, efficiency or serial_fraction finds them. load_limited is the base's
saturation verdict at the compared point: "yes" (decidedly not saturated: valid is False), "no"
(decidedly saturated) or "inconclusive" (valid is False: it could not be shown saturated); None
when the base has no offered rate to check.`,
		Fn: amdahlFn,
	})
}

func amdahlFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var bt, st Table
	var n runtime.Opt[int]
	metric := "request_throughput"
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "base", &bt, "scaled", &st, "n?", &n, "metric?", &metric); err != nil {
		return nil, err
	}
	ratio, err := gpuRatio(n, bt, st)
	if err != nil {
		return nil, err
	}
	r := runtime.FromThread(thread)
	s, err := AmdahlAt(bt.Points, st.Points, ratio, metric, r.Level())
	if err != nil {
		return nil, err
	}
	FindingsOf(r).addScaling(NamedScaling{Base: bt.Name, Scaled: st.Name, Scaling: s})
	// expect(a.speedup, ">=", 3) finds the interval by the float's bits.
	label := fmt.Sprintf("amdahl(%s, %s)", orDefault(bt.Name, "base"), orDefault(st.Name, "scaled"))
	noteEstimate(r, label+".speedup", s.Speedup, s.SpeedupCI)
	noteEstimate(r, label+".efficiency", s.Efficiency, s.EfficiencyCI)
	noteEstimate(r, label+".serial_fraction", s.SerialFraction, s.SerialFractionCI)
	return newScalingValue(s), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// gpuRatio is n, or the runs' server GPU ratio when n is left out.
func gpuRatio(n runtime.Opt[int], bt, st Table) (int, error) {
	if !n.Set {
		if bt.GPUs == 0 || st.GPUs == 0 {
			return 0, paramerr.New("n", "not given and the runs carry no server GPU counts: pass n (the resource ratio, e.g. n=4)")
		}
		if st.GPUs%bt.GPUs != 0 {
			return 0, paramerr.New("n", "not given and scaled.server.gpus=%d is not a multiple of base.server.gpus=%d: pass n", st.GPUs, bt.GPUs)
		}
		n.V = st.GPUs / bt.GPUs
	}
	if n.V < 2 {
		return 0, paramerr.New("n", "got %d, want at least 2", n.V)
	}
	return n.V, nil
}

// newScalingValue is the Scaling plans see; predict(n) and predict_value(n) extrapolate with
// Amdahl's law at the measured serial fraction.
func newScalingValue(s Scaling) *runtime.Object {
	pairs := make([]starlark.Value, len(s.Pairs))
	for i, p := range s.Pairs {
		pairs[i] = mkStruct(starlark.StringDict{"rate": starlark.Float(p.Load), "base": starlark.Float(p.Base),
			"scaled": starlark.Float(p.Scaled), "speedup": starlark.Float(p.Speedup)})
	}
	predict := func(f func(float64) float64) runtime.BuiltinFunc {
		return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var n float64
			if err := runtime.UnpackArgs(thread, b, args, kwargs, "n", &n); err != nil {
				return nil, err
			}
			if n <= 0 {
				return nil, paramerr.New("n", "got %s, want a positive number", num(n))
			}
			return starlark.Float(f(n)), nil
		}
	}
	return runtime.NewObject("Scaling", starlark.StringDict{
		"n": starlark.MakeInt(s.N), "metric": starlark.String(s.Metric), "mode": starlark.String(s.Mode),
		"rate": optFloat(s.Load), "base": starlark.Float(s.Base), "scaled": starlark.Float(s.Scaled),
		"speedup": starlark.Float(s.Speedup), "efficiency": starlark.Float(s.Efficiency),
		"serial_fraction": starlark.Float(s.SerialFraction), "valid": starlark.Bool(s.Valid),
		"diagnosis": starlark.String(s.Diagnosis), "pairs": starlark.NewList(pairs),
		"speedup_ci": interval(s.SpeedupCI), "efficiency_ci": interval(s.EfficiencyCI),
		"serial_fraction_ci": interval(s.SerialFractionCI), "load_limited": optString(s.LoadLimited),
		"predict":       runtime.Method("predict", predict(s.Predict)),
		"predict_value": runtime.Method("predict_value", predict(s.PredictValue)),
	}).WithString(func() string {
		return fmt.Sprintf("Scaling(n=%d, speedup=%s, efficiency=%s, serial_fraction=%s, valid=%t)",
			s.N, num(s.Speedup), num(s.Efficiency), num(s.SerialFraction), s.Valid)
	})
}
