package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"starlab/builtins/report"
	"starlab/runtime"
)

// metricList collects --metric, repeatable and comma-separated.
type metricList []string

func (m *metricList) String() string     { return strings.Join(*m, ",") }
func (m *metricList) Set(v string) error { *m = append(*m, v); return nil }

// compareCmd is `starlab compare RUNDIR RUNDIR... [--metric M] [--out DIR]`.
func compareCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", stderr)
	var metrics metricList
	fs.Var(&metrics, "metric", "point field `M` to compare, repeatable or comma-separated (default "+
		strings.Join(report.DefaultCompareMetrics, ",")+")")
	out := fs.String("out", "", "output directory, new or empty (default compare-<UTC timestamp> here)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return &runtime.UsageError{Err: err}
	}
	if len(pos) < 2 {
		return runtime.Usagef("want: starlab compare RUNDIR RUNDIR... [--metric M] [--out DIR] (at least two run directories, got %d)", len(pos))
	}
	checked, err := report.CheckCompareMetrics(metrics)
	if err != nil {
		return &runtime.UsageError{Err: err}
	}
	c, err := report.CompareRuns(pos, checked)
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = "compare-" + time.Now().UTC().Format("20060102T150405Z")
	}
	if err := report.WriteComparison(dir, c); err != nil {
		return err
	}
	fmt.Fprintln(stdout, filepath.Join(dir, "compare.md"))
	return nil
}
