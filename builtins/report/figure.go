package report

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image/color"
	"math"
	goruntime "runtime"
	"strconv"
	"sync"
	"weak"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure format. The charts are meant to be pasted into a two-column paper as they are:
//
//   - size: a chart is 3.5 in × 2.6 in, one column of a two-column page (IEEE/ACM columns are
//     3.3–3.5 in); an overlay of several sweeps spans the page, 7 in × 3 in;
//   - text: Liberation Sans, 9 pt for the title and 8 pt for axis labels, tick labels and the
//     legend, so that at 100 % it reads like a caption (papers set 8–10 pt);
//   - resolution: PNG at 300 dpi (1050 × 780 px for one column), the resolution stated in the
//     file (pHYs) so that a word processor pastes it at its size; the SVG is the same figure;
//   - the legend sits below the data area, in as many columns as fit, never over points;
//   - axes: log axes tick at 1-2-5 (1, 2, 5, 10, 20, 50, ...; only powers of ten when that
//     crowds them), linear axes at steps of 1, 2 or 5 × 10^k, labels without trailing zeros.
const (
	figureDPI     = 300
	narrowW       = 3.5 * vg.Inch
	narrowH       = 2.6 * vg.Inch
	wideW         = 7 * vg.Inch
	wideH         = 3 * vg.Inch
	titlePt       = 9
	textPt        = 8
	legendThumb   = 14  // legend sample width, points
	legendColGap  = 10  // space between legend columns, points
	legendPad     = 1.5 // space between legend lines, points
	figureMargin  = 3   // blank edge around the figure, points
	maxTickLabels = 8   // labelled ticks an axis carries at most
)

// figureFont is the sans-serif face of every chart's text.
var figureFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// seriesColors are the colours of series 0, 1, ...: darker than gonum's default soft palette,
// so that thin lines stay visible in print. compare*.go and every chart use seriesColor.
var seriesColors = plotutil.DarkColors

// seriesColor is the colour of series i.
func seriesColor(i int) color.Color { return seriesColors[i%len(seriesColors)] }

// legendEntry is one line of a chart's legend: a label and the samples drawn before it.
type legendEntry struct {
	text   string
	thumbs []plot.Thumbnailer
}

// figure is what a chart needs beyond its *plot.Plot: its legend (gonum's Legend keeps its
// entries to itself, and the legend is laid out here, in columns outside the data area) and its
// width. It lives as long as the plot does.
type figure struct {
	mu     sync.Mutex
	legend []legendEntry
	wide   bool
}

var figures sync.Map // weak.Pointer[plot.Plot] -> *figure

// figureOf is p's figure, created on first use and dropped when p is collected.
func figureOf(p *plot.Plot) *figure {
	key := weak.Make(p)
	if f, ok := figures.Load(key); ok {
		return f.(*figure)
	}
	f, loaded := figures.LoadOrStore(key, &figure{})
	if !loaded {
		goruntime.AddCleanup(p, func(k weak.Pointer[plot.Plot]) { figures.Delete(k) }, key)
	}
	return f.(*figure)
}

// legendAdd adds a legend entry to p. Entries added to p.Legend directly are drawn too, after
// these, in one column.
func legendAdd(p *plot.Plot, name string, thumbs ...plot.Thumbnailer) {
	f := figureOf(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.legend = append(f.legend, legendEntry{text: name, thumbs: thumbs})
}

// legendTexts lists p's legend entries (those added with legendAdd), for tests.
func legendTexts(p *plot.Plot) []string {
	f := figureOf(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.legend {
		out = append(out, e.text)
	}
	return out
}

// markWide makes p a full-width (7 in) figure.
func markWide(p *plot.Plot) {
	f := figureOf(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wide = true
}

// figureSize is p's width and height.
func figureSize(p *plot.Plot) (vg.Length, vg.Length) {
	f := figureOf(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wide {
		return wideW, wideH
	}
	return narrowW, narrowH
}

// styleText sets every text of p in the figure font and sizes, and the small ticks of a small
// figure.
func styleText(p *plot.Plot) {
	p.Title.TextStyle.Font = font.From(figureFont, titlePt)
	p.Title.Padding = vg.Points(4)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(figureFont, textPt)
		a.Tick.Label.Font = font.From(figureFont, textPt)
		a.Tick.Length = vg.Points(3)
		a.Padding = vg.Points(2)
		a.Label.Padding = vg.Points(2)
	}
	p.Legend.TextStyle.Font = font.From(figureFont, textPt)
	p.Legend.ThumbnailWidth = vg.Points(legendThumb)
}

// renderPlot draws a chart in a format (png, svg) at its size (figureSize); a PNG at 300 dpi.
func renderPlot(p *plot.Plot, format string) ([]byte, error) {
	w, h := figureSize(p)
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(figureDPI))}
	case "svg":
		c = vgsvg.New(w, h)
	default:
		var err error
		if c, err = draw.NewFormattedCanvas(w, h, format); err != nil {
			return nil, err
		}
	}
	if err := drawFigure(p, draw.New(c)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	if format == "png" {
		return withDPI(buf.Bytes(), figureDPI)
	}
	return buf.Bytes(), nil
}

// drawFigure draws p with its legend below the data area, aligned with it. The axis titles are
// drawn here too, centred on the data area: gonum centres them on the middle of the data range,
// which on a log axis lies near its end and pushes the data area aside.
func drawFigure(p *plot.Plot, c draw.Canvas) (err error) {
	defer func() {
		// gonum panics on what it cannot draw (an axis it cannot scale); a bad chart is an error
		// of that chart, not of the run.
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing %q: %v", p.Title.Text, r)
		}
	}()
	fixLogRange(&p.X)
	fixLogRange(&p.Y)
	c = draw.Crop(c, figureMargin, -figureMargin, figureMargin, -figureMargin)
	f := figureOf(p)
	f.mu.Lock()
	entries := append([]legendEntry(nil), f.legend...)
	f.mu.Unlock()

	xLabel, yLabel := p.X.Label.Text, p.Y.Label.Text
	p.X.Label.Text, p.Y.Label.Text = "", ""
	defer func() { p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel }()
	xsty, ysty := p.X.Label.TextStyle, p.Y.Label.TextStyle
	var xLabelH, yLabelW vg.Length
	if xLabel != "" {
		xLabelH = xsty.Height(xLabel) + p.X.Label.Padding
	}
	if yLabel != "" {
		yLabelW = ysty.Height(yLabel) + p.Y.Label.Padding
	}

	direct := p.Legend
	direct.Top, direct.Left = true, true
	directH := direct.Rectangle(c).Size().Y
	sty := direct.TextStyle
	probe := p.DataCanvas(draw.Crop(c, yLabelW, 0, xLabelH, 0))
	cols := legendColumns(entries, sty, c.Max.X-min(probe.Min.X, c.Min.X+c.Size().X/8))
	rows := 0
	if len(cols) > 0 {
		rows = len(cols[0])
	}
	rowH := entryHeight(entries, sty) + vg.Points(legendPad)
	legendH := vg.Length(rows)*rowH + directH
	if legendH > 0 {
		legendH += vg.Points(3)
	}
	plotC := draw.Crop(c, yLabelW, 0, legendH+xLabelH, 0)
	p.Legend = plot.NewLegend()
	p.Legend.TextStyle = sty
	p.Draw(plotC)
	p.Legend = direct
	data := p.DataCanvas(plotC)
	if xLabel != "" {
		c.FillText(xsty, vg.Point{X: data.Center().X, Y: c.Min.Y + legendH + xsty.FontExtents().Descent}, xLabel)
	}
	if yLabel != "" {
		rot := ysty
		rot.Rotation += math.Pi / 2
		c.FillText(rot, vg.Point{X: c.Min.X + ysty.Height(yLabel) - ysty.FontExtents().Descent, Y: data.Center().Y}, yLabel)
	}
	if legendH == 0 {
		return nil
	}
	// Aligned with the data area, or further left when it would run off the figure.
	var total vg.Length
	for _, col := range cols {
		total += columnWidth(col, sty) + vg.Points(legendColGap)
	}
	x := max(c.Min.X, min(data.Min.X, c.Max.X-total+vg.Points(legendColGap)))
	top := c.Min.Y + legendH
	for _, col := range cols {
		l := plot.NewLegend()
		l.TextStyle, l.Top, l.Left, l.ThumbnailWidth, l.Padding = sty, true, true, vg.Points(legendThumb), vg.Points(legendPad)
		for _, e := range col {
			l.Add(e.text, e.thumbs...)
		}
		lc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: c.Min.Y}, Max: vg.Point{X: c.Max.X, Y: top}}}
		l.Draw(lc)
		x += columnWidth(col, sty) + vg.Points(legendColGap)
	}
	if directH > 0 {
		dc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: data.Min.X, Y: c.Min.Y},
			Max: vg.Point{X: c.Max.X, Y: top - vg.Length(rows)*rowH}}}
		direct.Draw(dc)
	}
	return nil
}

// entryHeight is the height of one legend line.
func entryHeight(entries []legendEntry, sty text.Style) vg.Length {
	var h vg.Length
	for _, e := range entries {
		h = max(h, sty.Rectangle(e.text).Max.Y)
	}
	return h
}

// columnWidth is the width a legend column takes: sample, a space, the longest label.
func columnWidth(col []legendEntry, sty text.Style) vg.Length {
	var w vg.Length
	for _, e := range col {
		w = max(w, sty.Rectangle(" "+e.text).Max.X)
	}
	return w + vg.Points(legendThumb)
}

// legendColumns splits the entries into the most columns (filled top to bottom, then left to
// right) that fit the width.
func legendColumns(entries []legendEntry, sty text.Style, width vg.Length) [][]legendEntry {
	if len(entries) == 0 {
		return nil
	}
	split := func(k int) [][]legendEntry {
		rows := (len(entries) + k - 1) / k
		var cols [][]legendEntry
		for i := 0; i < len(entries); i += rows {
			cols = append(cols, entries[i:min(i+rows, len(entries))])
		}
		return cols
	}
	for k := len(entries); k > 1; k-- {
		cols := split(k)
		var w vg.Length
		for _, col := range cols {
			w += columnWidth(col, sty)
		}
		w += vg.Points(legendColGap) * vg.Length(len(cols)-1)
		if w <= width {
			return cols
		}
	}
	return split(1)
}

// withDPI states the resolution in a PNG: a pHYs chunk (pixels per metre) right after IHDR.
func withDPI(png []byte, dpi int) ([]byte, error) {
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, IHDR length, type, data, CRC
	if len(png) < ihdrEnd || string(png[12:16]) != "IHDR" {
		return nil, fmt.Errorf("png: no IHDR chunk where expected")
	}
	ppm := uint32(math.Round(float64(dpi) / 0.0254))
	chunk := make([]byte, 0, 4+4+9+4)
	chunk = binary.BigEndian.AppendUint32(chunk, 9)
	chunk = append(chunk, "pHYs"...)
	chunk = binary.BigEndian.AppendUint32(chunk, ppm)
	chunk = binary.BigEndian.AppendUint32(chunk, ppm)
	chunk = append(chunk, 1) // unit: metre
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := make([]byte, 0, len(png)+len(chunk))
	out = append(out, png[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, png[ihdrEnd:]...), nil
}

// logScale is a log axis that draws rather than panics when its range reaches zero (an axis
// with no data, or one value): the range is then taken as a decade around what it has.
type logScale struct{}

// Normalize implements plot.Normalizer.
func (logScale) Normalize(min, max, x float64) float64 {
	if max <= 0 {
		max = 1
	}
	if min <= 0 || min >= max {
		min = max / 10
	}
	if x <= 0 {
		x = min
	}
	return (math.Log(x) - math.Log(min)) / (math.Log(max) - math.Log(min))
}

// setLog makes an axis logarithmic with 1-2-5 ticks.
func setLog(a *plot.Axis) {
	a.Scale = logScale{}
	a.Tick.Marker = logTicks{}
}

// fixLogRange widens a log axis whose range is one value, or reaches zero, to a range it can
// draw.
func fixLogRange(a *plot.Axis) {
	if _, ok := a.Scale.(logScale); !ok {
		return
	}
	if a.Max <= 0 || math.IsInf(a.Max, 0) || math.IsNaN(a.Max) {
		a.Min, a.Max = 1, 10
		return
	}
	if a.Min <= 0 || math.IsInf(a.Min, 0) || math.IsNaN(a.Min) {
		a.Min = a.Max / 10
	}
	if a.Min >= a.Max {
		a.Min, a.Max = a.Max/2, a.Max*2
	}
	// End on labelled values: the 1-2-5 values just outside the data, at most 2.5 times away.
	a.Min, a.Max = step125(a.Min, false), step125(a.Max, true)
}

// step125 is the nearest of 1, 2, 5 × 10^k at or above v (up) or at or below it.
func step125(v float64, up bool) float64 {
	k := math.Floor(math.Log10(v))
	best, found := v, false
	for _, e := range []float64{k - 1, k, k + 1} {
		for _, m := range []float64{1, 2, 5} {
			c := roundSig(m * math.Pow(10, e))
			if (up && c >= v*(1-1e-12) && (!found || c < best)) || (!up && c <= v*(1+1e-12) && (!found || c > best)) {
				best, found = c, true
			}
		}
	}
	return best
}

// logTicks marks a log axis at 1, 2 and 5 times each power of ten in range, labelled when no
// more than maxTickLabels of them fit in; otherwise only the powers of ten are labelled. A range
// narrower than that (13 to 18) gets linear ticks, since a log axis that short is nearly linear.
// Between labels, minor ticks mark every integer multiple of each power of ten.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > 0) {
		return nil
	}
	if !(min > 0) || min >= max {
		min = max / 10
	}
	lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	in := func(v float64) bool { return v >= min*(1-1e-9) && v <= max*(1+1e-9) }
	var oneTwoFive, powers []float64
	for k := lo; k <= hi; k++ {
		for _, m := range []float64{1, 2, 5} {
			if v := roundSig(m * math.Pow(10, float64(k))); in(v) {
				oneTwoFive = append(oneTwoFive, v)
				if m == 1 {
					powers = append(powers, v)
				}
			}
		}
	}
	labelled := oneTwoFive
	if len(labelled) > maxTickLabels {
		labelled = powers
	}
	if len(labelled) < 2 {
		return linearTicks{}.Ticks(min, max)
	}
	isLabel := map[float64]bool{}
	var ticks []plot.Tick
	for _, v := range labelled {
		isLabel[v] = true
		ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v)})
	}
	if hi-lo <= 6 {
		for k := lo; k <= hi; k++ {
			for m := 1.0; m <= 9; m++ {
				if v := roundSig(m * math.Pow(10, float64(k))); in(v) && !isLabel[v] {
					ticks = append(ticks, plot.Tick{Value: v})
				}
			}
		}
	}
	return ticks
}

// linearTicks marks a linear axis every 1, 2 or 5 × 10^k, the smallest such step that gives at
// most six labels, with a minor tick between labels.
type linearTicks struct{}

// Ticks implements plot.Ticker.
func (linearTicks) Ticks(min, max float64) []plot.Tick {
	if math.IsNaN(min) || math.IsNaN(max) || math.IsInf(min, 0) || math.IsInf(max, 0) {
		return nil
	}
	if min > max {
		min, max = max, min
	}
	span := max - min
	if span == 0 {
		return []plot.Tick{{Value: min, Label: tickLabel(min)}}
	}
	const most = 6
	mag := math.Pow(10, math.Floor(math.Log10(span/most)))
	step, minor := mag, mag/2
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		minor = step / 2
		if m == 5 {
			minor = mag
		}
		if span/step <= most {
			break
		}
	}
	var ticks []plot.Tick
	for i := math.Ceil(min/minor - 1e-9); ; i++ {
		v := roundSig(i * minor)
		if v > max+minor*1e-9 {
			break
		}
		if r := math.Abs(math.Remainder(v, step)); r < step*1e-6 {
			ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v)})
		} else {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// roundSig rounds away the binary noise of computed tick values (0.30000000000000004).
func roundSig(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return f
}

// tickLabel writes a tick value with no more digits than it has: 2.5, 10, 0.05, 20000; 1e+06
// and beyond in exponent form.
func tickLabel(v float64) string {
	v = roundSig(v)
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a >= 1e6 || a < 1e-4 {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
