package report

import (
	"os"
	"path/filepath"
	"starlab/builtins/analysis"
	"starlab/runtime"
	"sync"
)

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

// upsert replaces the entry with v's name or appends v: a second table() or plot() of a name
// redraws it.
func upsert[T any](list []T, v T, name func(T) string) []T {
	for i := range list {
		if name(list[i]) == name(v) {
			list[i] = v
			return list
		}
	}
	return append(list, v)
}

// addGiven keeps tables of points the plan passed, except those named like a sweep the run
// measured (then the sweep's own file is used).
func addGiven(run *runtime.Run, tables []GivenPoints) {
	st := stateOf(run)
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, g := range tables {
		if _, err := os.Stat(filepath.Join(run.Dir, "sweeps", g.Name+".json")); err != nil {
			st.given = upsert(st.given, g, func(g GivenPoints) string { return g.Name })
		}
	}
}

// snapshot assembles the report from the analysis record and this package's state.
func snapshot(run *runtime.Run, title, notes string) Report {
	r := Report{Title: title, Notes: notes}
	rec := analysis.FindingsOf(run)
	for _, k := range rec.Knees() {
		r.Knees = append(r.Knees, FromKnee(k.Sweep, k.Knee))
	}
	for _, s := range rec.Scalings() {
		r.Scalings = append(r.Scalings, FromScaling(s.Base, s.Scaled, s.Scaling))
	}
	for _, f := range rec.USLFits() {
		r.USL = append(r.USL, FromUSL(f.N, f.X, f.Fit))
	}
	for _, c := range rec.Comparisons() {
		r.Comparisons = append(r.Comparisons, FromComparison(c))
	}
	for _, h := range rec.Hypotheses() {
		r.Hypotheses = append(r.Hypotheses, FromHypothesis(h))
	}
	st := stateOf(run)
	st.mu.Lock()
	defer st.mu.Unlock()
	r.Tables = append(r.Tables, st.tables...)
	r.Plots = append(r.Plots, st.plots...)
	r.Given = append(r.Given, st.given...)
	return r
}
