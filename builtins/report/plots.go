package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"starlab/builtins/sweep/pointschema"
)

// PlotRef is one chart: plots/<File>.png and plots/<File>.svg.
type PlotRef struct {
	File  string
	Title string
	draw  func() (*plot.Plot, error)
}

// Plots are the charts of a report: per sweep (throughput, latency) and overlays of several
// sweeps sharing a load axis. Custom plot() charts come from Report.Plots.
type Plots struct {
	PerSweep map[string][]PlotRef
	Overlays []PlotRef
	Custom   []PlotRef
}

// PlanPlots decides which charts the report has, without drawing them.
func PlanPlots(r Report, sweeps []Sweep) Plots {
	ps := Plots{PerSweep: map[string][]PlotRef{}}
	byX := map[string][]Sweep{}
	var xs []string
	for _, s := range sweeps {
		s := s
		if s.has(pointschema.RequestThroughput) && s.has(s.X()) {
			ps.PerSweep[s.Name] = append(ps.PerSweep[s.Name], PlotRef{File: "throughput_" + s.Name,
				Title: s.Name + ": throughput vs load", draw: func() (*plot.Plot, error) { return throughputPlot(s, kneeOf(r, s.Name)) }})
			if len(byX[s.X()]) == 0 {
				xs = append(xs, s.X())
			}
			byX[s.X()] = append(byX[s.X()], s)
		}
		if len(latencySeries(s)) > 0 {
			ps.PerSweep[s.Name] = append(ps.PerSweep[s.Name], PlotRef{File: "latency_" + s.Name,
				Title: s.Name + ": latency vs load", draw: func() (*plot.Plot, error) { return latencyPlot(s) }})
		}
	}
	for _, x := range xs {
		group := byX[x]
		if len(group) < 2 {
			continue
		}
		ps.Overlays = append(ps.Overlays, PlotRef{File: "overlay_throughput_" + x, Title: "all sweeps: throughput vs " + x,
			draw: func() (*plot.Plot, error) {
				return seriesPlot("Throughput vs "+x, group, x, pointschema.RequestThroughput, false, x == pointschema.RequestRate)
			}})
	}
	for _, spec := range r.Plots {
		spec := spec
		ps.Custom = append(ps.Custom, PlotRef{File: spec.Name, Title: spec.Name, draw: func() (*plot.Plot, error) {
			var chosen []Sweep
			for _, name := range spec.Sweeps {
				s, ok := findSweep(sweeps, name)
				if !ok {
					return nil, fmt.Errorf("plot %s: no sweep named %q", spec.Name, name)
				}
				chosen = append(chosen, s)
			}
			return seriesPlot(spec.Name, chosen, spec.X, spec.Y, spec.LogY, false)
		}})
	}
	return ps
}

// All lists every chart once.
func (ps Plots) All(sweeps []Sweep) []PlotRef {
	var out []PlotRef
	for _, s := range sweeps {
		out = append(out, ps.PerSweep[s.Name]...)
	}
	out = append(out, ps.Overlays...)
	return append(out, ps.Custom...)
}

// WritePlots draws every chart as PNG and SVG under dir/plots.
func WritePlots(dir string, refs []PlotRef) error {
	for _, ref := range refs {
		if err := writePlot(dir, ref); err != nil {
			return err
		}
	}
	return nil
}

func writePlot(dir string, ref PlotRef) error {
	p, err := ref.draw()
	if err != nil {
		return err
	}
	for _, format := range []string{"png", "svg"} {
		wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, format)
		if err != nil {
			return fmt.Errorf("plot %s: %w", ref.File, err)
		}
		var buf bytes.Buffer
		if _, err := wt.WriteTo(&buf); err != nil {
			return fmt.Errorf("plot %s: %w", ref.File, err)
		}
		if err := writeFile(filepath.Join(dir, "plots", ref.File+"."+format), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func findSweep(sweeps []Sweep, name string) (Sweep, bool) {
	for _, s := range sweeps {
		if s.Name == name {
			return s, true
		}
	}
	return Sweep{}, false
}

// kneeOf is the first found knee of the sweep on throughput, to mark on its chart.
func kneeOf(r Report, sweep string) *Knee {
	for i, k := range r.Knees {
		if k.Sweep == sweep && k.Found && k.Y == pointschema.RequestThroughput {
			return &r.Knees[i]
		}
	}
	return nil
}

// xy is the sweep's (x, y) points in load order, skipping absent values and, for a log axis,
// values that are not positive.
func xy(s Sweep, x, y string, logY bool) plotter.XYs {
	var out plotter.XYs
	for _, i := range s.sorted() {
		xv, yv := s.value(i, x), s.value(i, y)
		if math.IsNaN(xv) || math.IsNaN(yv) || math.IsInf(xv, 0) || math.IsInf(yv, 0) || (logY && yv <= 0) {
			continue
		}
		out = append(out, plotter.XY{X: xv, Y: yv})
	}
	return out
}

func newPlot(title, x, y string, logY bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = axisLabel(x)
	p.Y.Label.Text = axisLabel(y)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	return p
}

func axisLabel(field string) string {
	switch field {
	case pointschema.RequestRate:
		return "offered load (req/s)"
	case pointschema.MaxConcurrency:
		return "concurrency"
	case pointschema.RequestThroughput:
		return "throughput (req/s)"
	}
	return field
}

func addSeries(p *plot.Plot, i int, name string, pts plotter.XYs) error {
	if len(pts) == 0 {
		return nil
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(i)
	s.Color = plotutil.Color(i)
	s.Shape = plotutil.Shape(i)
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

// addLine draws a dashed guide (the ideal y = x, the knee, the plateau).
func addLine(p *plot.Plot, name string, c color.Color, pts plotter.XYs) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = c
	l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

func throughputPlot(s Sweep, k *Knee) (*plot.Plot, error) {
	x := s.X()
	pts := xy(s, x, pointschema.RequestThroughput, false)
	p := newPlot(s.Name+": throughput vs "+axisLabel(x), x, pointschema.RequestThroughput, false)
	if err := addSeries(p, 0, s.Name, pts); err != nil {
		return nil, err
	}
	if len(pts) == 0 {
		return p, nil
	}
	lo, hi := pts[0].X, pts[len(pts)-1].X
	if x == pointschema.RequestRate {
		if err := addLine(p, "ideal (throughput = offered)", color.Gray{Y: 120}, plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}}); err != nil {
			return nil, err
		}
	}
	if k != nil && k.X == x {
		top := float64(k.MaxThroughput)
		if err := addLine(p, "knee at "+fmtNum(float64(k.Rate)), color.RGBA{R: 200, A: 255},
			plotter.XYs{{X: float64(k.Rate), Y: 0}, {X: float64(k.Rate), Y: top}}); err != nil {
			return nil, err
		}
		if err := addLine(p, "plateau "+fmtNum(top), color.RGBA{R: 200, G: 120, A: 255},
			plotter.XYs{{X: lo, Y: top}, {X: hi, Y: top}}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// latencySeries lists the latency fields a sweep has, in the order they are drawn.
func latencySeries(s Sweep) []string {
	var out []string
	for _, f := range []string{pointschema.MedianTTFTMs, pointschema.P99TTFTMs, pointschema.MeanTTFTMs,
		pointschema.MedianE2ELMs, pointschema.P99E2ELMs, pointschema.MeanE2ELMs} {
		if s.has(f) && s.has(s.X()) {
			out = append(out, f)
		}
	}
	return out
}

func latencyPlot(s Sweep) (*plot.Plot, error) {
	p := newPlot(s.Name+": latency vs "+axisLabel(s.X()), s.X(), "latency (ms, log)", true)
	for i, f := range latencySeries(s) {
		if err := addSeries(p, i, f, xy(s, s.X(), f, true)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// seriesPlot overlays y against x for several sweeps.
func seriesPlot(title string, sweeps []Sweep, x, y string, logY, ideal bool) (*plot.Plot, error) {
	p := newPlot(title, x, y, logY)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range sweeps {
		pts := xy(s, x, y, logY)
		if err := addSeries(p, i, s.Name, pts); err != nil {
			return nil, err
		}
		for _, pt := range pts {
			lo, hi = math.Min(lo, pt.X), math.Max(hi, pt.X)
		}
	}
	if ideal && lo < hi {
		if err := addLine(p, "ideal (throughput = offered)", color.Gray{Y: 120}, plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}}); err != nil {
			return nil, err
		}
	}
	return p, nil
}
