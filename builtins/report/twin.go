package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"starlab/builtins/sim"
	"starlab/builtins/sweep/pointschema"
)

// Calibrated twins in the report: each calibrations/NAME.json of the run (its parameters, fit and
// load range), the twin's sweeps paired with the real server's (prediction against
// measurement), and every twin point that lies outside the range its calibration was fitted on.
// All of it is derived from the run directory on every Write, so `starlab report` redoes it.

// Point fields that pointschema does not name; TestTwinFieldsAreInTheSchema checks them.
const (
	fieldMeanTPOT          = "mean_tpot_ms"
	fieldTotalInputTokens  = "total_input_tokens"
	fieldMaxRunning        = "server_metrics.max_running"
	fieldMeanE2EL          = pointschema.MeanE2ELMs
	fieldTotalOutputTokens = pointschema.TotalOutputTokens
)

// twinMetrics are the figures a twin is judged on, in table order.
var twinMetrics = []string{pointschema.RequestThroughput, pointschema.MedianTTFTMs, pointschema.P99TTFTMs, fieldMeanTPOT}

// twinMetricLabel names a metric in the twin tables and plots.
var twinMetricLabel = map[string]string{
	pointschema.RequestThroughput: "throughput (req/s)",
	pointschema.MedianTTFTMs:      "TTFT median (ms)",
	pointschema.P99TTFTMs:         "TTFT p99 (ms)",
	fieldMeanTPOT:                 "TPOT mean (ms)",
	pointschema.MeanTTFTMs:        "TTFT mean (ms)",
}

// twinPlotSuffix names each metric's overlay plot file.
var twinPlotSuffix = map[string]string{
	pointschema.RequestThroughput: "throughput",
	pointschema.MedianTTFTMs:      "ttft_p50",
	pointschema.P99TTFTMs:         "ttft_p99",
	fieldMeanTPOT:                 "tpot",
}

const (
	// loadTolerance is the relative difference under which two offered rates are the same load.
	loadTolerance = 1e-6
	// minR2 and maxMAPE are the fit quality under (over) which a calibration is flagged.
	minR2   = 0.9
	maxMAPE = 10.0
	// lengthSlack is how far (relative) a twin point's mean prompt or output length may lie
	// outside the calibrated lengths before it counts as extrapolation: lengths vary by sample.
	lengthSlack = 0.10
)

// CalibrationSummary is one calibrations/NAME.json as the report shows it.
type CalibrationSummary struct {
	Name   string `json:"name"`
	File   string `json:"file"` // run-directory relative
	Engine string `json:"engine"`
	Model  string `json:"model"`
	GPU    string `json:"gpu,omitempty"`
	// Server is the real server it was fitted on; Sweeps the sweeps its points came from.
	Server       string          `json:"server"`
	Sweeps       []string        `json:"sweeps"`
	Level        Num             `json:"level"`
	Params       []FittedParam   `json:"params"`
	R2           Num             `json:"r2"`
	RMSEPct      Num             `json:"rmse_pct"`
	MAPEPct      Num             `json:"mape_pct"`
	Observations int             `json:"observations"`
	Unidentified []string        `json:"unidentified,omitempty"`
	Limits       sim.Limits      `json:"limits"`
	Range        CalibratedRange `json:"range"`
	Points       []FitRow        `json:"points"`
}

// FittedParam is one step-time parameter: its value, standard error and interval, and whether the
// data determined it ("fitted"), could not ("not identified") or it was held ("fixed").
type FittedParam struct {
	Name   string    `json:"name"`
	Value  Num       `json:"value"`
	StdErr Num       `json:"std_err"`
	CI     *Interval `json:"ci"`
	Status string    `json:"status"`
}

// CalibratedRange is sim.LoadRange: where the fit saw the server.
type CalibratedRange struct {
	Running           [2]Num `json:"running"`
	InputTokens       [2]Num `json:"input_tokens"`
	OutputTokens      [2]Num `json:"output_tokens"`
	RequestThroughput [2]Num `json:"request_throughput"`
}

// FitRow is one metric of one calibration point: measured, the fitted twin's prediction, and the
// signed error in percent.
type FitRow struct {
	Sweep     string `json:"sweep"`
	Index     int    `json:"index"`
	Load      string `json:"load"`
	Metric    string `json:"metric"`
	Measured  Num    `json:"measured"`
	Predicted Num    `json:"predicted"`
	ErrorPct  Num    `json:"error_pct"`
}

// TwinComparison is a twin's sweep against a sweep of the real server it was calibrated on.
type TwinComparison struct {
	Calibration string `json:"calibration"`
	Twin        string `json:"twin"`     // the twin's sweep
	Measured    string `json:"measured"` // the real server's sweep
	Server      string `json:"server"`
	X           string `json:"x"` // request_rate or max_concurrency
	// InSample: the measured sweep is one the calibration was fitted on, so its pairs show the
	// fit, not a test of the twin.
	InSample bool       `json:"in_sample"`
	Pairs    []TwinPair `json:"pairs"`
	// Skipped are the loads of measured points without a twin point to pair with.
	Skipped []Num        `json:"skipped"`
	Metrics []TwinMetric `json:"metrics"`
	Knee    *TwinKnee    `json:"knee,omitempty"`
	Plots   []TwinPlot   `json:"plots"`
}

// TwinPair is one measured point and the twin's prediction at its load: the twin's point at the
// same load or, Interpolated, read off the twin's curve between the loads in Between.
type TwinPair struct {
	Load         Num         `json:"load"`
	Index        int         `json:"index"` // the measured point's index in its sweep
	Interpolated bool        `json:"interpolated"`
	Between      *[2]Num     `json:"between,omitempty"`
	Values       []PairValue `json:"values"`
}

// PairValue is one metric of a pair. ErrorPct is (predicted − measured) / measured in percent;
// WithinCI says whether the measured interval holds the prediction (null without one).
type PairValue struct {
	Metric     string    `json:"metric"`
	Measured   Num       `json:"measured"`
	MeasuredCI *Interval `json:"measured_ci"`
	Predicted  Num       `json:"predicted"`
	ErrorPct   Num       `json:"error_pct"`
	WithinCI   *bool     `json:"within_ci"`
}

// TwinMetric summarises one metric over the pairs: the mean absolute percentage error, and how
// many predictions fall inside the measured interval of the pairs that have one.
type TwinMetric struct {
	Metric   string `json:"metric"`
	Pairs    int    `json:"pairs"`
	MAPEPct  Num    `json:"mape_pct"`
	WithCI   int    `json:"with_ci"`
	WithinCI int    `json:"within_ci"`
}

// TwinKnee is the predicted knee against the measured one, when find_knee ran on both sweeps.
type TwinKnee struct {
	X                     string `json:"x"`
	TwinRate              Num    `json:"twin_rate"`
	MeasuredRate          Num    `json:"measured_rate"`
	TwinMaxThroughput     Num    `json:"twin_max_throughput"`
	MeasuredMaxThroughput Num    `json:"measured_max_throughput"`
	MaxThroughputErrorPct Num    `json:"max_throughput_error_pct"`
}

// TwinPlot is one overlay chart of a comparison: plots/<File>.png and .svg.
type TwinPlot struct {
	Metric string `json:"metric"`
	File   string `json:"file"`
}

// Extrapolation is a twin point outside its calibration's range on one quantity: running
// (requests at the engine), input_tokens or output_tokens (mean per request).
type Extrapolation struct {
	Calibration string `json:"calibration"`
	Sweep       string `json:"sweep"`
	Index       int    `json:"index"`
	Load        string `json:"load"`
	Quantity    string `json:"quantity"`
	Value       Num    `json:"value"`
	Range       [2]Num `json:"range"`
	Detail      string `json:"detail"`
}

// calibrationFile is a calibrations/*.json of the run.
type calibrationFile struct {
	file string
	cal  sim.Calibration
}

// loadCalibrations reads every calibrations/*.json of the run directory, sorted by file name.
func loadCalibrations(dir string) ([]calibrationFile, error) {
	files, err := filepath.Glob(filepath.Join(dir, "calibrations", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []calibrationFile
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var c sim.Calibration
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("calibrations/%s: %w", filepath.Base(f), err)
		}
		if c.Name == "" {
			c.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		}
		out = append(out, calibrationFile{file: "calibrations/" + filepath.Base(f), cal: c})
	}
	return out, nil
}

// addTwins fills r's calibrations, twin comparisons and extrapolations from the run's
// calibration files and sweeps, and flags each twin point outside its calibration's range in
// its sweep (the points table shows ⚠, Warnings says why).
func addTwins(dir string, r *Report, sweeps []Sweep) error {
	cals, err := loadCalibrations(dir)
	if err != nil {
		return err
	}
	r.Calibrations, r.Twins, r.Extrapolations = nil, nil, nil
	byName := map[string]*sim.Calibration{}
	for i := range cals {
		c := &cals[i].cal
		byName[c.Name] = c
		r.Calibrations = append(r.Calibrations, summarize(cals[i].file, c))
	}
	for si := range sweeps {
		s := &sweeps[si]
		name := s.common(pointschema.Calibration)
		if name == "" {
			continue
		}
		c, ok := byName[name]
		if !ok {
			s.tableFindings = append(s.tableFindings, warning{Flag: "calibration missing",
				Detail: fmt.Sprintf("the twin runs on calibration %s, which is not in calibrations/: whether it extrapolates cannot be checked", name)})
			continue
		}
		ex := extrapolations(c, *s)
		r.Extrapolations = append(r.Extrapolations, ex...)
		for k := 0; k < len(ex); {
			i, parts := ex[k].Index, []string{}
			for ; k < len(ex) && ex[k].Index == i; k++ {
				parts = append(parts, ex[k].Detail)
			}
			s.warnings[i] = append(s.warnings[i], warning{Flag: "extrapolated",
				Detail: strings.Join(parts, "; ") + fmt.Sprintf(": the twin (calibration %s) extrapolates", name)})
		}
	}
	for _, cf := range cals {
		c := &cf.cal
		for _, twin := range sweeps {
			if twin.common(pointschema.Calibration) != c.Name {
				continue
			}
			for _, meas := range sweeps {
				if c.Source.Server == "" || meas.common(pointschema.Server) != c.Source.Server || meas.any(pointschema.Calibration) ||
					twin.Closed() != meas.Closed() {
					continue
				}
				r.Twins = append(r.Twins, compareTwin(c, twin, meas, r.Knees))
			}
		}
	}
	return nil
}

// common is the value every point of the sweep gives a string field; "" when one lacks it or
// they differ.
func (s Sweep) common(field string) string {
	v := ""
	for i := range s.Rows {
		x, _ := s.Rows[i][field].(string)
		switch {
		case x == "":
			return ""
		case i == 0:
			v = x
		case x != v:
			return ""
		}
	}
	return v
}

// any reports whether some point gives a string field a non-empty value.
func (s Sweep) any(field string) bool {
	for i := range s.Rows {
		if x, _ := s.Rows[i][field].(string); x != "" {
			return true
		}
	}
	return false
}

func summarize(file string, c *sim.Calibration) CalibrationSummary {
	out := CalibrationSummary{Name: c.Name, File: file, Engine: c.Engine, Model: c.Model, GPU: c.GPU,
		Server: c.Source.Server, Sweeps: c.Source.Sweeps, Level: Num(c.Confidence), R2: Num(c.Fit.R2),
		RMSEPct: Num(c.Fit.RMSEPct), MAPEPct: Num(c.Fit.MAPEPct), Observations: c.Fit.Observations,
		Unidentified: c.Fit.Unidentified, Limits: c.Limits,
		Range: CalibratedRange{Running: nums(c.Range.Running), InputTokens: nums(c.Range.InputTokens),
			OutputTokens: nums(c.Range.OutputTokens), RequestThroughput: nums(c.Range.RequestThroughput)}}
	for i, name := range sim.LinearParams {
		p := FittedParam{Name: name, Value: Num(c.Step.Values()[i]), StdErr: Num(math.NaN()), Status: "fitted"}
		if se, ok := c.StdErr[name]; ok {
			p.StdErr = Num(se)
		}
		if ci, ok := c.CI[name]; ok {
			p.CI = &Interval{Num(ci[0]), Num(ci[1])}
		}
		switch {
		case slices.Contains(c.Fit.Unidentified, name):
			p.Status, p.CI, p.StdErr = "not identified", nil, Num(math.NaN())
		case slices.Contains(c.Fit.Fixed, name):
			p.Status = "fixed"
		case p.CI == nil:
			p.Status = "fitted (no interval)"
		}
		out.Params = append(out.Params, p)
	}
	for _, fp := range c.Fit.Points {
		for _, m := range metricOrder(fp.Measured) {
			pred, ok := fp.Predicted[m]
			if !ok {
				pred = math.NaN()
			}
			e, ok := fp.ErrorPct[m]
			if !ok {
				e = math.NaN()
			}
			out.Points = append(out.Points, FitRow{Sweep: fp.Sweep, Index: fp.Index, Load: fitLoad(fp), Metric: m,
				Measured: Num(fp.Measured[m]), Predicted: Num(pred), ErrorPct: Num(e)})
		}
	}
	return out
}

func nums(r [2]float64) [2]Num { return [2]Num{Num(r[0]), Num(r[1])} }

// metricOrder lists a fit point's metrics: the fitted ones in their usual order, then the rest
// by name.
func metricOrder(m map[string]float64) []string {
	var out []string
	for _, k := range []string{pointschema.RequestThroughput, pointschema.MeanTTFTMs, pointschema.MedianTTFTMs, fieldMeanTPOT} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// fitLoad names a calibration point's load as the points tables do.
func fitLoad(fp sim.FitPoint) string {
	switch {
	case fp.Concurrency > 0:
		return fmt.Sprintf("concurrency %d", fp.Concurrency)
	case fp.RequestRate > 0:
		return "rate " + fmtNum(fp.RequestRate) + " req/s"
	}
	return fp.Load
}

// extrapolations lists the twin sweep's points whose conditions lie outside the calibration's
// range: more requests at the engine than it ever saw, or mean prompt or output lengths more
// than lengthSlack outside its lengths.
func extrapolations(c *sim.Calibration, s Sweep) []Extrapolation {
	var out []Extrapolation
	for _, i := range s.sorted() {
		add := func(q string, v float64, rng [2]float64, detail string) {
			out = append(out, Extrapolation{Calibration: c.Name, Sweep: s.Name, Index: i, Load: pointLabel(s, i), Quantity: q,
				Value: Num(v), Range: nums(rng), Detail: detail})
		}
		if hi := c.Range.Running[1]; hi > 0 {
			if n, how := running(s, i); n > hi {
				add("running", n, c.Range.Running, fmt.Sprintf("%s requests %s, calibrated on %s (%s× the calibrated maximum)",
					fmtNum(n), how, fmtRange(c.Range.Running), fmtNum(n/hi)))
			}
		}
		completed := s.value(i, pointschema.Completed)
		for _, q := range []struct {
			name, field, what string
			rng               [2]float64
		}{
			{"input_tokens", fieldTotalInputTokens, "prompt", c.Range.InputTokens},
			{"output_tokens", fieldTotalOutputTokens, "output", c.Range.OutputTokens},
		} {
			total := s.value(i, q.field)
			if !(completed > 0) || math.IsNaN(total) || !(q.rng[1] > 0) {
				continue
			}
			mean := total / completed
			var off float64
			switch {
			case mean > q.rng[1]*(1+lengthSlack):
				off = mean/q.rng[1] - 1
			case mean < q.rng[0]*(1-lengthSlack):
				off = mean/q.rng[0] - 1
			default:
				continue
			}
			add(q.name, mean, q.rng, fmt.Sprintf("mean %s of %s tokens per request, calibrated on %s (%s)",
				q.what, fmtNum(mean), fmtRange(q.rng), signedPct(100*off)))
		}
	}
	return out
}

// running is the requests point i kept at the engine, and how that is known: the server's
// max_running when it reported one, else the closed loop's concurrency, else Little's law.
func running(s Sweep, i int) (float64, string) {
	if n := s.value(i, fieldMaxRunning); n > 0 {
		return n, "running at the engine"
	}
	if s.Closed() {
		if n := s.value(i, pointschema.MaxConcurrency); n > 0 {
			return n, "in flight"
		}
	}
	x, e2el := s.value(i, pointschema.RequestThroughput), s.value(i, fieldMeanE2EL)
	if n := x * e2el / 1000; n > 0 {
		return math.Ceil(n - 1e-9), "in flight (Little's law)"
	}
	return math.NaN(), ""
}

// fmtRange is "1–4", or "4" for a range of one value.
func fmtRange(r [2]float64) string {
	if fmtNum(r[0]) == fmtNum(r[1]) {
		return fmtNum(r[0])
	}
	return fmtNum(r[0]) + "–" + fmtNum(r[1])
}

// calibrationWarnings are the Warnings lines about calibrations themselves: parameters the data
// could not determine, and a poor fit.
func calibrationWarnings(cals []CalibrationSummary) []string {
	var lines []string
	for _, c := range cals {
		if len(c.Unidentified) > 0 {
			lines = append(lines, fmt.Sprintf("- calibration %s: ⚠ not identified: the measurements do not determine %s; "+
				"predictions that depend on them are guesses (measure a wider range of loads or lengths)",
				c.Name, strings.Join(c.Unidentified, ", ")))
		}
		// R² is null when the fitted figures hardly vary between the points (within their noise):
		// then only the relative error says how well the twin reproduces them.
		r2, mape := float64(c.R2), float64(c.MAPEPct)
		if mape > maxMAPE || (!math.IsNaN(r2) && r2 < minR2) {
			lines = append(lines, fmt.Sprintf("- calibration %s: ⚠ poor fit: R² %s, MAPE %s%% (a fit is poor under R² %s or over MAPE %s%%): "+
				"the twin does not reproduce the measurements it was fitted on", c.Name, fmtR2(r2), fmtNum(mape), fmtNum(minR2), fmtNum(maxMAPE)))
		}
	}
	return lines
}

// compareTwin pairs the measured sweep's points with the twin's predictions at the same loads.
func compareTwin(c *sim.Calibration, twin, meas Sweep, knees []Knee) TwinComparison {
	x := twin.X()
	tc := TwinComparison{Calibration: c.Name, Twin: twin.Name, Measured: meas.Name, Server: c.Source.Server, X: x,
		InSample: slices.Contains(c.Source.Sweeps, meas.Name), Pairs: []TwinPair{}, Skipped: []Num{}}
	var curve []int // the twin's points with a finite load, in load order
	for _, j := range twin.sorted() {
		if v := twin.value(j, x); !math.IsNaN(v) && !math.IsInf(v, 0) {
			curve = append(curve, j)
		}
	}
	for _, i := range meas.sorted() {
		load := meas.value(i, x)
		predict, between, ok := twinAt(twin, curve, x, load, !meas.Closed())
		if !ok {
			tc.Skipped = append(tc.Skipped, Num(load))
			continue
		}
		pair := TwinPair{Load: Num(load), Index: i, Interpolated: between != nil, Between: between}
		for _, m := range twinMetrics {
			mv, pv := meas.value(i, m), predict(m)
			if math.IsNaN(mv) || math.IsNaN(pv) {
				continue
			}
			v := PairValue{Metric: m, Measured: Num(mv), Predicted: Num(pv), ErrorPct: Num(math.NaN())}
			if mv != 0 && !math.IsInf(mv, 0) && !math.IsInf(pv, 0) {
				v.ErrorPct = Num(100 * (pv - mv) / mv)
			}
			if ci := meas.interval(i, m); !ci.Unknown() {
				v.MeasuredCI = &Interval{Num(ci.Lo), Num(ci.Hi)}
				in := pv >= ci.Lo && pv <= ci.Hi
				v.WithinCI = &in
			}
			pair.Values = append(pair.Values, v)
		}
		tc.Pairs = append(tc.Pairs, pair)
	}
	for _, m := range twinMetrics {
		s := TwinMetric{Metric: m, MAPEPct: Num(math.NaN())}
		sum := 0.0
		for _, p := range tc.Pairs {
			for _, v := range p.Values {
				if v.Metric != m || math.IsNaN(float64(v.ErrorPct)) {
					continue
				}
				s.Pairs++
				sum += math.Abs(float64(v.ErrorPct))
				if v.WithinCI != nil {
					s.WithCI++
					if *v.WithinCI {
						s.WithinCI++
					}
				}
			}
		}
		if s.Pairs > 0 {
			s.MAPEPct = Num(sum / float64(s.Pairs))
			tc.Metrics = append(tc.Metrics, s)
		}
	}
	tc.Knee = twinKnee(knees, twin.Name, meas.Name)
	for _, m := range twinMetrics {
		if twin.has(m) || meas.has(m) {
			tc.Plots = append(tc.Plots, TwinPlot{Metric: m, File: "twin_" + twin.Name + "_vs_" + meas.Name + "_" + twinPlotSuffix[m]})
		}
	}
	return tc
}

// twinAt is the twin's prediction at a load: its point at that load (relative tolerance
// loadTolerance) or, when interpolate is set, the linear interpolation between the two points of
// its curve around the load (between names their loads). ok is false when it has neither.
func twinAt(twin Sweep, curve []int, x string, load float64, interpolate bool) (predict func(string) float64, between *[2]Num, ok bool) {
	if math.IsNaN(load) {
		return nil, nil, false
	}
	for _, j := range curve {
		if v := twin.value(j, x); v == load || math.Abs(v-load) <= loadTolerance*math.Max(math.Abs(v), math.Abs(load)) {
			return func(m string) float64 { return twin.value(j, m) }, nil, true
		}
	}
	if !interpolate || math.IsInf(load, 0) {
		return nil, nil, false
	}
	lo, hi := -1, -1
	for _, j := range curve {
		v := twin.value(j, x)
		if v < load {
			lo = j
		} else if v > load && hi < 0 {
			hi = j
		}
	}
	if lo < 0 || hi < 0 {
		return nil, nil, false
	}
	x0, x1 := twin.value(lo, x), twin.value(hi, x)
	t := (load - x0) / (x1 - x0)
	return func(m string) float64 {
		a, b := twin.value(lo, m), twin.value(hi, m)
		return a + t*(b-a)
	}, &[2]Num{Num(x0), Num(x1)}, true
}

// twinKnee sets the twin's knee beside the measured one when find_knee found both on the same
// load axis.
func twinKnee(knees []Knee, twin, meas string) *TwinKnee {
	find := func(sweep string) *Knee {
		for i, k := range knees {
			if k.Sweep == sweep && k.Found && k.Y == pointschema.RequestThroughput {
				return &knees[i]
			}
		}
		return nil
	}
	t, m := find(twin), find(meas)
	if t == nil || m == nil || t.X != m.X {
		return nil
	}
	out := &TwinKnee{X: t.X, TwinRate: t.Rate, MeasuredRate: m.Rate, TwinMaxThroughput: t.MaxThroughput,
		MeasuredMaxThroughput: m.MaxThroughput, MaxThroughputErrorPct: Num(math.NaN())}
	if mt := float64(m.MaxThroughput); mt != 0 && !math.IsNaN(mt) {
		out.MaxThroughputErrorPct = Num(100 * (float64(t.MaxThroughput) - mt) / mt)
	}
	return out
}

// fmtR2 is R², or a dash when it is undefined (the figures did not vary between the points).
func fmtR2(r2 float64) string {
	if math.IsNaN(r2) {
		return "— (the figures hardly vary between the points)"
	}
	return fmtNum(r2)
}
