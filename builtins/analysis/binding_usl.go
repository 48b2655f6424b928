package analysis

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "usl",
		Signature: `usl(points)`,
		Doc: `Fits Gunther's Universal Scalability Law X(N) = λN / (1 + σ(N−1) + κN(N−1)).

points is a list of (n, throughput) pairs, or of dicts/structs with keys n and throughput; n is
concurrency, GPUs or nodes. At least 4 points. Returns struct(sigma, kappa, lambda_, peak_n, peak_x,
r2, sse, predict(n)); peak_n is float("inf") when throughput only levels off.`,
		Fn: uslFn,
	})
}

func uslFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pts uslPoints
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "points", &pts); err != nil {
		return nil, err
	}
	fit, err := USL(pts.ns, pts.xs)
	if err != nil {
		return nil, err
	}
	FindingsOf(runtime.FromThread(thread)).addUSL(NamedUSL{N: pts.ns, X: pts.xs, Fit: fit})
	predict := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var n float64
		if err := runtime.UnpackArgs(thread, b, args, kwargs, "n", &n); err != nil {
			return nil, err
		}
		return starlark.Float(fit.Predict(n)), nil
	}
	return mkStruct(starlark.StringDict{
		"sigma": starlark.Float(fit.Sigma), "kappa": starlark.Float(fit.Kappa), "lambda_": starlark.Float(fit.Lambda),
		"peak_n": starlark.Float(fit.PeakN), "peak_x": starlark.Float(fit.PeakX), "r2": starlark.Float(fit.R2),
		"sse": starlark.Float(fit.SSE), "predict": runtime.Method("predict", predict),
	}), nil
}

// uslPoints unpacks (n, throughput) pairs or dicts/structs with n and throughput.
type uslPoints struct{ ns, xs []float64 }

// Unpack implements starlark.Unpacker.
func (p *uslPoints) Unpack(v starlark.Value) error {
	seq, ok := v.(starlark.Indexable)
	if !ok || v.Type() == "string" {
		return fmt.Errorf("got %s, want a list of (n, throughput) pairs or dicts", v.Type())
	}
	for i := 0; i < seq.Len(); i++ {
		var n, x starlark.Value
		switch e := seq.Index(i).(type) {
		case starlark.Tuple, *starlark.List:
			ix := e.(starlark.Indexable)
			if ix.Len() != 2 {
				return fmt.Errorf("point %d has %d elements, want (n, throughput)", i, ix.Len())
			}
			n, x = ix.Index(0), ix.Index(1)
		case starlark.HasAttrs:
			m, _ := toGo(e).(map[string]any)
			if m == nil || m["n"] == nil || m["throughput"] == nil {
				return fmt.Errorf("point %d lacks n or throughput", i)
			}
			n, x = fromGoNumber(m["n"]), fromGoNumber(m["throughput"])
		default:
			return fmt.Errorf("point %d is %s, want (n, throughput) or a dict", i, e.Type())
		}
		nf, ok1 := starlark.AsFloat(n)
		xf, ok2 := starlark.AsFloat(x)
		if !ok1 || !ok2 {
			return fmt.Errorf("point %d: n and throughput must be numbers", i)
		}
		p.ns, p.xs = append(p.ns, nf), append(p.xs, xf)
	}
	return nil
}

func fromGoNumber(v any) starlark.Value {
	switch x := v.(type) {
	case int64:
		return starlark.MakeInt64(x)
	case float64:
		return starlark.Float(x)
	}
	return starlark.None
}
