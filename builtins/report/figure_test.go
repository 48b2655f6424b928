package report

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"starlab/builtins/analysis"
)

func labels(ticks []plot.Tick) []string {
	var out []string
	for _, t := range ticks {
		if !t.IsMinor() {
			out = append(out, t.Label)
		}
	}
	return out
}

func TestLogTicks125(t *testing.T) {
	for _, c := range []struct {
		min, max float64
		want     string
	}{
		{1, 100, "1 2 5 10 20 50 100"},
		{2, 22.5, "2 5 10 20"},
		{0.05, 0.5, "0.05 0.1 0.2 0.5"},
		// More than eight 1-2-5 values: only the powers of ten are labelled.
		{20, 20000, "100 1000 10000"},
		// Shorter than one 1-2-5 step: linear ticks.
		{13, 18, "13 14 15 16 17 18"},
	} {
		if got := strings.Join(labels(logTicks{}.Ticks(c.min, c.max)), " "); got != c.want {
			t.Errorf("log ticks on [%g, %g] = %q, want %q", c.min, c.max, got, c.want)
		}
	}
	// Minor ticks mark the integer multiples between labels.
	var minor []float64
	for _, tk := range (logTicks{}).Ticks(1, 10) {
		if tk.IsMinor() {
			minor = append(minor, tk.Value)
		}
	}
	if want := []float64{3, 4, 6, 7, 8, 9}; !slices.Equal(minor, want) {
		t.Errorf("minor ticks on [1, 10] = %v, want %v", minor, want)
	}
}

func TestLinearTicks(t *testing.T) {
	for _, c := range []struct {
		min, max float64
		want     string
	}{
		{0, 22.5, "0 5 10 15 20"},
		{2.5, 17.5, "5 10 15"},
		{3, 5, "3 3.5 4 4.5 5"},
		{0, 0.3, "0 0.05 0.1 0.15 0.2 0.25 0.3"},
		{1, 64, "20 40 60"},
	} {
		if got := strings.Join(labels(linearTicks{}.Ticks(c.min, c.max)), " "); got != c.want {
			t.Errorf("linear ticks on [%g, %g] = %q, want %q", c.min, c.max, got, c.want)
		}
	}
}

func TestTickLabel(t *testing.T) {
	for v, want := range map[float64]string{2.5: "2.5", 10: "10", 0.1 + 0.2: "0.3", 20000: "20000", 0.05: "0.05", 0: "0", 2e6: "2e+06"} {
		if got := tickLabel(v); got != want {
			t.Errorf("tickLabel(%v) = %q, want %q", v, got, want)
		}
	}
	for _, c := range []struct {
		v    float64
		up   bool
		want float64
	}{{62, true, 100}, {47, false, 20}, {5, true, 5}, {5, false, 5}, {1.07, false, 1}, {15477, true, 20000}} {
		if got := step125(c.v, c.up); got != c.want {
			t.Errorf("step125(%v, up=%v) = %v, want %v", c.v, c.up, got, c.want)
		}
	}
}

// TestKneeMarkedOnThroughputPlots: a sweep's throughput chart and the overlay both name the knee
// and its bracket in the legend.
func TestKneeMarkedOnThroughputPlots(t *testing.T) {
	s, err := newSweep("s", poissonSweep(), false)
	if err != nil {
		t.Fatal(err)
	}
	k := FromKnee("s", analysis.Knee{Found: true, Rate: 6, MaxThroughput: 7.05, X: "request_rate", Y: "request_throughput",
		Bracket: [2]float64{6, 8}, Level: 0.95, RateCI: iv(4, 10), MaxThroughputCI: iv(6.71, 7.38)})
	p, err := throughputPlot(s, &k)
	if err != nil {
		t.Fatal(err)
	}
	if got := legendTexts(p); !slices.Contains(got, "knee 6, 95% bracket [4, 10]") {
		t.Errorf("throughput legend %q has no knee with its bracket", got)
	}
	other, err := newSweep("t", withoutCI(poissonSweep()), false)
	if err != nil {
		t.Fatal(err)
	}
	o, err := overlayPlot(Report{Knees: []Knee{k}}, []Sweep{other, s}, "request_rate")
	if err != nil {
		t.Fatal(err)
	}
	got := legendTexts(o)
	if !slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, "knee") }) {
		t.Errorf("overlay legend %q has no knee", got)
	}
	if want := []string{"t", "s"}; !slices.Equal(got[:2], want) {
		t.Errorf("overlay series %q, want %q first, in the order given", got, want)
	}
	if w, _ := figureSize(o); w != wideW {
		t.Errorf("overlay width %v, want the full width %v", w, wideW)
	}
	// Without a knee, no knee entry.
	p, err = throughputPlot(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := legendTexts(p); slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, "knee") }) {
		t.Errorf("legend %q names a knee that was not found", got)
	}
}

// TestPNGPrintResolution: a single-column chart is 3.5 in × 2.6 in at 300 dpi, and says so.
func TestPNGPrintResolution(t *testing.T) {
	s, err := newSweep("s", poissonSweep(), false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := latencyPlot(s)
	if err != nil {
		t.Fatal(err)
	}
	data, err := renderPlot(p, "png")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 1050 || cfg.Height != 780 {
		t.Errorf("PNG is %d × %d px, want 1050 × 780 (3.5 in × 2.6 in at 300 dpi)", cfg.Width, cfg.Height)
	}
	i := bytes.Index(data, []byte("pHYs"))
	if i < 0 {
		t.Fatal("PNG has no pHYs chunk stating its resolution")
	}
	x, y, unit := binary.BigEndian.Uint32(data[i+4:]), binary.BigEndian.Uint32(data[i+8:]), data[i+12]
	if x != 11811 || y != 11811 || unit != 1 {
		t.Errorf("pHYs = %d × %d per unit %d, want 11811 px/m (300 dpi)", x, y, unit)
	}
	svg, err := renderPlot(p, "svg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte(`width="252pt" height="187.2pt"`)) {
		t.Errorf("SVG is not 3.5 in × 2.6 in (252 × 187.2 pt): %.200s", svg)
	}
}

// TestSweepsInPlanOrder: sweeps made in non-alphabetical order are reported in that order, the
// order read back from journal.jsonl, also when the report is regenerated from the directory.
func TestSweepsInPlanOrder(t *testing.T) {
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "manifest.json"), map[string]any{"plan": map[string]any{"path": "order.star"}, "seed": 1})
	plan := []string{"zeta-1gpu", "alpha-4gpu", "mid"}
	var journal bytes.Buffer
	for i, name := range plan {
		rows := []map[string]any{{"request_rate": float64(2 + i), "request_throughput": float64(2 + i), "completed": 10 + i}}
		writeJSON(t, filepath.Join(dir, "sweeps", name+".json"), rows)
		line, _ := json.Marshal(map[string]any{"seq": 10 + i, "builtin": "sweep", "result": rows[0]})
		journal.Write(append(line, '\n'))
	}
	// A step that is not a sweep's point, and a sweep the journal does not know (loaded).
	journal.WriteString(`{"seq":20,"builtin":"hypothesis","result":{"id":"H"}}` + "\n")
	writeJSON(t, filepath.Join(dir, "sweeps", "loaded.json"), []map[string]any{{"request_rate": 9, "request_throughput": 9}})
	if err := os.WriteFile(filepath.Join(dir, "journal.jsonl"), journal.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want := append(append([]string(nil), plan...), "loaded", "given")
	given := []GivenPoints{{Name: "given", Points: []map[string]any{{"request_rate": 1, "request_throughput": 1}}}}
	names := func(sw []Sweep) []string {
		var out []string
		for _, s := range sw {
			out = append(out, s.Name)
		}
		return out
	}
	sw, err := LoadSweeps(dir, given)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(sw); !slices.Equal(got, want) {
		t.Fatalf("sweeps %q, want plan order %q", got, want)
	}
	if err := Write(dir, Report{Given: given}); err != nil {
		t.Fatal(err)
	}
	order := func() []string {
		md, err := os.ReadFile(filepath.Join(dir, "report.md"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(string(md), "\n") {
			if name, ok := strings.CutPrefix(line, "### "); ok && name != "All sweeps" {
				out = append(out, name)
			}
		}
		return out
	}
	if got := order(); !slices.Equal(got, want) {
		t.Errorf("report.md sections %q, want %q", got, want)
	}
	var r Report
	data, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Sweeps, want) {
		t.Errorf("report.json sweeps %q, want %q", r.Sweeps, want)
	}
	os.Remove(filepath.Join(dir, "report.md"))
	if err := Regenerate(dir); err != nil {
		t.Fatal(err)
	}
	if got := order(); !slices.Equal(got, want) {
		t.Errorf("regenerated report.md sections %q, want %q", got, want)
	}
}
