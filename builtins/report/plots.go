package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

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
			draw: func() (*plot.Plot, error) { return overlayPlot(r, group, x) }})
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
	c := seriesColor(i)
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
		band.Color = translucent(c, 60)
		band.LineStyle.Width = 0
		p.Add(band)
		return nil
	}
	p.Add(errorBars(c, cis))
	return nil
}

// translucent is c at opacity a (0-255).
func translucent(c color.Color, a uint8) color.NRGBA {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}

// errorBars draws intervals as error bars in colour c.
func errorBars(c color.Color, cis []ciPoint) *plotter.YErrorBars {
	bars := &plotter.YErrorBars{LineStyle: plotter.DefaultLineStyle, CapWidth: vg.Points(4)}
	bars.LineStyle.Color = c
	bars.LineStyle.Width = vg.Points(0.75)
	for _, q := range cis {
		bars.XYs = append(bars.XYs, plotter.XY{X: q.X, Y: q.Y})
		bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{q.Y - q.Lo, q.Hi - q.Y})
	}
	return bars
}

// newPlot is an empty chart in the figure format (figure.go): fonts, 1-2-5 ticks (log y when
// logY), a light grid. y is a field name or a label.
func newPlot(title, x, y string, logY bool) *plot.Plot {
	p := plot.New()
	styleText(p)
	p.Title.Text = title
	p.X.Label.Text = axisLabel(x)
	p.Y.Label.Text = axisLabel(y)
	p.X.Tick.Marker = linearTicks{}
	p.Y.Tick.Marker = linearTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	grid.Vertical.Width = vg.Points(0.5)
	grid.Horizontal.Width = vg.Points(0.5)
	p.Add(grid)
	if logY {
		setLog(&p.Y)
	}
	return p
}

// axisLabel is an axis's title for a field; anything else is taken as the label.
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

// addSeries draws series i (colour and marker i) with its intervals, and names it in the legend.
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
	l.Color = seriesColor(i)
	l.Width = vg.Points(1)
	s.Color = seriesColor(i)
	s.Shape = plotutil.Shape(i)
	s.Radius = vg.Points(2)
	p.Add(l, s)
	legendAdd(p, name, l, s)
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
	l.Width = vg.Points(1)
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	p.Add(l)
	legendAdd(p, name, l)
	return nil
}

// kneeColor marks a single sweep's knee; on an overlay each knee takes its sweep's colour.
var kneeColor = color.RGBA{R: 190, G: 20, B: 20, A: 255}

// kneeBracket is where the knee lies: its interval at the run's confidence when it has one, else
// the measured loads it lies between; ok is false without either.
func kneeBracket(k *Knee) (lo, hi float64, level string, ok bool) {
	if ci := k.RateCI.stats(); !ci.Unknown() {
		return ci.Lo, ci.Hi, pctLevel(float64(k.Level)) + " ", true
	}
	lo, hi = float64(k.Bracket[0]), float64(k.Bracket[1])
	return lo, hi, "", !math.IsNaN(lo) && !math.IsNaN(hi) && hi >= lo
}

// kneeLabel is a knee's legend entry: "knee 13.5, 95% bracket [13.5, 18]".
func kneeLabel(prefix string, k *Knee) string {
	out := prefix + fmtNum(float64(k.Rate))
	if lo, hi, level, ok := kneeBracket(k); ok {
		out += fmt.Sprintf(", %sbracket [%s, %s]", level, fmtNum(lo), fmtNum(hi))
	}
	return out
}

// atX is the curve's y at x, interpolated between its points (which are in x order); NaN outside.
func atX(pts plotter.XYs, x float64) float64 {
	for i := range pts {
		if pts[i].X == x {
			return pts[i].Y
		}
		if i > 0 && pts[i-1].X < x && x < pts[i].X {
			f := (x - pts[i-1].X) / (pts[i].X - pts[i-1].X)
			return pts[i-1].Y + f*(pts[i].Y-pts[i-1].Y)
		}
	}
	return math.NaN()
}

// diamond is the knee's marker: a filled diamond with a dark outline, unlike any series marker.
type diamond struct{}

// DrawGlyph implements draw.GlyphDrawer.
func (diamond) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	pts := []vg.Point{{X: pt.X, Y: pt.Y + r}, {X: pt.X + r, Y: pt.Y}, {X: pt.X, Y: pt.Y - r}, {X: pt.X - r, Y: pt.Y}}
	c.FillPolygon(sty.Color, pts)
	var path vg.Path
	path.Move(pts[0])
	for _, q := range pts[1:] {
		path.Line(q)
	}
	path.Close()
	c.SetLineStyle(draw.LineStyle{Color: color.Black, Width: vg.Points(0.6)})
	c.Stroke(path)
}

// addKneeMark marks a knee at (rate, y): a diamond in colour c, with a horizontal bar over its
// bracket. The legend entry, when name is not empty, shows the same.
func addKneeMark(p *plot.Plot, name string, c color.Color, k *Knee, y float64) error {
	if math.IsNaN(y) {
		return nil
	}
	rate := float64(k.Rate)
	var thumbs []plot.Thumbnailer
	if lo, hi, _, ok := kneeBracket(k); ok && hi > lo {
		bar, err := plotter.NewXErrorBars(kneeBar{{X: rate, Y: y, lo: rate - lo, hi: hi - rate}})
		if err != nil {
			return err
		}
		bar.LineStyle.Color = translucent(c, 150)
		bar.LineStyle.Width = vg.Points(2.5)
		bar.CapWidth = vg.Points(6)
		p.Add(bar)
		thumbs = append(thumbs, barThumb{bar.LineStyle})
	}
	sc, err := plotter.NewScatter(plotter.XYs{{X: rate, Y: y}})
	if err != nil {
		return err
	}
	sc.Shape = diamond{}
	sc.Color = c
	sc.Radius = vg.Points(4)
	p.Add(sc)
	if name != "" {
		legendAdd(p, name, append(thumbs, sc)...)
	}
	return nil
}

// barThumb is a bracket's legend sample: a horizontal bar with end caps.
type barThumb struct{ sty draw.LineStyle }

// Thumbnail implements plot.Thumbnailer.
func (b barThumb) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	h := (c.Max.Y - c.Min.Y) / 3
	x0, x1 := c.Min.X+vg.Points(1), c.Max.X-vg.Points(1)
	c.StrokeLines(b.sty, []vg.Point{{X: x0, Y: y}, {X: x1, Y: y}}, []vg.Point{{X: x0, Y: y - h}, {X: x0, Y: y + h}},
		[]vg.Point{{X: x1, Y: y - h}, {X: x1, Y: y + h}})
}

// kneeBar is one knee's bracket as an x error bar.
type kneeBar []struct {
	X, Y, lo, hi float64
}

func (b kneeBar) Len() int                        { return len(b) }
func (b kneeBar) XY(i int) (float64, float64)     { return b[i].X, b[i].Y }
func (b kneeBar) XError(i int) (float64, float64) { return b[i].lo, b[i].hi }

func throughputPlot(s Sweep, k *Knee) (*plot.Plot, error) {
	x := s.X()
	pts, cis := xyCI(s, x, pointschema.RequestThroughput, false)
	p := newPlot(s.Name+": throughput", x, pointschema.RequestThroughput, false)
	if len(pts) == 0 {
		return p, nil
	}
	p.Y.Min = 0
	lo, hi := pts[0].X, pts[len(pts)-1].X
	if k != nil && (k.X != x || !k.Found) {
		k = nil
	}
	if k != nil {
		// Shades first, so that the curve is drawn over them.
		top := math.Max(float64(k.MaxThroughput), pts[len(pts)-1].Y)
		if ci := k.MaxThroughputCI.stats(); !ci.Unknown() {
			top = math.Max(top, ci.Hi)
			if err := addShade(p, color.NRGBA{R: 230, G: 140, B: 20, A: 45}, lo, hi, ci.Lo, ci.Hi); err != nil {
				return nil, err
			}
		}
		if blo, bhi, _, ok := kneeBracket(k); ok {
			if err := addShade(p, translucent(kneeColor, 35), blo, bhi, 0, top); err != nil {
				return nil, err
			}
		}
	}
	if err := addSeries(p, 0, s.Name, pts, cis); err != nil {
		return nil, err
	}
	if x == pointschema.RequestRate {
		if err := addLine(p, "ideal (throughput = offered)", color.Gray{Y: 110}, plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}}); err != nil {
			return nil, err
		}
	}
	if k != nil {
		plateau := float64(k.MaxThroughput)
		if err := addLine(p, "plateau "+fmtCI(plateau, k.MaxThroughputCI.stats()), color.RGBA{R: 210, G: 120, B: 0, A: 255},
			plotter.XYs{{X: lo, Y: plateau}, {X: hi, Y: plateau}}); err != nil {
			return nil, err
		}
		if err := addKneeMark(p, kneeLabel("knee ", k), kneeColor, k, atX(pts, float64(k.Rate))); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// latencySeries lists the latency fields a sweep has, in the order they are drawn: median and
// p99 of TTFT and of E2EL (the mean stands in for a missing median).
func latencySeries(s Sweep) []string {
	var out []string
	for _, group := range [][]string{{pointschema.MedianTTFTMs, pointschema.MeanTTFTMs}, {pointschema.P99TTFTMs},
		{pointschema.MedianE2ELMs, pointschema.MeanE2ELMs}, {pointschema.P99E2ELMs}} {
		for _, f := range group {
			if s.has(f) && s.has(s.X()) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

func latencyPlot(s Sweep) (*plot.Plot, error) {
	p := newPlot(s.Name+": latency", s.X(), "latency (ms, log)", true)
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
		if err := addLine(p, "ideal (throughput = offered)", color.Gray{Y: 110}, plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// logAbove: an overlay whose loads span this factor or more is drawn on log-log axes, so that a
// 1-GPU sweep is not squeezed into a corner by a 4-GPU one.
const logAbove = 10

// overlayPlot is the full-width chart of every sweep on one load axis: throughput against load,
// each sweep's knee (found on that axis) a diamond in the sweep's colour with a bar over its
// bracket.
func overlayPlot(r Report, group []Sweep, x string) (*plot.Plot, error) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range group {
		pts, _ := xyCI(s, x, pointschema.RequestThroughput, false)
		for _, pt := range pts {
			lo, hi = math.Min(lo, pt.X), math.Max(hi, pt.X)
		}
	}
	logXY := lo > 0 && hi/lo >= logAbove
	title := "All sweeps: throughput vs " + axisLabel(x)
	if logXY {
		title += " (log-log)"
	}
	p, err := seriesPlot(title, group, x, pointschema.RequestThroughput, logXY, x == pointschema.RequestRate)
	if err != nil {
		return nil, err
	}
	markWide(p)
	if logXY {
		setLog(&p.X)
	}
	named := false
	for i, s := range group {
		k := kneeOf(r, s.Name)
		if k == nil || k.X != x {
			continue
		}
		pts, _ := xyCI(s, x, pointschema.RequestThroughput, logXY)
		name := ""
		if !named {
			name, named = "knee (bar: bracket), in its sweep's colour", true
		}
		if err := addKneeMark(p, name, seriesColor(i), k, atX(pts, float64(k.Rate))); err != nil {
			return nil, err
		}
	}
	return p, nil
}
