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
	// Twin are the overlays of twin predictions on measurements (Report.Twins).
	Twin []PlotRef
}

// PlanPlots decides which charts the report has, without drawing them.
func PlanPlots(r Report, sweeps []Sweep) Plots {
	ps := Plots{PerSweep: map[string][]PlotRef{}}
	byX := map[string][]Sweep{}
	var xs []string
	for _, s := range sweeps {
		s := s
		// A ramp sweep's few points say little against load; its slices are charted instead.
		ramp := s.hasSlices()
		if ramp {
			ps.PerSweep[s.Name] = append(ps.PerSweep[s.Name], slicePlots(r, s)...)
		}
		if s.has(pointschema.RequestThroughput) && s.has(s.X()) {
			if !ramp {
				ps.PerSweep[s.Name] = append(ps.PerSweep[s.Name], PlotRef{File: "throughput_" + s.Name,
					Title: s.Name + ": throughput vs load", draw: func() (*plot.Plot, error) { return throughputPlot(s, kneeOf(r, s.Name)) }})
			}
			if len(byX[s.X()]) == 0 {
				xs = append(xs, s.X())
			}
			byX[s.X()] = append(byX[s.X()], s)
		}
		if !ramp && len(latencySeries(s)) > 0 {
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
	ps.Twin = twinPlots(r, sweeps)
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
	out = append(out, ps.Twin...)
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
		data, err := renderPlot(p, format)
		if err != nil {
			return fmt.Errorf("plot %s: %w", ref.File, err)
		}
		if err := writeFile(filepath.Join(dir, "plots", ref.File+"."+format), data); err != nil {
			return err
		}
	}
	return nil
}

// renderPlot draws a chart in a format (png, svg) at the report's size.
func renderPlot(p *plot.Plot, format string) ([]byte, error) {
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, format)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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

// ciPoint is a plotted point's interval on y.
type ciPoint struct{ X, Y, Lo, Hi float64 }

// xyCI is the sweep's (x, y) points in load order, skipping absent values and, for a log axis,
// values that are not positive; and the intervals on y of the points that have one (x has none:
// the load is set, not measured). On a log axis an interval reaching zero or below keeps only
// its upper side.
func xyCI(s Sweep, x, y string, logY bool) (plotter.XYs, []ciPoint) {
	var out plotter.XYs
	var cis []ciPoint
	for _, i := range s.sorted() {
		xv, yv := s.value(i, x), s.value(i, y)
		if math.IsNaN(xv) || math.IsNaN(yv) || math.IsInf(xv, 0) || math.IsInf(yv, 0) || (logY && yv <= 0) {
			continue
		}
		out = append(out, plotter.XY{X: xv, Y: yv})
		ci := s.interval(i, y)
		if ci.Unknown() || math.IsInf(ci.Lo, 0) || math.IsInf(ci.Hi, 0) {
			continue
		}
		lo, hi := math.Min(ci.Lo, yv), math.Max(ci.Hi, yv)
		if logY && lo <= 0 {
			lo = yv
		}
		cis = append(cis, ciPoint{X: xv, Y: yv, Lo: lo, Hi: hi})
	}
	return out, cis
}

// bandAbove: a curve with more points than this shows its intervals as a band, since error
// bars that close together only clutter it.
const bandAbove = 12

// addIntervals draws the intervals of series i: error bars, or a translucent band for a dense
// curve. They go under the series' line.
func addIntervals(p *plot.Plot, i int, cis []ciPoint) error {
	if len(cis) == 0 {
		return nil
	}
	c := plotutil.Color(i)
	if len(cis) > bandAbove {
		var edge plotter.XYs
		for _, q := range cis {
			edge = append(edge, plotter.XY{X: q.X, Y: q.Lo})
		}
		for j := len(cis) - 1; j >= 0; j-- {
			edge = append(edge, plotter.XY{X: cis[j].X, Y: cis[j].Hi})
		}
		band, err := plotter.NewPolygon(edge)
		if err != nil {
			return err
		}
		r, g, b, _ := c.RGBA()
		band.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 60}
		band.LineStyle.Width = 0
		p.Add(band)
		return nil
	}
	p.Add(errorBars(c, cis))
	return nil
}

// errorBars draws intervals as error bars in colour c.
func errorBars(c color.Color, cis []ciPoint) *plotter.YErrorBars {
	bars := &plotter.YErrorBars{LineStyle: plotter.DefaultLineStyle, CapWidth: plotter.DefaultCapWidth}
	bars.LineStyle.Color = c
	for _, q := range cis {
		bars.XYs = append(bars.XYs, plotter.XY{X: q.X, Y: q.Y})
		bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{q.Y - q.Lo, q.Hi - q.Y})
	}
	return bars
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

func addSeries(p *plot.Plot, i int, name string, pts plotter.XYs, cis []ciPoint) error {
	if len(pts) == 0 {
		return nil
	}
	if err := addIntervals(p, i, cis); err != nil {
		return err
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

// addShade fills the rectangle [x0, x1] × [y0, y1] lightly: where a knee or a plateau lies at
// the run's confidence. Nothing is drawn for an empty one.
func addShade(p *plot.Plot, c color.NRGBA, x0, x1, y0, y1 float64) error {
	if !(x1 > x0) || !(y1 > y0) {
		return nil
	}
	poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
	if err != nil {
		return err
	}
	poly.Color = c
	poly.LineStyle.Width = 0
	p.Add(poly)
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
	pts, cis := xyCI(s, x, pointschema.RequestThroughput, false)
	p := newPlot(s.Name+": throughput vs "+axisLabel(x), x, pointschema.RequestThroughput, false)
	if len(pts) == 0 {
		return p, nil
	}
	lo, hi := pts[0].X, pts[len(pts)-1].X
	if k != nil && k.X == x {
		// Shades first, so that the curve is drawn over them.
		top := float64(k.MaxThroughput)
		if ci := k.RateCI.stats(); !ci.Unknown() {
			if err := addShade(p, color.NRGBA{R: 200, A: 40}, ci.Lo, ci.Hi, 0, top); err != nil {
				return nil, err
			}
		}
		if ci := k.MaxThroughputCI.stats(); !ci.Unknown() {
			if err := addShade(p, color.NRGBA{R: 200, G: 120, A: 50}, lo, hi, ci.Lo, ci.Hi); err != nil {
				return nil, err
			}
		}
	}
	if err := addSeries(p, 0, s.Name, pts, cis); err != nil {
		return nil, err
	}
	if x == pointschema.RequestRate {
		if err := addLine(p, "ideal (throughput = offered)", color.Gray{Y: 120}, plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}}); err != nil {
			return nil, err
		}
	}
	if k != nil && k.X == x {
		top := float64(k.MaxThroughput)
		knee := "knee at " + fmtNum(float64(k.Rate))
		if ci := k.RateCI.stats(); !ci.Unknown() {
			knee += fmt.Sprintf(" (%s: [%s, %s])", pctLevel(float64(k.Level)), fmtNum(ci.Lo), fmtNum(ci.Hi))
		}
		if err := addLine(p, knee, color.RGBA{R: 200, A: 255},
			plotter.XYs{{X: float64(k.Rate), Y: 0}, {X: float64(k.Rate), Y: top}}); err != nil {
			return nil, err
		}
		if err := addLine(p, "plateau "+fmtCI(top, k.MaxThroughputCI.stats()), color.RGBA{R: 200, G: 120, A: 255},
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
		pts, cis := xyCI(s, s.X(), f, true)
		if err := addSeries(p, i, f, pts, cis); err != nil {
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
		pts, cis := xyCI(s, x, y, logY)
		if err := addSeries(p, i, s.Name, pts, cis); err != nil {
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
