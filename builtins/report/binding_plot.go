package report

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/builtins/analysis"
	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func plotFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	spec := PlotSpec{X: "request_rate", Y: "request_throughput"}
	var name fileName
	var sweeps plotSweeps
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "name", &name, "sweeps", &sweeps, "x?", &spec.X, "y?", &spec.Y, "log_y?", &spec.LogY); err != nil {
		return nil, err
	}
	spec.Name, spec.Sweeps = string(name), sweeps.names
	run := runtime.FromThread(thread)
	addGiven(run, sweeps.given)
	sw, err := LoadSweeps(run.Dir, snapshot(run, "", "").Given)
	if err != nil {
		return nil, err
	}
	for _, name := range spec.Sweeps {
		if s, ok := findSweep(sw, name); !ok {
			return nil, paramerr.New("sweeps", "no sweep named %q in the run", name)
		} else if !s.has(spec.X) || !s.has(spec.Y) {
			return nil, paramerr.New("sweeps", "sweep %q has no %s or no %s", name, spec.X, spec.Y)
		}
	}
	if err := WritePlots(run.Dir, PlanPlots(Report{Plots: []PlotSpec{spec}}, sw).Custom); err != nil {
		return nil, err
	}
	st := stateOf(run)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.plots = upsert(st.plots, spec, func(p PlotSpec) string { return p.Name })
	return starlark.String("plots/" + spec.Name + ".png"), nil
}

// plotSweeps is plot's sweeps: a list of SweepResults or sweep names, or a dict name -> points.
// given are the tables passed by value, which the report keeps under their names.
type plotSweeps struct {
	names []string
	given namedTables
}

// Unpack implements starlark.Unpacker.
func (ps *plotSweeps) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case *starlark.Dict:
		if err := ps.given.Unpack(x); err != nil {
			return err
		}
		for _, g := range ps.given {
			ps.names = append(ps.names, g.Name)
		}
	case *starlark.List, starlark.Tuple:
		seq := x.(starlark.Indexable)
		for i := 0; i < seq.Len(); i++ {
			var t analysis.Table
			if s, ok := starlark.AsString(seq.Index(i)); ok {
				ps.names = append(ps.names, s)
			} else if err := t.Unpack(seq.Index(i)); err != nil {
				return err
			} else if t.Name == "" {
				return fmt.Errorf("element %d has no name: pass a dict name -> list of dicts", i)
			} else {
				ps.given = append(ps.given, GivenPoints{Name: t.Name, Points: t.Rows})
				ps.names = append(ps.names, t.Name)
			}
		}
	default:
		return fmt.Errorf("got %s, want a list of SweepResults or names, or a dict name -> points", v.Type())
	}
	if len(ps.names) == 0 {
		return fmt.Errorf("empty: nothing to plot")
	}
	return nil
}
