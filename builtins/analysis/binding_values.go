package analysis

import (
	"fmt"
	"math"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"starlab/runtime"
	"starlab/stats"
)

// Conversions shared by the analysis bindings: Starlark values in, plain Go
// out, so the engines stay free of Starlark.

// toGo converts a Starlark value to the plain Go form PointsFromMaps reads:
// dicts and structs become maps, lists and tuples slices. Builtins (bound
// methods on a struct) are dropped, since no table cell holds one.
func toGo(v starlark.Value) any {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.Bool:
		return bool(x)
	case starlark.Int:
		if i, ok := x.Int64(); ok {
			return i
		}
		f, _ := starlark.AsFloat(x)
		return f
	case starlark.Float:
		return float64(x)
	case starlark.String:
		return string(x)
	case *starlark.Dict:
		m := make(map[string]any, x.Len())
		for _, item := range x.Items() {
			if k, ok := item[0].(starlark.String); ok {
				m[string(k)] = toGo(item[1])
			}
		}
		return m
	case starlark.Indexable: // list, tuple
		out := make([]any, x.Len())
		for i := range out {
			out[i] = toGo(x.Index(i))
		}
		return out
	case starlark.HasAttrs:
		m := map[string]any{}
		for _, name := range x.AttrNames() {
			a, err := x.Attr(name)
			if err != nil || a == nil {
				continue
			}
			if _, fn := a.(starlark.Callable); fn {
				continue
			}
			m[name] = toGo(a)
		}
		return m
	}
	return v.String()
}

// Table is a set of points handed to an analysis builtin: a SweepResult
// (anything with .points, and .name if it has one) or a list of dicts or
// structs typed into the plan. As a starlark.Unpacker it is the argument type
// of every builtin that takes points (the report package's too), so they all
// accept the same shapes and UnpackArgs names the parameter in errors.
type Table struct {
	Name   string           // the sweep's name; "" for a table typed into the plan
	Rows   []map[string]any // the points as plain Go maps
	Points []LoadPoint
	GPUs   int // .server.gpus when the value has a server; 0 otherwise
}

// Unpack implements starlark.Unpacker.
func (t *Table) Unpack(v starlark.Value) error {
	var seq starlark.Indexable
	switch x := v.(type) {
	case *starlark.List, starlark.Tuple:
		seq = x.(starlark.Indexable)
	case starlark.HasAttrs:
		pts, err := x.Attr("points")
		if err != nil || pts == nil {
			return fmt.Errorf("got %s without .points, want a SweepResult or a list of dicts", v.Type())
		}
		s, ok := pts.(starlark.Indexable)
		if !ok {
			return fmt.Errorf("%s.points is %s, want a list of dicts", v.Type(), pts.Type())
		}
		seq = s
		if name, err := x.Attr("name"); err == nil && name != nil {
			if s, ok := starlark.AsString(name); ok {
				t.Name = s
			}
		}
		t.GPUs = serverGPUs(x)
	default:
		return fmt.Errorf("got %s, want a SweepResult or a list of dicts", v.Type())
	}
	for i := 0; i < seq.Len(); i++ {
		m, ok := toGo(seq.Index(i)).(map[string]any)
		if !ok {
			return fmt.Errorf("point %d is %s, want a dict", i, seq.Index(i).Type())
		}
		t.Rows = append(t.Rows, m)
	}
	pts, err := PointsFromMaps(t.Rows)
	t.Points = pts
	return err
}

func serverGPUs(x starlark.HasAttrs) int {
	srv, err := x.Attr("server")
	if err != nil || srv == nil {
		return 0
	}
	sa, ok := srv.(starlark.HasAttrs)
	if !ok {
		return 0
	}
	g, err := sa.Attr("gpus")
	if err != nil || g == nil {
		return 0
	}
	n, err := starlark.AsInt32(g)
	if err != nil {
		return 0
	}
	return n
}

// optFloat is None for NaN, so "not found" reads as None in a plan rather
// than as a number that could be mistaken for a measurement.
func optFloat(v float64) starlark.Value {
	if math.IsNaN(v) {
		return starlark.None
	}
	return starlark.Float(v)
}

// pair is a bracket as a tuple, or None when either end is unknown.
func pair(b [2]float64) starlark.Value {
	if math.IsNaN(b[0]) || math.IsNaN(b[1]) {
		return starlark.None
	}
	return starlark.Tuple{starlark.Float(b[0]), starlark.Float(b[1])}
}

// interval is a confidence interval as a (lo, hi) tuple, or None when unknown.
func interval(ci stats.Interval) starlark.Value {
	if ci.Unknown() {
		return starlark.None
	}
	return starlark.Tuple{starlark.Float(ci.Lo), starlark.Float(ci.Hi)}
}

// optString is None for "", a diagnosis that could not be made.
func optString(s string) starlark.Value {
	if s == "" {
		return starlark.None
	}
	return starlark.String(s)
}

// noteEstimate records a derived figure's interval with the run, so that a decision rule given
// the plain float (expect(a.speedup, ">=", 3)) finds it. Nothing is noted without an interval.
func noteEstimate(r *runtime.Run, label string, value float64, ci stats.Interval) {
	if ci.Unknown() {
		return
	}
	r.NoteEstimate(label, value, ci.Lo, ci.Hi)
}

func floatList(vs []float64) *starlark.List {
	out := make([]starlark.Value, len(vs))
	for i, v := range vs {
		out[i] = starlark.Float(v)
	}
	return starlark.NewList(out)
}

func mkStruct(fields starlark.StringDict) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, fields)
}

// ToGo is toGo for other bindings that read point dicts (calibrate).
func ToGo(v starlark.Value) any { return toGo(v) }
