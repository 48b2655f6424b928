package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"go.starlark.net/starlark"

	"starlab/builtins/analysis"
	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "report",
		Signature: `report(title=None, notes="", sweeps=None)`,
		Doc: `Writes the run's report: report.md, report.json, plots/*.png|svg and sweeps/*.csv.

Includes the run manifest summary (no times or hosts: the same seed in --virtual gives the same
report.md), every sweeps/*.json of the run sorted by name, every knee, scaling, USL fit and
hypothesis computed so far, and the table()s and plot()s made so far. sweeps is an optional dict
name -> SweepResult or list of dicts, to include published tables (a seed's) as sweeps. Can be
called more than once; each call rewrites the report. Returns struct(path, sweeps, plots).`,
		Fn: reportFn,
	})
	runtime.Register(runtime.Builtin{
		Name:      "table",
		Signature: `table(name, rows, columns=None)`,
		Doc: `Writes tables/<name>.csv and adds the table to the report.

rows is a list of dicts; columns defaults to the keys in the order they first appear. Returns the
CSV's path relative to the run directory.`,
		Fn: tableFn,
	})
	runtime.Register(runtime.Builtin{
		Name:      "plot",
		Signature: `plot(name, sweeps, x="request_rate", y="request_throughput", log_y=False)`,
		Doc: `Draws y against x for several sweeps on one chart: plots/<name>.png and .svg.

sweeps is a list of SweepResults or sweep names, or a dict name -> SweepResult or list of dicts.
The chart is also added to the report. Returns the PNG's path relative to the run directory.`,
		Fn: plotFn,
	})
}

// state is what table(), plot() and report(sweeps=...) add to a run's report.
type state struct {
	mu     sync.Mutex
	tables []Table
	plots  []PlotSpec
	given  []GivenPoints
}

type stateKey struct{}

func stateOf(run *runtime.Run) *state {
	return runtime.State(run, stateKey{}, func() *state { return &state{} })
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func nameArg(b *starlark.Builtin, param, name string) error {
	if !validName.MatchString(name) {
		return runtime.ArgError(b, param, "%q is not a file name (letters, digits, _ . -)", name)
	}
	return nil
}

// addGiven keeps a table of points the plan passed, unless the run measured a sweep of that
// name (then the sweep's own file is used).
func (st *state) addGiven(run *runtime.Run, name string, rows []map[string]any) {
	if _, err := os.Stat(filepath.Join(run.Dir, "sweeps", name+".json")); err == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, g := range st.given {
		if g.Name == name {
			st.given[i].Points = rows
			return
		}
	}
	st.given = append(st.given, GivenPoints{Name: name, Points: rows})
}

// snapshot assembles the report from the analysis record and this package's state.
func snapshot(run *runtime.Run, title, notes string) Report {
	r := Report{Title: title, Notes: notes}
	rec := analysis.RecordOf(run)
	for _, k := range rec.Knees() {
		r.Knees = append(r.Knees, FromKnee(k.Sweep, k.Knee))
	}
	for _, s := range rec.Scalings() {
		r.Scalings = append(r.Scalings, FromScaling(s.Base, s.Scaled, s.Scaling))
	}
	for _, f := range rec.USLFits() {
		r.USL = append(r.USL, FromUSL(f.N, f.X, f.Fit))
	}
	for _, h := range rec.Hypotheses() {
		r.Hypotheses = append(r.Hypotheses, FromHypothesis(h))
	}
	st := stateOf(run)
	st.mu.Lock()
	defer st.mu.Unlock()
	r.Tables = append(r.Tables, st.tables...)
	r.Plots = append(r.Plots, st.plots...)
	for _, g := range st.given {
		r.Given = append(r.Given, GivenPoints{Name: g.Name, Points: g.Points})
	}
	return r
}

func reportFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var title starlark.Value = starlark.None
	var notes string
	var sweeps starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "title?", &title, "notes?", &notes, "sweeps?", &sweeps); err != nil {
		return nil, err
	}
	t := ""
	if title != starlark.None {
		s, ok := starlark.AsString(title)
		if !ok {
			return nil, runtime.ArgError(b, "title", "got %s, want a string or None", title.Type())
		}
		t = s
	}
	run := runtime.FromThread(thread)
	if sweeps != starlark.None {
		d, ok := sweeps.(*starlark.Dict)
		if !ok {
			return nil, runtime.ArgError(b, "sweeps", "got %s, want a dict name -> SweepResult or list of dicts", sweeps.Type())
		}
		if err := addDict(run, b, "sweeps", d); err != nil {
			return nil, err
		}
	}
	r := snapshot(run, t, notes)
	if err := Write(run.Dir, r); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	sw, err := LoadSweeps(run.Dir, r.Given)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	var names, files []starlark.Value
	for _, s := range sw {
		names = append(names, starlark.String(s.Name))
	}
	for _, p := range PlanPlots(r, sw).All(sw) {
		files = append(files, starlark.String("plots/"+p.File+".png"))
	}
	return mkStruct(starlark.StringDict{
		"path": starlark.String("report.md"), "sweeps": starlark.NewList(names), "plots": starlark.NewList(files),
	}), nil
}

// addDict registers name -> points entries as given tables.
func addDict(run *runtime.Run, b *starlark.Builtin, param string, d *starlark.Dict) error {
	for _, item := range d.Items() {
		name, ok := starlark.AsString(item[0])
		if !ok {
			return runtime.ArgError(b, param, "key %s is not a string", item[0])
		}
		if err := nameArg(b, param, name); err != nil {
			return err
		}
		t, err := analysis.TableArg(b, param, item[1])
		if err != nil {
			return err
		}
		stateOf(run).addGiven(run, name, t.Rows)
	}
	return nil
}
