package report

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/builtins/analysis"
	"starlab/runtime"
)

func plotFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	spec := PlotSpec{X: "request_rate", Y: "request_throughput"}
	var sweeps starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &spec.Name, "sweeps", &sweeps, "x?", &spec.X, "y?", &spec.Y, "log_y?", &spec.LogY); err != nil {
		return nil, err
	}
	if err := nameArg(b, "name", spec.Name); err != nil {
		return nil, err
	}
	run := runtime.FromThread(thread)
	switch v := sweeps.(type) {
	case *starlark.Dict:
		if err := addDict(run, b, "sweeps", v); err != nil {
			return nil, err
		}
		for _, k := range v.Keys() {
			s, _ := starlark.AsString(k)
			spec.Sweeps = append(spec.Sweeps, s)
		}
	case *starlark.List, starlark.Tuple:
		seq := v.(starlark.Indexable)
		for i := 0; i < seq.Len(); i++ {
			e := seq.Index(i)
			if s, ok := starlark.AsString(e); ok {
				spec.Sweeps = append(spec.Sweeps, s)
				continue
			}
			t, err := analysis.TableArg(b, "sweeps", e)
			if err != nil {
				return nil, err
			}
			if t.Name == "" {
				return nil, runtime.ArgError(b, "sweeps", "element %d has no name: pass a dict name -> list of dicts", i)
			}
			stateOf(run).addGiven(run, t.Name, t.Rows)
			spec.Sweeps = append(spec.Sweeps, t.Name)
		}
	default:
		return nil, runtime.ArgError(b, "sweeps", "got %s, want a list of SweepResults or names, or a dict name -> points", sweeps.Type())
	}
	if len(spec.Sweeps) == 0 {
		return nil, runtime.ArgError(b, "sweeps", "empty: nothing to plot")
	}
	st := stateOf(run)
	st.mu.Lock()
	given := append([]GivenPoints(nil), st.given...)
	st.mu.Unlock()
	sw, err := LoadSweeps(run.Dir, given)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	for _, name := range spec.Sweeps {
		s, ok := findSweep(sw, name)
		if !ok {
			return nil, runtime.ArgError(b, "sweeps", "no sweep named %q in the run", name)
		}
		if !s.has(spec.X) || !s.has(spec.Y) {
			return nil, runtime.ArgError(b, "sweeps", "sweep %q has no %s or no %s", name, spec.X, spec.Y)
		}
	}
	refs := PlanPlots(Report{Plots: []PlotSpec{spec}}, sw).Custom
	if err := WritePlots(run.Dir, refs); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	replaced := false
	for i, old := range st.plots {
		if old.Name == spec.Name {
			st.plots[i], replaced = spec, true
		}
	}
	if !replaced {
		st.plots = append(st.plots, spec)
	}
	return starlark.String("plots/" + spec.Name + ".png"), nil
}
