package report

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"starlab/builtins/analysis"
	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "report",
		Signature: `report(title=None, notes="", sweeps=None)`,
		Doc: `Writes the run's report: report.md, report.json, plots/*.png|svg and sweeps/*.csv.

Includes the run manifest summary (no times or hosts: the same seed in --virtual gives the same
report.md), every sweeps/*.json of the run in the order the plan made them, every knee, scaling, USL fit and
comparison and hypothesis computed so far, and the table()s and plot()s made so far. Figures with
an interval show value ± half-width at the run's confidence (their ends when lopsided), plots
draw them as error bars or bands, each verdict shows its interval and rule, and points that never
reached steady state or failed a consistency check are flagged and listed under Warnings.
report.json and the CSVs (<field>_lo, <field>_hi) carry the intervals. Each calibrations/*.json
of the run gets a Calibrations section (parameters, fit, load range); a twin's sweeps are set
against its real server's at the same loads (Twin vs measurement: errors, MAPE, overlay plots),
and twin points outside their calibration's range are listed under Warnings. sweeps is an optional dict
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

func reportFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var title runtime.Opt[string]
	var notes string
	var sweeps runtime.Opt[namedTables]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "title?", &title, "notes?", &notes, "sweeps?", &sweeps); err != nil {
		return nil, err
	}
	run := runtime.FromThread(thread)
	addGiven(run, sweeps.V)
	r := snapshot(run, title.V, notes)
	if err := Write(run.Dir, r); err != nil {
		return nil, err
	}
	r, sw, err := prepare(run.Dir, r)
	if err != nil {
		return nil, err
	}
	var names, files []starlark.Value
	for _, s := range sw {
		names = append(names, starlark.String(s.Name))
	}
	for _, p := range PlanPlots(r, sw).All(sw) {
		files = append(files, starlark.String("plots/"+p.File+".png"))
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"path": starlark.String("report.md"), "sweeps": starlark.NewList(names), "plots": starlark.NewList(files),
	}), nil
}

// fileName is a name that becomes a file of the run directory (tables/<name>.csv, plots/<name>.png).
type fileName string

// Unpack implements starlark.Unpacker.
func (n *fileName) Unpack(v starlark.Value) error {
	s, ok := v.(starlark.String)
	if !ok {
		return fmt.Errorf("got %s, want string", v.Type())
	}
	if err := runtime.CheckFileName(string(s)); err != nil {
		return err
	}
	*n = fileName(s)
	return nil
}

// namedTables is a dict name -> SweepResult or list of dicts: tables the plan gives by name.
type namedTables []GivenPoints

// Unpack implements starlark.Unpacker.
func (nt *namedTables) Unpack(v starlark.Value) error {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return fmt.Errorf("got %s, want a dict name -> SweepResult or list of dicts", v.Type())
	}
	for _, item := range d.Items() {
		var name fileName
		var t analysis.Table
		if _, ok := item[0].(starlark.String); !ok {
			return fmt.Errorf("key %s is not a string", item[0])
		}
		if err := name.Unpack(item[0]); err != nil {
			return err
		}
		if err := t.Unpack(item[1]); err != nil {
			return err
		}
		*nt = append(*nt, GivenPoints{Name: string(name), Points: t.Rows})
	}
	return nil
}
