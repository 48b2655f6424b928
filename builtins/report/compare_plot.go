package report

import (
	"strings"

	"gonum.org/v1/plot"

	"starlab/builtins/sweep/pointschema"
)

// comparePlotFile is the overlay of one metric of one sweep across runs, plots/<file>.png|svg.
func comparePlotFile(sweep, metric string) string {
	return sweep + "_" + strings.ReplaceAll(metric, ".", "_")
}

// compareLogY: latencies span orders of magnitude across a knee, so they are drawn on a log axis.
func compareLogY(metric string) bool { return strings.HasSuffix(metric, "_ms") }

// comparePlots are the overlays of every shared sweep, one per metric: one series per run on the
// load axis of the first run that has the sweep, with error bars where points have intervals.
// Throughput against offered rate carries the ideal line, as the report's overlays do.
func comparePlots(c RunComparison) []PlotRef {
	var out []PlotRef
	for _, cs := range c.Sweeps {
		x := cs.sweeps[0].X()
		for _, p := range cs.Plots {
			sweeps, metric := cs.sweeps, p.Metric
			title := cs.Name + ": " + metric + " across runs"
			ideal := metric == pointschema.RequestThroughput && x == pointschema.RequestRate
			out = append(out, PlotRef{File: p.File, Title: title, draw: func() (*plot.Plot, error) {
				p, err := seriesPlot(title, sweeps, x, metric, compareLogY(metric), ideal)
				if err == nil && compareLogY(metric) {
					p.Y.Label.Text = metric + " (log scale)"
				}
				return p, err
			}})
		}
	}
	return out
}
