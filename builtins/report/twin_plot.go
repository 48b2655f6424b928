package report

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"starlab/builtins/sweep/pointschema"
)

// twinPlots are the overlay charts of each twin comparison, one per metric: the twin's curve as a
// line, the measurements as markers with their intervals as error bars.
func twinPlots(r Report, sweeps []Sweep) []PlotRef {
	var out []PlotRef
	for _, tc := range r.Twins {
		twin, okT := findSweep(sweeps, tc.Twin)
		meas, okM := findSweep(sweeps, tc.Measured)
		for _, p := range tc.Plots {
			tc, p := tc, p
			out = append(out, PlotRef{File: p.File, Title: twinPlotTitle(tc, p.Metric), draw: func() (*plot.Plot, error) {
				if !okT || !okM {
					return nil, fmt.Errorf("plot %s: sweeps %s and %s are not both in sweeps/", p.File, tc.Twin, tc.Measured)
				}
				return twinPlot(tc, twin, meas, p.Metric)
			}})
		}
	}
	return out
}

func twinPlotTitle(tc TwinComparison, metric string) string {
	return fmt.Sprintf("%s: twin (sweep %s) vs measured (sweep %s)", metricLabel(metric), tc.Twin, tc.Measured)
}

// twinLogY: TTFT spans orders of magnitude across a knee, so it is drawn on a log axis.
func twinLogY(metric string) bool {
	return metric == pointschema.MedianTTFTMs || metric == pointschema.P99TTFTMs
}

func twinPlot(tc TwinComparison, twin, meas Sweep, metric string) (*plot.Plot, error) {
	logY := twinLogY(metric)
	y := metricLabel(metric)
	if logY {
		y += ", log"
	}
	p := newPlot(metricLabel(metric)+": twin vs measured", tc.X, y, logY)
	if pts, _ := xyCI(twin, tc.X, metric, logY); len(pts) > 0 {
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = seriesColor(0)
		l.Width = vg.Points(1.5)
		p.Add(l)
		legendAdd(p, "twin (sweep "+twin.Name+")", l)
	}
	if pts, cis := xyCI(meas, tc.X, metric, logY); len(pts) > 0 {
		if len(cis) > 0 {
			p.Add(errorBars(seriesColor(1), cis))
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		s.Color = seriesColor(1)
		s.Shape = draw.CircleGlyph{}
		s.Radius = vg.Points(3)
		p.Add(s)
		legendAdd(p, "measured (sweep "+meas.Name+")", s)
	}
	return p, nil
}
