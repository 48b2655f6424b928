// Package report writes a run's report: report.json (everything structured), report.md (the
// human-readable account, byte-identical for the same seed in --virtual), plots as PNG and SVG,
// and CSVs of every sweep and table. Everything is rebuilt from the run directory alone by
// Regenerate, so `starlab report RUNDIR` can redo it after the plan has ended. Every figure that
// has an interval is shown with it (num.go's fmtCI states the rule, the report's legend repeats
// it). The engine files do not import Starlark; the Starlark bindings are binding.go, which
// registers the report, table and plot builtins, binding_table.go (table) and binding_plot.go
// (plot); runstate.go keeps what they add to the run's report. twin.go reads the run's
// calibrations and sets each calibrated twin's sweeps against its real server's.
package report
