package analysis

import (
	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "delivered",
		Signature: `delivered(point)`,
		Doc: `The fraction of a point's offered load its server delivered (None for a closed loop).

1.0 below saturation, less above it; find_knee's "offered" definition and amdahl call a point
saturated below 0.9. Measured in tokens when the point has them (output tokens generated per
second against the rate actually sent times the tokens each request asked for), since token
generation is smooth where completions arrive in convoys; otherwise in requests.`,
		Fn: deliveredFn,
	})
}

func deliveredFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "point", &v); err != nil {
		return nil, err
	}
	m, ok := toGo(v).(map[string]any)
	if !ok {
		return nil, paramerr.New("point", "got %s, want a point (dict)", v.Type())
	}
	pts, err := PointsFromMaps([]map[string]any{m})
	if err != nil {
		return nil, paramerr.Wrap("point", err)
	}
	if f, ok := Delivered(pts[0]); ok {
		return starlark.Float(f), nil
	}
	return starlark.None, nil
}
