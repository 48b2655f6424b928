package report

import (
	"math"

	"starlab/builtins/analysis"
)

// Report is report.json: what the plan computed and asked for, in the order it did so. Together
// with manifest.json and sweeps/*.json it is all Regenerate needs.
type Report struct {
	Title      string        `json:"title"`
	Notes      string        `json:"notes"`
	Manifest   Summary       `json:"manifest"`
	Sweeps     []string      `json:"sweeps"` // every sweep in the report, sorted by name
	Knees      []Knee        `json:"knees"`
	Scalings   []Scaling     `json:"scalings"`
	USL        []USLFit      `json:"usl"`
	Hypotheses []Hypothesis  `json:"hypotheses"`
	Tables     []Table       `json:"tables"`
	Plots      []PlotSpec    `json:"plots"` // custom plots from plot()
	Given      []GivenPoints `json:"given,omitempty"`
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
}

// Hypothesis is one verdict-table row.
type Hypothesis struct {
	ID        string `json:"id"`
	Statement string `json:"statement"`
	Verdict   string `json:"verdict"`
	Evidence  string `json:"evidence"`
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
		Bracket: [2]Num{Num(k.Bracket[0]), Num(k.Bracket[1])}, Reason: k.Reason, X: k.X, Y: k.Y}
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
		SerialFraction: Num(s.SerialFraction), Valid: s.Valid, Diagnosis: s.Diagnosis}
	for _, p := range s.Pairs {
		out.Pairs = append(out.Pairs, ScalingPair{Rate: Num(p.Load), Base: Num(p.Base), Scaled: Num(p.Scaled), Speedup: Num(p.Speedup)})
	}
	return out
}

// FromUSL converts a usl() fit.
func FromUSL(ns, xs []float64, f analysis.USLFit) USLFit {
	out := USLFit{Lambda: Num(f.Lambda), Sigma: Num(f.Sigma), Kappa: Num(f.Kappa), PeakN: Num(f.PeakN), PeakX: Num(f.PeakX), R2: Num(f.R2)}
	for i := range ns {
		out.N = append(out.N, Num(ns[i]))
		out.X = append(out.X, Num(xs[i]))
	}
	return out
}

// FromHypothesis converts an analysis hypothesis.
func FromHypothesis(h analysis.Hypothesis) Hypothesis {
	return Hypothesis{ID: h.ID, Statement: h.Statement, Verdict: h.Verdict.String(), Evidence: h.Evidence}
}

func (h Hypothesis) analysis() analysis.Hypothesis {
	v := analysis.Undecided
	switch h.Verdict {
	case analysis.Supported.String():
		v = analysis.Supported
	case analysis.Refuted.String():
		v = analysis.Refuted
	}
	return analysis.Hypothesis{ID: h.ID, Statement: h.Statement, Verdict: v, Evidence: h.Evidence}
}
