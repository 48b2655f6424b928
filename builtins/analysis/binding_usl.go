package analysis

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
	"starlab/stats"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "usl",
		Signature: `usl(points, ci=None)`,
		Doc: `Fits Gunther's Universal Scalability Law X(N) = λN / (1 + σ(N−1) + κN(N−1)).

points is a list of (n, throughput) pairs, or of dicts/structs with keys n and throughput (and
optionally ci, the throughput's [lo, hi]); n is concurrency, GPUs or nodes. At least 4 points.
ci is a list of [lo, hi] per point, the throughputs' intervals (e.g. p["ci"]["request_throughput"]
of sweep points), instead of ci keys. Returns struct(sigma, kappa, lambda_, sigma_ci, kappa_ci,
lambda_ci, peak_n, peak_x, r2, sse, predict(n)); peak_n is float("inf") when throughput only levels
off. With an interval on every throughput, sigma_ci, kappa_ci and lambda_ci are (lo, hi) at the
run's confidence from 500 refits to throughputs redrawn within their intervals (seeded from the
run seed); otherwise None. expect() on sigma, kappa or lambda_ finds them.`,
		Fn: uslFn,
	})
}

func uslFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pts uslPoints
	var cis runtime.Opt[uslIntervals]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "points", &pts, "ci?", &cis); err != nil {
		return nil, err
	}
	intervals := pts.cis
	if cis.Set {
		if len(cis.V) != len(pts.ns) {
			return nil, paramerr.New("ci", "got %d intervals for %d points", len(cis.V), len(pts.ns))
		}
		if pts.cis != nil {
			return nil, paramerr.New("ci", "the points carry ci already: give intervals one way")
		}
		intervals = cis.V
	}
	r := runtime.FromThread(thread)
	seed := r.DeriveSeed(fmt.Sprintf("usl/%v/%v", pts.ns, pts.xs))
	fit, err := USLWithIntervals(pts.ns, pts.xs, intervals, r.Level(), seed)
	if err != nil {
		return nil, err
	}
	FindingsOf(r).addUSL(NamedUSL{N: pts.ns, X: pts.xs, Fit: fit})
	noteEstimate(r, "usl.lambda_", fit.Lambda, fit.LambdaCI)
	noteEstimate(r, "usl.sigma", fit.Sigma, fit.SigmaCI)
	noteEstimate(r, "usl.kappa", fit.Kappa, fit.KappaCI)
	predict := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var n float64
		if err := runtime.UnpackArgs(thread, b, args, kwargs, "n", &n); err != nil {
			return nil, err
		}
		return starlark.Float(fit.Predict(n)), nil
	}
	return mkStruct(starlark.StringDict{
		"sigma": starlark.Float(fit.Sigma), "kappa": starlark.Float(fit.Kappa), "lambda_": starlark.Float(fit.Lambda),
		"sigma_ci": interval(fit.SigmaCI), "kappa_ci": interval(fit.KappaCI), "lambda_ci": interval(fit.LambdaCI),
		"peak_n": starlark.Float(fit.PeakN), "peak_x": starlark.Float(fit.PeakX), "r2": starlark.Float(fit.R2),
		"sse": starlark.Float(fit.SSE), "predict": runtime.Method("predict", predict),
	}), nil
}

// uslIntervals unpacks ci=: a [lo, hi] pair (or None, no interval) per point.
type uslIntervals []stats.Interval

// Unpack implements starlark.Unpacker.
func (c *uslIntervals) Unpack(v starlark.Value) error {
	seq, ok := v.(starlark.Indexable)
	if !ok || v.Type() == "string" {
		return fmt.Errorf("got %s, want a list of [lo, hi] per point", v.Type())
	}
	for i := 0; i < seq.Len(); i++ {
		ci, err := intervalOf(seq.Index(i))
		if err != nil {
			return fmt.Errorf("interval %d: %v", i, err)
		}
		*c = append(*c, ci)
	}
	return nil
}

// intervalOf reads [lo, hi] (a list or tuple of two numbers); None, or a pair with a None end,
// is no interval.
func intervalOf(v starlark.Value) (stats.Interval, error) {
	if v == starlark.None {
		return stats.NoInterval, nil
	}
	ix, ok := v.(starlark.Indexable)
	if !ok || v.Type() == "string" || ix.Len() != 2 {
		return stats.NoInterval, fmt.Errorf("got %s, want [lo, hi]", v.String())
	}
	if ix.Index(0) == starlark.None || ix.Index(1) == starlark.None {
		return stats.NoInterval, nil
	}
	lo, ok1 := starlark.AsFloat(ix.Index(0))
	hi, ok2 := starlark.AsFloat(ix.Index(1))
	if !ok1 || !ok2 {
		return stats.NoInterval, fmt.Errorf("got %s, want two numbers", v.String())
	}
	if !(lo <= hi) {
		return stats.NoInterval, fmt.Errorf("got [%v, %v]: lo exceeds hi", lo, hi)
	}
	return stats.Interval{Lo: lo, Hi: hi}, nil
}

// uslPoints unpacks (n, throughput) pairs or dicts/structs with n and throughput, and ci (the
// throughput's [lo, hi]) when every point carries one.
type uslPoints struct {
	ns, xs []float64
	cis    []stats.Interval // nil unless a point carries ci
}

// Unpack implements starlark.Unpacker.
func (p *uslPoints) Unpack(v starlark.Value) error {
	seq, ok := v.(starlark.Indexable)
	if !ok || v.Type() == "string" {
		return fmt.Errorf("got %s, want a list of (n, throughput) pairs or dicts", v.Type())
	}
	var cis []stats.Interval
	withCI := 0
	for i := 0; i < seq.Len(); i++ {
		var n, x starlark.Value
		ci := stats.NoInterval
		switch e := seq.Index(i).(type) {
		case starlark.Tuple, *starlark.List:
			ix := e.(starlark.Indexable)
			if ix.Len() != 2 {
				return fmt.Errorf("point %d has %d elements, want (n, throughput)", i, ix.Len())
			}
			n, x = ix.Index(0), ix.Index(1)
		case starlark.HasAttrs, *starlark.Dict:
			get := func(key string) starlark.Value {
				if d, ok := e.(*starlark.Dict); ok {
					v, _, _ := d.Get(starlark.String(key))
					return v
				}
				v, _ := e.(starlark.HasAttrs).Attr(key)
				return v
			}
			n, x = get("n"), get("throughput")
			if n == nil || n == starlark.None || x == nil || x == starlark.None {
				return fmt.Errorf("point %d lacks n or throughput", i)
			}
			if c := get("ci"); c != nil {
				var err error
				if ci, err = intervalOf(c); err != nil {
					return fmt.Errorf("point %d: ci: %v", i, err)
				}
				withCI++
			}
		default:
			return fmt.Errorf("point %d is %s, want (n, throughput) or a dict", i, e.Type())
		}
		nf, ok1 := starlark.AsFloat(n)
		xf, ok2 := starlark.AsFloat(x)
		if !ok1 || !ok2 {
			return fmt.Errorf("point %d: n and throughput must be numbers", i)
		}
		p.ns, p.xs = append(p.ns, nf), append(p.xs, xf)
		cis = append(cis, ci)
	}
	if withCI > 0 {
		p.cis = cis
	}
	return nil
}
