package report

import (
	"math"

	"starlab/builtins/analysis"
	"starlab/stats"
)

// Report is report.json: what the plan computed and asked for, in the order it did so. Together
// with manifest.json and sweeps/*.json it is all Regenerate needs.
type Report struct {
	Title      string       `json:"title"`
	Notes      string       `json:"notes"`
	Manifest   Summary      `json:"manifest"`
	Sweeps     []string     `json:"sweeps"` // every sweep in the report, in plan order (order.go)
	Knees      []Knee       `json:"knees"`
	Scalings   []Scaling    `json:"scalings"`
	USL        []USLFit     `json:"usl"`
	Hypotheses []Hypothesis `json:"hypotheses"`
	// Comparisons are compare() results, in call order.
	Comparisons []Comparison  `json:"comparisons,omitempty"`
	Tables      []Table       `json:"tables"`
	Plots       []PlotSpec    `json:"plots"` // custom plots from plot()
	Given       []GivenPoints `json:"given,omitempty"`

	// Calibrations (calibrations/*.json), Twins (each twin sweep against a sweep of the server
	// it was calibrated on) and Extrapolations (twin points outside their calibration's range)
	// are derived from the run directory on every Write, like Sweeps (twin.go).
	Calibrations   []CalibrationSummary `json:"calibrations,omitempty"`
	Twins          []TwinComparison     `json:"twin_vs_measurement,omitempty"`
	Extrapolations []Extrapolation      `json:"extrapolations,omitempty"`
}

// GivenPoints is a table of points the plan passed directly (a seed's published table) rather
// than a sweep it ran; it is kept here because no sweeps/*.json holds it.
type GivenPoints struct {
	Name   string           `json:"name"`
	Points []map[string]any `json:"points"`
}

// Knee is a find_knee() result with the sweep it came from.
type Knee struct {
	Sweep         string         `json:"sweep"`
	Found         bool           `json:"found"`
	Rate          Num            `json:"rate"`
	MaxThroughput Num            `json:"max_throughput"`
	Method        string         `json:"method"`
	Bracket       [2]Num         `json:"bracket"`
	Reason        string         `json:"reason"`
	X             string         `json:"x"`
	Y             string         `json:"y"`
	Evidence      []KneeEvidence `json:"evidence"`

	// Level is the confidence of the intervals and verdicts below (0 in a report.json written
	// before knees had them). RateCI is where the knee lies at Level (highest load decidedly not
	// saturated to lowest decidedly saturated), MaxThroughputCI the plateau's interval; null
	// without one.
	Level           Num       `json:"level"`
	RateCI          *Interval `json:"rate_ci"`
	MaxThroughputCI *Interval `json:"max_throughput_ci"`
	// Verdicts are each load's saturation verdict, in ascending load.
	Verdicts []PointVerdict `json:"verdicts,omitempty"`
	// Checks are the consistency checks that failed on the knee's points.
	Checks []string `json:"checks,omitempty"`
}

// PointVerdict is one load's saturation verdict: "saturated", "not saturated" or
// "inconclusive", from the fraction of the sent load delivered and its interval.
type PointVerdict struct {
	Load        Num       `json:"load"`
	Verdict     string    `json:"verdict"`
	Delivered   Num       `json:"delivered"`
	DeliveredCI *Interval `json:"delivered_ci"`
	// ValueOnly: no interval, so the verdict rests on the value alone.
	ValueOnly bool `json:"value_only,omitempty"`
	// MoreData is, for an inconclusive verdict, about how many times the data would decide it.
	MoreData Num    `json:"more_data"`
	Reason   string `json:"reason"`
}

// Interval is a figure's [lo, hi] in report.json, written like a point's ci; a figure without
// one has null instead.
type Interval [2]Num

// toInterval is nil for an unknown interval.
func toInterval(ci stats.Interval) *Interval {
	if ci.Unknown() {
		return nil
	}
	return &Interval{Num(ci.Lo), Num(ci.Hi)}
}

// stats is the interval back, NoInterval for nil.
func (i *Interval) stats() stats.Interval {
	if i == nil {
		return stats.NoInterval
	}
	return stats.Interval{Lo: float64(i[0]), Hi: float64(i[1])}
}

// KneeEvidence is one knee definition's answer.
type KneeEvidence struct {
	Method  string `json:"method"`
	Found   bool   `json:"found"`
	Rate    Num    `json:"rate"`
	Bracket [2]Num `json:"bracket"`
	Detail  string `json:"detail"`
}

// Scaling is an amdahl() result with the names of both runs.
type Scaling struct {
	Base           string        `json:"base"`
	Scaled         string        `json:"scaled"`
	N              int           `json:"n"`
	Metric         string        `json:"metric"`
	Mode           string        `json:"mode"`
	Rate           Num           `json:"rate"`
	BaseValue      Num           `json:"base_value"`
	ScaledValue    Num           `json:"scaled_value"`
	Speedup        Num           `json:"speedup"`
	Efficiency     Num           `json:"efficiency"`
	SerialFraction Num           `json:"serial_fraction"`
	Valid          bool          `json:"valid"`
	Diagnosis      string        `json:"diagnosis"`
	Pairs          []ScalingPair `json:"pairs,omitempty"`

	// Intervals at Level; null where the points carry none.
	SpeedupCI        *Interval `json:"speedup_ci"`
	EfficiencyCI     *Interval `json:"efficiency_ci"`
	SerialFractionCI *Interval `json:"serial_fraction_ci"`
	Level            Num       `json:"level"`
	// LoadLimited is the base's noise-aware diagnosis at the compared load: "yes", "no",
	// "inconclusive", or "" when it could not be checked.
	LoadLimited string `json:"load_limited"`
}

// ScalingPair is both runs' metric at one shared offered rate.
type ScalingPair struct {
	Rate    Num `json:"rate"`
	Base    Num `json:"base"`
	Scaled  Num `json:"scaled"`
	Speedup Num `json:"speedup"`
}

// USLFit is a usl() fit with its points.
type USLFit struct {
	N      []Num `json:"n"`
	X      []Num `json:"x"`
	Lambda Num   `json:"lambda"`
	Sigma  Num   `json:"sigma"`
	Kappa  Num   `json:"kappa"`
	PeakN  Num   `json:"peak_n"`
	PeakX  Num   `json:"peak_x"`
	R2     Num   `json:"r2"`

	// Intervals at Level; null where the points carry none.
	LambdaCI *Interval `json:"lambda_ci"`
	SigmaCI  *Interval `json:"sigma_ci"`
	KappaCI  *Interval `json:"kappa_ci"`
	Level    Num       `json:"level"`
}

// Hypothesis is one verdict-table row.
type Hypothesis struct {
	ID        string `json:"id"`
	Statement string `json:"statement"`
	Verdict   string `json:"verdict"` // supported | refuted | inconclusive | undecided
	Evidence  string `json:"evidence"`
	// Claim is the decision rule that gave the verdict; absent for the boolean supported= form.
	Claim *Claim `json:"claim,omitempty"`
	// Declared is "before the evidence", "after the evidence", or "" for the boolean form (see
	// analysis.Hypothesis.Declared). The sequence numbers place declaration and decision among
	// the run's events (0: not yet decided).
	Declared    string `json:"declared"`
	DeclaredSeq int    `json:"declared_seq"`
	DecidedSeq  int    `json:"decided_seq"`
}

// Claim is an expect() or within() rule applied to an uncertain quantity.
type Claim struct {
	Quantity string    `json:"quantity"`
	Value    Num       `json:"value"`
	CI       *Interval `json:"ci"`
	Rule     string    `json:"rule"` // ">= 3", "within [1, 2]"
	Level    Num       `json:"level"`
	Verdict  string    `json:"verdict"`
	// Exact: the quantity had no interval and was treated as exact.
	Exact bool `json:"exact"`
	// MoreData and Need say, for an inconclusive verdict, how much more data would decide it.
	MoreData    Num    `json:"more_data"`
	Need        string `json:"need"`
	MeasuredSeq int    `json:"measured_seq"`
	// Summary is the rule in words, as the verdict table shows it:
	// "speedup 3.4 [2.9, 3.9] >= 3 at 95%".
	Summary string `json:"summary"`
}

// Comparison is a compare() result: B against A on one metric.
type Comparison struct {
	A            string    `json:"a"` // labels of the two points
	B            string    `json:"b"`
	Metric       string    `json:"metric"`
	At           Num       `json:"at"`
	Level        Num       `json:"level"`
	ValueA       Num       `json:"value_a"`
	ValueB       Num       `json:"value_b"`
	Difference   Num       `json:"difference"`
	DifferenceCI *Interval `json:"difference_ci"`
	Ratio        Num       `json:"ratio"`
	RatioCI      *Interval `json:"ratio_ci"`
	PValue       Num       `json:"p_value"`
	EffectSize   Num       `json:"effect_size"`
	EffectName   string    `json:"effect"`
	Method       string    `json:"method"`
	NA           int       `json:"n_a"`
	NB           int       `json:"n_b"`
	// RequestsNeeded is the power hint: about how many more requests per side would resolve a
	// relative difference of Resolve (0: already resolved; null: cannot be said).
	Resolve        Num `json:"resolve"`
	RequestsNeeded Num `json:"requests_needed"`
}

// Table is a table() of rows, written to tables/<name>.csv.
type Table struct {
	Name    string           `json:"name"`
	Columns []string         `json:"columns"`
	Rows    []map[string]any `json:"rows"`
}

// PlotSpec is a plot() request: metric y against x for some sweeps on one chart.
type PlotSpec struct {
	Name   string   `json:"name"`
	Sweeps []string `json:"sweeps"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	LogY   bool     `json:"log_y"`
}

// FromKnee converts an analysis knee.
func FromKnee(sweep string, k analysis.Knee) Knee {
	out := Knee{Sweep: sweep, Found: k.Found, Rate: Num(k.Rate), MaxThroughput: Num(k.MaxThroughput), Method: k.Method,
		Bracket: [2]Num{Num(k.Bracket[0]), Num(k.Bracket[1])}, Reason: k.Reason, X: k.X, Y: k.Y,
		Level: Num(k.Level), RateCI: toInterval(k.RateCI), MaxThroughputCI: toInterval(k.MaxThroughputCI),
		Checks: append([]string(nil), k.Checks...)}
	for _, v := range k.Verdicts {
		out.Verdicts = append(out.Verdicts, PointVerdict{Load: Num(v.Load), Verdict: v.Verdict, Delivered: Num(v.Delivered),
			DeliveredCI: toInterval(v.DeliveredCI), ValueOnly: v.ValueOnly, MoreData: Num(v.MoreData), Reason: v.Reason})
	}
	if !k.Found {
		out.Rate = Num(math.NaN())
	}
	for _, e := range k.Evidence {
		out.Evidence = append(out.Evidence, KneeEvidence{Method: e.Method, Found: e.Found, Rate: Num(e.Rate),
			Bracket: [2]Num{Num(e.Bracket[0]), Num(e.Bracket[1])}, Detail: e.Detail})
	}
	return out
}

// FromScaling converts an analysis scaling.
func FromScaling(base, scaled string, s analysis.Scaling) Scaling {
	out := Scaling{Base: base, Scaled: scaled, N: s.N, Metric: s.Metric, Mode: s.Mode, Rate: Num(s.Load),
		BaseValue: Num(s.Base), ScaledValue: Num(s.Scaled), Speedup: Num(s.Speedup), Efficiency: Num(s.Efficiency),
		SerialFraction: Num(s.SerialFraction), Valid: s.Valid, Diagnosis: s.Diagnosis,
		SpeedupCI: toInterval(s.SpeedupCI), EfficiencyCI: toInterval(s.EfficiencyCI),
		SerialFractionCI: toInterval(s.SerialFractionCI), Level: Num(s.Level), LoadLimited: s.LoadLimited}
	for _, p := range s.Pairs {
		out.Pairs = append(out.Pairs, ScalingPair{Rate: Num(p.Load), Base: Num(p.Base), Scaled: Num(p.Scaled), Speedup: Num(p.Speedup)})
	}
	return out
}

// FromUSL converts a usl() fit.
func FromUSL(ns, xs []float64, f analysis.USLFit) USLFit {
	out := USLFit{Lambda: Num(f.Lambda), Sigma: Num(f.Sigma), Kappa: Num(f.Kappa), PeakN: Num(f.PeakN), PeakX: Num(f.PeakX), R2: Num(f.R2),
		LambdaCI: toInterval(f.LambdaCI), SigmaCI: toInterval(f.SigmaCI), KappaCI: toInterval(f.KappaCI), Level: Num(f.Level)}
	for i := range ns {
		out.N = append(out.N, Num(ns[i]))
		out.X = append(out.X, Num(xs[i]))
	}
	return out
}

// FromHypothesis converts an analysis hypothesis.
func FromHypothesis(h analysis.Hypothesis) Hypothesis {
	out := Hypothesis{ID: h.ID, Statement: h.Statement, Verdict: h.Verdict.String(), Evidence: h.Evidence,
		Declared: h.Declared(), DeclaredSeq: h.DeclaredSeq, DecidedSeq: h.DecidedSeq}
	if c := h.Claim; c != nil {
		d := c.Decision
		out.Claim = &Claim{Quantity: c.Quantity, Value: Num(d.Value), CI: toInterval(d.CI), Rule: d.Rule, Level: Num(c.Level),
			Verdict: string(d.Verdict), Exact: c.Exact, MoreData: Num(d.MoreData), Need: d.Need(), MeasuredSeq: c.MeasuredSeq,
			Summary: c.Rule()}
	}
	return out
}

// FromComparison converts a compare() result.
func FromComparison(c analysis.NamedComparison) Comparison {
	x := c.Comparison
	return Comparison{A: c.A, B: c.B, Metric: x.Metric, At: Num(x.At), Level: Num(x.Level), ValueA: Num(x.A), ValueB: Num(x.B),
		Difference: Num(x.Difference), DifferenceCI: toInterval(x.DifferenceCI), Ratio: Num(x.Ratio), RatioCI: toInterval(x.RatioCI),
		PValue: Num(x.PValue), EffectSize: Num(x.EffectSize), EffectName: x.EffectName, Method: x.Method, NA: x.NA, NB: x.NB,
		Resolve: Num(x.Resolve), RequestsNeeded: Num(x.RequestsNeeded)}
}
