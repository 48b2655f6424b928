package report

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"starlab/builtins/sweep/pointschema"
)

// writeCalibrations renders each calibration: what it was fitted on, its parameters with their
// intervals, the engine limits it keeps, the load range it holds for, and every calibration
// point as the fitted twin reproduces it.
func writeCalibrations(b *strings.Builder, cals []CalibrationSummary, level float64) {
	if len(cals) == 0 {
		return
	}
	b.WriteString("## Calibrations\n\n")
	b.WriteString("A calibration fits the simulator's step time to measurements of a real server; a simulator that runs on it " +
		"is that server's twin. It holds within the range it was fitted on; a twin point outside it extrapolates and is " +
		"listed under Warnings. Error = (twin − measured) / measured.\n\n")
	for _, c := range cals {
		fmt.Fprintf(b, "### %s\n\n", c.Name)
		sweeps := "—"
		if len(c.Sweeps) > 0 {
			sweeps = strings.Join(c.Sweeps, ", ")
		}
		fmt.Fprintf(b, "Twin of server %s (%s), fitted on %s: %d observations, R² %s, RMSE %s%%, MAPE %s%%. File: `%s`.\n\n",
			orDash(c.Server), calibratedWhat(c), sweeps, c.Observations, fmtNum(float64(c.R2)), fmtNum(float64(c.RMSEPct)),
			fmtNum(float64(c.MAPEPct)), c.File)
		at := ""
		if l := float64(c.Level); l > 0 && l != level {
			at = " (intervals at " + pctLevel(l) + ")"
		}
		fmt.Fprintf(b, "| parameter%s | value | std. error | status |\n|---|---|---|---|\n", at)
		for _, p := range c.Params {
			value := fmtCI(float64(p.Value), p.CI.stats())
			status := p.Status
			if p.Status == "not identified" {
				status = "⚠ not identified"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", p.Name, value, fmtNum(float64(p.StdErr)), status)
		}
		b.WriteString("\n")
		if l := limitsText(c); l != "" {
			fmt.Fprintf(b, "Engine limits kept by the twin: %s.\n\n", l)
		}
		rg := c.Range
		fmt.Fprintf(b, "Fitted on %s requests in flight at the engine, prompts of %s tokens, outputs of %s tokens, throughput %s req/s.\n\n",
			fmtRange(floats(rg.Running)), fmtRange(floats(rg.InputTokens)), fmtRange(floats(rg.OutputTokens)),
			fmtRange(floats(rg.RequestThroughput)))
		if len(c.Points) > 0 {
			b.WriteString("| calibration point | metric | measured | twin | error |\n|---|---|---|---|---|\n")
			for _, p := range c.Points {
				point := p.Load
				if p.Sweep != "" {
					point = p.Sweep + ", " + p.Load
				}
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", cell(point), metricLabel(p.Metric), fmtNum(float64(p.Measured)),
					fmtNum(float64(p.Predicted)), signedPct(float64(p.ErrorPct)))
			}
			b.WriteString("\n")
		}
	}
}

// calibratedWhat is "llama.cpp, model tiny.gguf, GPU H100": an absolute model path shows its file
// name only.
func calibratedWhat(c CalibrationSummary) string {
	var parts []string
	if c.Engine != "" {
		parts = append(parts, c.Engine)
	}
	if m := c.Model; m != "" {
		if filepath.IsAbs(m) {
			m = filepath.Base(m)
		}
		parts = append(parts, "model `"+m+"`")
	}
	if c.GPU != "" {
		parts = append(parts, "GPU "+c.GPU)
	}
	return orDash(strings.Join(parts, ", "))
}

func limitsText(c CalibrationSummary) string {
	l := c.Limits
	var parts []string
	add := func(name string, v int) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, v))
		}
	}
	add("max_num_seqs", l.MaxNumSeqs)
	add("max_num_batched_tokens", l.MaxNumBatchedTokens)
	if l.KVTokens > 0 {
		kv := fmt.Sprintf("KV cache %d tokens", l.KVTokens)
		if l.KVSource != "" {
			kv += " (" + l.KVSource + ")"
		}
		parts = append(parts, kv)
	}
	add("max_model_len", l.MaxModelLen)
	add("tensor_parallel", l.TensorParallel)
	return strings.Join(parts, ", ")
}

func floats(r [2]Num) [2]float64 { return [2]float64{float64(r[0]), float64(r[1])} }

// metricLabel names a metric in the twin's tables: "TTFT median (ms)".
func metricLabel(m string) string {
	if l, ok := twinMetricLabel[m]; ok {
		return l
	}
	return m
}

// signedPct is a signed error in percent: "+2.5%", "−13.0%".
func signedPct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	s := fmt.Sprintf("%+.1f%%", v)
	if s == "-0.0%" {
		s = "+0.0%"
	}
	return strings.Replace(s, "-", "−", 1)
}

// writeTwins renders each twin sweep against the measured sweep it predicts: every pair with its
// error, the MAPE of each metric, the knees when both were found, and the overlay plots.
func writeTwins(b *strings.Builder, twins []TwinComparison) {
	if len(twins) == 0 {
		return
	}
	b.WriteString("## Twin vs measurement\n\n")
	b.WriteString("Each measured point is paired with the twin's point at the same load (closed loop: the same concurrency; " +
		"open loop: the same offered rate). An open-loop rate between two of the twin's rates is read off the twin's curve " +
		"by linear interpolation (marked interpolated). Error = (twin − measured) / measured; MAPE is the mean of its " +
		"absolute value over the pairs.\n\n")
	for _, tc := range twins {
		fmt.Fprintf(b, "### %s (twin, calibration %s) vs %s (server %s)\n\n", tc.Twin, tc.Calibration, tc.Measured, orDash(tc.Server))
		interpolated := 0
		for _, p := range tc.Pairs {
			if p.Interpolated {
				interpolated++
			}
		}
		var status []string
		switch n := len(tc.Pairs); n {
		case 0:
			status = append(status, "No measured point has a twin point at its load")
		case 1:
			status = append(status, "1 measured point paired")
		default:
			status = append(status, fmt.Sprintf("%d measured points paired", n))
		}
		if interpolated > 0 {
			status[0] += fmt.Sprintf(" (%d interpolated)", interpolated)
		}
		if n := len(tc.Skipped); n > 0 {
			var loads []string
			for _, l := range tc.Skipped {
				loads = append(loads, fmtNum(float64(l)))
			}
			status = append(status, fmt.Sprintf("%d without a twin point at their load, skipped (%s %s)", n, loadWord(tc.X), strings.Join(loads, ", ")))
		}
		b.WriteString(strings.Join(status, "; ") + ".")
		if tc.InSample {
			fmt.Fprintf(b, " %s is one of the sweeps %s was fitted on: these pairs show the fit, they do not test the twin.", tc.Measured, tc.Calibration)
		}
		b.WriteString("\n\n")
		if len(tc.Pairs) > 0 {
			head := "rate (req/s)"
			if tc.X == pointschema.MaxConcurrency {
				head = "concurrency"
			}
			fmt.Fprintf(b, "| %s | metric | measured | twin | error | twin in measured CI |\n|---|---|---|---|---|---|\n", head)
			for _, p := range tc.Pairs {
				load := fmtNum(float64(p.Load))
				if p.Interpolated {
					load += fmt.Sprintf(" (interpolated, %s–%s)", fmtNum(float64(p.Between[0])), fmtNum(float64(p.Between[1])))
				}
				for _, v := range p.Values {
					fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", load, metricLabel(v.Metric),
						fmtCI(float64(v.Measured), v.MeasuredCI.stats()), fmtNum(float64(v.Predicted)),
						signedPct(float64(v.ErrorPct)), withinCell(v.WithinCI))
				}
			}
			b.WriteString("\n")
		}
		if len(tc.Metrics) > 0 {
			b.WriteString("| metric | pairs | MAPE | twin in measured CI |\n|---|---|---|---|\n")
			for _, m := range tc.Metrics {
				within := "—"
				if m.WithCI > 0 {
					within = fmt.Sprintf("%d of %d", m.WithinCI, m.WithCI)
				}
				fmt.Fprintf(b, "| %s | %d | %.1f%% | %s |\n", metricLabel(m.Metric), m.Pairs, float64(m.MAPEPct), within)
			}
			b.WriteString("\n")
		}
		if k := tc.Knee; k != nil {
			fmt.Fprintf(b, "Knee: the twin's at %s %s with max throughput %s req/s, measured at %s with %s req/s (error %s).\n\n",
				k.X, fmtNum(float64(k.TwinRate)), fmtNum(float64(k.TwinMaxThroughput)), fmtNum(float64(k.MeasuredRate)),
				fmtNum(float64(k.MeasuredMaxThroughput)), signedPct(float64(k.MaxThroughputErrorPct)))
		}
		for _, p := range tc.Plots {
			fmt.Fprintf(b, "![%s](plots/%s.png)\n\n", twinPlotTitle(tc, p.Metric), p.File)
		}
	}
}

func loadWord(x string) string {
	if x == pointschema.MaxConcurrency {
		return "concurrency"
	}
	return "rate"
}

func withinCell(in *bool) string {
	switch {
	case in == nil:
		return "—"
	case *in:
		return "yes"
	}
	return "**no**"
}
