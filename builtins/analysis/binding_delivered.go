package analysis

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "delivered",
		Signature: `delivered(point)`,
		Doc: `The fraction of a point's offered load its server delivered (None for a closed loop).

1.0 below saturation, less above it; saturation(), find_knee's "offered" definition and amdahl
call a point saturated when it is decidedly below 0.9. A sweep point's own delivered is used
(tokens generated against the load sent, sub-window by sub-window); otherwise it is measured in
tokens when the point has them (output tokens generated per second against the rate actually
sent times the tokens each request asked for), since token generation is smooth where
completions arrive in convoys, else in requests. expect(delivered(p), ">=", 0.9) finds its
interval (the point's ci.delivered, else the Poisson interval of its completions).`,
		Fn: deliveredFn,
	})
	runtime.Register(runtime.Builtin{
		Name:      "saturation",
		Signature: `saturation(point)`,
		Doc: `Whether a point's server was saturated, at the run's confidence.

Returns struct(verdict, delivered, ci, reason): verdict is "saturated" when the delivered fraction
(see delivered()) is decidedly under 0.9 (its interval's top below it), "not saturated" when
decidedly at or above it, and "inconclusive" when its interval straddles 0.9; the reason then says
how many more requests (or how much longer a point) would decide it. A point its sweep stopped
early is saturated (the stop rule fires only on clear overload). A row without an interval (a
published table) is decided on its value alone, and the reason says so. ci is the delivered
fraction's (lo, hi), None when unknown; a closed loop is "inconclusive" with delivered None. This
is the rule find_knee, amdahl and find_saturation use.`,
		Fn: saturationFn,
	})
}

// pointArg reads a single point (a dict or struct) as a LoadPoint.
func pointArg(v starlark.Value) (LoadPoint, error) {
	m, ok := toGo(v).(map[string]any)
	if !ok {
		return LoadPoint{}, paramerr.New("point", "got %s, want a point (dict)", v.Type())
	}
	pts, err := PointsFromMaps([]map[string]any{m})
	if err != nil {
		return LoadPoint{}, paramerr.Wrap("point", err)
	}
	return pts[0], nil
}

// unpackPoint reads the one argument of delivered() and saturation().
func unpackPoint(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (LoadPoint, error) {
	var v starlark.Value
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "point", &v); err != nil {
		return LoadPoint{}, err
	}
	return pointArg(v)
}

func deliveredFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := unpackPoint(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	r := runtime.FromThread(thread)
	f, ci, ok := DeliveredInterval(p, r.Level())
	if !ok {
		return starlark.None, nil
	}
	noteEstimate(r, fmt.Sprintf("delivered(point %s)", loadLabel(p)), f, ci)
	return starlark.Float(f), nil
}

func saturationFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := unpackPoint(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	r := runtime.FromThread(thread)
	sv := SaturationOf(p, r.Level())
	noteEstimate(r, fmt.Sprintf("delivered(point %s)", loadLabel(p)), sv.Delivered, sv.DeliveredCI)
	return mkStruct(starlark.StringDict{
		"verdict": starlark.String(sv.Verdict), "delivered": optFloat(sv.Delivered),
		"ci": interval(sv.DeliveredCI), "reason": starlark.String(sv.Reason),
	}), nil
}
