package report

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"starlab/builtins/analysis"
	"starlab/builtins/consistency"
	"starlab/builtins/sweep/pointschema"
	"starlab/stats"
)

// Markdown renders report.md from the report and its sweeps. It uses nothing that changes
// between two runs with the same seed (no clock, host or durations), so --virtual reports are
// byte-identical.
func Markdown(r Report, sweeps []Sweep, plots Plots) string {
	var b strings.Builder
	title := r.Title
	if title == "" {
		title = "Report"
		if r.Manifest.Plan != "" {
			title = "Report: " + strings.TrimSuffix(filepath.Base(r.Manifest.Plan), ".star")
		}
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	if n := strings.TrimSpace(r.Notes); n != "" {
		fmt.Fprintf(&b, "%s\n\n", n)
	}
	level := reportLevel(r, sweeps)
	writeSummary(&b, r.Manifest)
	if hasIntervals(r, sweeps) {
		writeLegend(&b, level)
	}
	writeWarnings(&b, r, sweeps)
	if len(sweeps) > 0 {
		b.WriteString("## Sweeps\n\n")
		for _, s := range sweeps {
			writeSweep(&b, s, plots, level)
		}
		if len(plots.Overlays) > 0 {
			b.WriteString("### All sweeps\n\n")
		}
		for _, o := range plots.Overlays {
			fmt.Fprintf(&b, "![%s](plots/%s.png)\n\n", o.Title, o.File)
		}
	}
	writeCalibrations(&b, r.Calibrations, level)
	writeTwins(&b, r.Twins)
	writeKnees(&b, r.Knees)
	writeScalings(&b, r.Scalings)
	writeUSL(&b, r.USL)
	writeComparisons(&b, r.Comparisons)
	writeHypotheses(&b, r.Hypotheses)
	for _, t := range r.Tables {
		fmt.Fprintf(&b, "## Table: %s\n\n", t.Name)
		writeTable(&b, t)
		fmt.Fprintf(&b, "CSV: `tables/%s.csv`\n\n", t.Name)
	}
	for _, p := range r.Plots {
		fmt.Fprintf(&b, "## Plot: %s\n\n![%s vs %s](plots/%s.png)\n\n", p.Name, p.Y, p.X, p.Name)
	}
	return b.String()
}

// reportLevel is the confidence the legend states: the run's (manifest.json), else the first
// level a sweep or finding states, else the default.
func reportLevel(r Report, sweeps []Sweep) float64 {
	if r.Manifest.Confidence > 0 {
		return r.Manifest.Confidence
	}
	for _, s := range sweeps {
		if l := s.level(); l > 0 {
			return l
		}
	}
	var levels []Num
	for _, k := range r.Knees {
		levels = append(levels, k.Level)
	}
	for _, s := range r.Scalings {
		levels = append(levels, s.Level)
	}
	for _, f := range r.USL {
		levels = append(levels, f.Level)
	}
	for _, c := range r.Comparisons {
		levels = append(levels, c.Level)
	}
	for _, h := range r.Hypotheses {
		if h.Claim != nil {
			levels = append(levels, h.Claim.Level)
		}
	}
	for _, l := range levels {
		if l > 0 {
			return float64(l)
		}
	}
	return stats.DefaultLevel
}

// hasIntervals reports whether the report shows any interval, and so needs the legend.
func hasIntervals(r Report, sweeps []Sweep) bool {
	for _, s := range sweeps {
		if s.hasIntervals() {
			return true
		}
	}
	for _, k := range r.Knees {
		if k.RateCI != nil || k.MaxThroughputCI != nil {
			return true
		}
		for _, v := range k.Verdicts {
			if v.DeliveredCI != nil {
				return true
			}
		}
	}
	for _, s := range r.Scalings {
		if s.SpeedupCI != nil {
			return true
		}
	}
	for _, f := range r.USL {
		if f.LambdaCI != nil || f.SigmaCI != nil || f.KappaCI != nil {
			return true
		}
	}
	for _, h := range r.Hypotheses {
		if h.Claim != nil && h.Claim.CI != nil && !h.Claim.Exact {
			return true
		}
	}
	for _, c := range r.Calibrations {
		for _, p := range c.Params {
			if p.CI != nil {
				return true
			}
		}
	}
	return len(r.Comparisons) > 0
}

// writeLegend says how intervals read: one rule for every table.
func writeLegend(b *strings.Builder, level float64) {
	fmt.Fprintf(b, "± is the half-width of the %s interval (confidence from the run). A figure whose interval is lopsided "+
		"(one side more than %s× the other) shows its ends instead: value [lo, hi]; so do verdicts and rules, which are "+
		"decided on the ends. A figure without ± has no interval.\n\n", pctLevel(level), fmtNum(lopsided))
}

// writeWarnings lists every point a reader should doubt, and why: the points tables flag them
// with ⚠. Calibrations the data do not pin down come first.
func writeWarnings(b *strings.Builder, r Report, sweeps []Sweep) {
	lines := calibrationWarnings(r.Calibrations)
	for _, s := range sweeps {
		for _, i := range s.sorted() {
			for _, w := range s.warnings[i] {
				if w.Flag == consistency.PerRequestThroughput {
					continue // a finding about the whole table, listed once below
				}
				lines = append(lines, fmt.Sprintf("- %s, %s: ⚠ %s: %s", s.Name, pointLabel(s, i), w.Flag, cell(w.Detail)))
			}
		}
		for _, w := range s.tableFindings {
			lines = append(lines, fmt.Sprintf("- %s (the table): ⚠ %s: %s", s.Name, w.Flag, cell(w.Detail)))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("## Warnings\n\n" + strings.Join(lines, "\n") + "\n\n")
}

// pointLabel names point i by its load: "rate 10 req/s", "concurrency 8".
func pointLabel(s Sweep, i int) string {
	if s.Closed() {
		return "concurrency " + fmtNum(s.value(i, pointschema.MaxConcurrency))
	}
	return "rate " + fmtNum(s.value(i, pointschema.RequestRate)) + " req/s"
}

func writeSummary(b *strings.Builder, m Summary) {
	b.WriteString("## Run\n\n| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, cell(v)) }
	row("plan", "`"+m.Plan+"`")
	row("plan sha256", "`"+m.SHA256+"`")
	row("seed", fmt.Sprint(m.Seed))
	var params []string
	for _, k := range sortedKeys(m.Params) {
		params = append(params, k+"="+m.Params[k])
	}
	if len(params) == 0 {
		params = []string{"(defaults)"}
	}
	row("params (--set)", strings.Join(params, ", "))
	// The clock, not the mode: a resumed or replayed run reports what an uninterrupted one does.
	clock := "wall clock"
	if m.Virtual {
		clock = "virtual time (simulated servers)"
	}
	row("clock", clock)
	if m.Confidence > 0 {
		row("confidence (--confidence)", pctLevel(m.Confidence))
	}
	row("starlab", m.Starlab)
	b.WriteString("\nStart and end times, host, GPUs, run mode (resumes, replays) and exit status are in `manifest.json`.\n\n")
}

// writeSweep renders one sweep in the style of seed 004's table; columns without data are left
// out. A figure with an interval shows it (fmtCI), and a point with warnings is flagged ⚠.
func writeSweep(b *strings.Builder, s Sweep, plots Plots, level float64) {
	kind := "open loop, offered request rate"
	if s.Closed() {
		kind = "closed loop, concurrency"
	}
	if s.Given {
		kind += "; table given by the plan"
	}
	if n := s.repeats(); n > 0 {
		kind += fmt.Sprintf("; each point the mean of %d interleaved repeats, its interval across them", n)
	}
	if l := s.level(); l > 0 && l != level {
		kind += "; intervals at " + pctLevel(l)
	}
	points := "points"
	if len(s.Points) == 1 {
		points = "point"
	}
	fmt.Fprintf(b, "### %s\n\n%d %s (%s). CSV: `sweeps/%s.csv`\n\n", s.Name, len(s.Points), points, kind, s.Name)
	type col struct {
		head string
		get  func(i int) string
		has  bool
	}
	f := func(field string) func(int) string {
		return func(i int) string { return fmtCI(s.value(i, field), s.interval(i, field)) }
	}
	load := func(i int) string {
		if s.Closed() {
			return fmtNum(s.value(i, pointschema.MaxConcurrency))
		}
		return fmtNum(s.value(i, pointschema.RequestRate))
	}
	loadHead := "rate (req/s)"
	if s.Closed() {
		loadHead = "concurrency"
	}
	hasBottleneck, hasMem, hasWarnings := false, false, false
	for i := range s.Rows {
		if _, ok := s.flag(i, pointschema.ClientBottleneck); ok {
			hasBottleneck = true
		}
		if !math.IsNaN(s.gpuMemoryMiB(i)) {
			hasMem = true
		}
		if len(s.warnings[i]) > 0 {
			hasWarnings = true
		}
	}
	cols := []col{
		{loadHead, load, true},
		{"success", func(i int) string { return successRate(s, i) }, s.has(pointschema.Completed)},
		{"TTFT mean (ms)", f(pointschema.MeanTTFTMs), s.has(pointschema.MeanTTFTMs)},
		{"TTFT median (ms)", f(pointschema.MedianTTFTMs), s.has(pointschema.MedianTTFTMs)},
		{"TTFT p99 (ms)", f(pointschema.P99TTFTMs), s.has(pointschema.P99TTFTMs)},
		{"E2EL mean (ms)", f(pointschema.MeanE2ELMs), s.has(pointschema.MeanE2ELMs)},
		{"E2EL p99 (ms)", f(pointschema.P99E2ELMs), s.has(pointschema.P99E2ELMs)},
		{"req/s", f(pointschema.RequestThroughput), s.has(pointschema.RequestThroughput)},
		{"out tok/s", f(pointschema.OutputThroughput), s.has(pointschema.OutputThroughput)},
		{"total tok/s", f(pointschema.TotalTokenThroughput), s.has(pointschema.TotalTokenThroughput)},
		{"delivered", f(fieldDelivered), s.level() > 0 && s.has(fieldDelivered)},
		{"KV cache max", func(i int) string { return pct(s.value(i, pointschema.ServerMaxKVCacheUsage)) }, s.has(pointschema.ServerMaxKVCacheUsage)},
		{"prefix hit", func(i int) string { return pct(s.prefixHitRate(i)) }, s.hasPrefixHits()},
		{"GPU mem (MiB)", func(i int) string { return fmtNum(math.Round(s.gpuMemoryMiB(i))) }, hasMem},
		{"client bottleneck", func(i int) string { return bottleneck(s, i) }, hasBottleneck},
		{"J/token", f(pointschema.GPUJoulesPerOutputToken), s.has(pointschema.GPUJoulesPerOutputToken)},
		{"warnings", func(i int) string { return flags(s, i) }, hasWarnings},
	}
	var shown []col
	for _, c := range cols {
		if c.has {
			shown = append(shown, c)
		}
	}
	for j, c := range shown {
		if j == 0 {
			b.WriteString("|")
		}
		fmt.Fprintf(b, " %s |", c.head)
	}
	b.WriteString("\n|")
	for range shown {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, i := range s.sorted() {
		b.WriteString("|")
		for _, c := range shown {
			fmt.Fprintf(b, " %s |", c.get(i))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	if hasWarnings {
		b.WriteString("⚠: see Warnings.\n\n")
	}
	writeSweepNotes(b, s, load)
	writeSources(b, s)
	writeWorkloads(b, s)
	for _, p := range plots.PerSweep[s.Name] {
		fmt.Fprintf(b, "![%s](plots/%s.png)\n\n", p.Title, p.File)
	}
}

// fieldDelivered is the point's delivered fraction (pointschema.Point.Delivered).
const fieldDelivered = "delivered"

// flags is point i's warnings for its row: "⚠ not steady; ⚠ littles_law".
func flags(s Sweep, i int) string {
	var out []string
	for _, w := range s.warnings[i] {
		out = append(out, "⚠ "+w.Flag)
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "; ")
}

// writeSweepNotes lists what a reader must know about individual points, so that nothing that
// weakens a result stays in the logs only: early stops, failures by reason, requests still in
// flight, a load generator that held the point back, output lengths counted without usage,
// failed /metrics scrapes.
func writeSweepNotes(b *strings.Builder, s Sweep, load func(int) string) {
	because := func(why string) string {
		if why == "" {
			return ""
		}
		return " (" + why + ")"
	}
	label := func(i int) string {
		if s.Closed() {
			return "concurrency " + load(i)
		}
		return "rate " + load(i) + " req/s"
	}
	var notes []string
	for _, i := range s.sorted() {
		var parts []string
		if stopped, _ := s.flag(i, pointschema.StoppedEarly); stopped {
			why, _ := s.at(i, pointschema.StopReason).(string)
			parts = append(parts, "stopped early"+because(why))
		}
		if errs, ok := s.at(i, pointschema.Errors).(map[string]any); ok && len(errs) > 0 {
			keys := make([]string, 0, len(errs))
			for k := range errs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var es []string
			for _, k := range keys {
				es = append(es, fmt.Sprintf("%s × %v", k, errs[k]))
			}
			parts = append(parts, "failed: "+strings.Join(es, ", "))
		}
		if n := s.value(i, pointschema.Incomplete); n > 0 {
			parts = append(parts, fmt.Sprintf("%s requests incomplete", fmtNum(n)))
		}
		if yes, _ := s.flag(i, pointschema.ClientBottleneck); yes {
			why, _ := s.at(i, pointschema.ClientBottleneckReason).(string)
			parts = append(parts, "the load generator was the bottleneck"+because(why))
		}
		if n := s.value(i, pointschema.OutputTokensFromChunks); n > 0 {
			parts = append(parts, fmt.Sprintf("output length counted from chunks for %s requests (no usage)", fmtNum(n)))
		}
		if n := s.value(i, pointschema.ServerScrapeErrors); n > 0 {
			parts = append(parts, fmt.Sprintf("%s failed /metrics scrapes", fmtNum(n)))
		}
		if len(parts) > 0 {
			notes = append(notes, fmt.Sprintf("- %s: %s", label(i), strings.Join(parts, "; ")))
		}
	}
	if len(notes) > 0 {
		b.WriteString("Notes:\n\n" + strings.Join(notes, "\n") + "\n\n")
	}
}

func successRate(s Sweep, i int) string {
	c, f := s.value(i, pointschema.Completed), s.value(i, pointschema.Failed)
	if math.IsNaN(f) {
		f = 0
	}
	inc := s.value(i, pointschema.Incomplete)
	if math.IsNaN(inc) {
		inc = 0
	}
	if math.IsNaN(c) || c+f+inc == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*c/(c+f+inc))
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func bottleneck(s Sweep, i int) string {
	v, ok := s.flag(i, pointschema.ClientBottleneck)
	switch {
	case !ok:
		return "—"
	case v:
		return "**yes**"
	}
	return "no"
}

func writeKnees(b *strings.Builder, knees []Knee) {
	if len(knees) == 0 {
		return
	}
	b.WriteString("## Knees\n\n")
	for _, k := range knees {
		name := k.Sweep
		if name == "" {
			name = "(unnamed table)"
		}
		plateau := fmtCI(float64(k.MaxThroughput), k.MaxThroughputCI.stats())
		if k.Found {
			fmt.Fprintf(b, "### %s: knee at %s = %s (%s)\n\n", name, k.X, fmtNum(float64(k.Rate)), k.Method)
			fmt.Fprintf(b, "Highest load below saturation %s; the knee lies in [%s, %s]; max %s %s.\n\n",
				fmtNum(float64(k.Rate)), fmtNum(float64(k.Bracket[0])), fmtNum(float64(k.Bracket[1])), k.Y, plateau)
		} else {
			fmt.Fprintf(b, "### %s: no knee found\n\n", name)
			if k.MaxThroughputCI != nil {
				fmt.Fprintf(b, "Max %s %s.\n\n", k.Y, plateau)
			}
		}
		if ci := k.RateCI; ci != nil {
			fmt.Fprintf(b, "The knee's %s lies in [%s, %s]%s: from the highest load decidedly not saturated to the lowest decidedly saturated.\n\n",
				k.X, fmtNum(float64(ci[0])), fmtNum(float64(ci[1])), atLevel(k.Level))
		}
		if k.Reason != "" {
			fmt.Fprintf(b, "%s\n\n", k.Reason)
		}
		for _, c := range k.Checks {
			fmt.Fprintf(b, "⚠ %s\n\n", cell(c))
		}
		if len(k.Verdicts) > 0 {
			fmt.Fprintf(b, "Saturation per load%s (saturated when the delivered fraction is decidedly under %s):\n\n",
				atLevel(k.Level), fmtNum(analysis.SaturationThreshold))
			b.WriteString("| load | verdict | delivered | rule |\n|---|---|---|---|\n")
			for _, v := range k.Verdicts {
				fmt.Fprintf(b, "| %s | %s | %s | %s |\n", fmtNum(float64(v.Load)), saturationCell(v),
					fmtFraction(float64(v.Delivered), v.DeliveredCI.stats()), cell(v.Reason))
			}
			b.WriteString("\n")
		}
		if len(k.Evidence) > 0 {
			b.WriteString("| method | found | rate | bracket | detail |\n|---|---|---|---|---|\n")
			for _, e := range k.Evidence {
				found, rate, br := "no", "—", "—"
				if e.Found {
					found, rate = "yes", fmtNum(float64(e.Rate))
					br = fmt.Sprintf("[%s, %s]", fmtNum(float64(e.Bracket[0])), fmtNum(float64(e.Bracket[1])))
				}
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", e.Method, found, rate, br, cell(e.Detail))
			}
			b.WriteString("\n")
		}
	}
}

// fmtFraction is a delivered fraction with its interval's ends, to three decimals as the
// verdict's rule states them: "0.937 [0.89, 0.98]".
func fmtFraction(f float64, ci stats.Interval) string {
	r := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	if ci.Unknown() {
		return fmtNum(r(f))
	}
	return fmtEnds(r(f), stats.Interval{Lo: r(ci.Lo), Hi: r(ci.Hi)})
}

// atLevel is " at 95%", or "" for a finding recorded without its level.
func atLevel(level Num) string {
	if level > 0 {
		return " at " + pctLevel(float64(level))
	}
	return ""
}

// saturationCell is a load's verdict as the knee's table shows it.
func saturationCell(v PointVerdict) string {
	out := v.Verdict
	if v.Verdict == analysis.SaturationUndecided {
		out = "❔ inconclusive"
		if m := float64(v.MoreData); m > 0 && !math.IsInf(m, 0) && !math.IsNaN(m) {
			out += fmt.Sprintf(" (~%sx more data needed)", fmtNum(math.Ceil(m*10)/10))
		}
	}
	if v.ValueOnly {
		out += " (no interval)"
	}
	return out
}

func writeScalings(b *strings.Builder, ss []Scaling) {
	if len(ss) == 0 {
		return
	}
	b.WriteString("## Scaling\n\n| base | scaled | n | metric | compared at | base | scaled | speedup | efficiency | serial fraction (Karp–Flatt) | load-limited | valid | diagnosis |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range ss {
		at := map[string]string{"capacity": "capacities (saturated points)", "peak": "peaks"}[s.Mode]
		if !math.IsNaN(float64(s.Rate)) {
			at = "rate " + fmtNum(float64(s.Rate))
		} else if at == "" {
			at = s.Mode
		}
		valid := "no"
		if s.Valid {
			valid = "yes"
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			orDash(s.Base), orDash(s.Scaled), s.N, s.Metric, at, fmtNum(float64(s.BaseValue)), fmtNum(float64(s.ScaledValue)),
			fmtCI(float64(s.Speedup), s.SpeedupCI.stats()), fmtCI(float64(s.Efficiency), s.EfficiencyCI.stats()),
			fmtCI(float64(s.SerialFraction), s.SerialFractionCI.stats()), loadLimitedCell(s.LoadLimited), valid, cell(s.Diagnosis))
	}
	b.WriteString("\n")
}

// loadLimitedCell is the base's three-valued load-limited diagnosis.
func loadLimitedCell(v string) string {
	switch v {
	case "yes":
		return "yes: base not saturated"
	case "no":
		return "no: base saturated"
	case analysis.SaturationUndecided:
		return "❔ inconclusive"
	}
	return "—"
}

func writeUSL(b *strings.Builder, fits []USLFit) {
	if len(fits) == 0 {
		return
	}
	b.WriteString("## Universal Scalability Law fits\n\n| points | λ | σ | κ | peak N | peak X | R² |\n|---|---|---|---|---|---|---|\n")
	for _, f := range fits {
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s |\n", len(f.N), fmtCI(float64(f.Lambda), f.LambdaCI.stats()),
			fmtCI(float64(f.Sigma), f.SigmaCI.stats()), fmtCI(float64(f.Kappa), f.KappaCI.stats()),
			fmtNum(float64(f.PeakN)), fmtNum(float64(f.PeakX)), fmtNum(float64(f.R2)))
	}
	b.WriteString("\n")
}

// writeComparisons renders compare() results: B against A with intervals, the test and the power
// hint.
func writeComparisons(b *strings.Builder, cs []Comparison) {
	if len(cs) == 0 {
		return
	}
	b.WriteString("## Comparisons\n\n| A | B | metric | at | A value | B value | B − A | B / A | p-value | differs | effect | to resolve | method |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cs {
		differs := "—"
		if p := float64(c.PValue); !math.IsNaN(p) {
			differs = "no"
			if p < 1-float64(c.Level) {
				differs = "yes"
			}
			if c.Level > 0 {
				differs += " (at " + pctLevel(float64(c.Level)) + ")"
			}
		}
		effect := "—"
		if e := float64(c.EffectSize); !math.IsNaN(e) {
			effect = fmt.Sprintf("%s %s", c.EffectName, fmtNum(e))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			cell(c.A), cell(c.B), c.Metric, fmtNum(float64(c.At)), fmtNum(float64(c.ValueA)), fmtNum(float64(c.ValueB)),
			fmtCI(float64(c.Difference), c.DifferenceCI.stats()), fmtCI(float64(c.Ratio), c.RatioCI.stats()),
			fmtP(float64(c.PValue)), differs, effect, resolveCell(c), cell(c.Method))
	}
	b.WriteString("\n")
}

// resolveCell is the power hint in words.
func resolveCell(c Comparison) string {
	n, d := float64(c.RequestsNeeded), float64(c.Resolve)
	switch {
	case math.IsNaN(n) || math.IsInf(n, 0):
		return "—"
	case n == 0:
		return "resolved"
	}
	return fmt.Sprintf("~%s more requests per side for a %s%% difference", fmtNum(n), fmtNum(100*d))
}

// writeHypotheses renders the verdict table: each verdict with the rule and interval it was
// decided by, and whether the hypothesis was declared before the evidence (a prediction) or
// after it (a reading).
func writeHypotheses(b *strings.Builder, hs []Hypothesis) {
	if len(hs) == 0 {
		return
	}
	b.WriteString("## Hypotheses\n\n| ID | Hypothesis | Verdict | Rule | Declared | Evidence |\n|---|---|---|---|---|---|\n")
	for _, h := range hs {
		rule := "—"
		if h.Claim != nil && h.Claim.Summary != "" {
			rule = h.Claim.Summary
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", cell(h.ID), cell(h.Statement), verdictCell(h),
			cell(rule), orDash(h.Declared), cell(h.Evidence))
	}
	b.WriteString("\n")
}

// verdictCell is a hypothesis's verdict; an inconclusive one says what would decide it.
func verdictCell(h Hypothesis) string {
	switch h.Verdict {
	case analysis.Supported.String():
		return "✅ supported"
	case analysis.Refuted.String():
		return "❌ refuted"
	case analysis.Inconclusive.String():
		if h.Claim != nil && h.Claim.Need != "" {
			return "❔ inconclusive (" + h.Claim.Need + ")"
		}
		return "❔ inconclusive"
	}
	return "❔ undecided"
}

func writeTable(b *strings.Builder, t Table) {
	if len(t.Columns) == 0 {
		b.WriteString("(empty)\n\n")
		return
	}
	b.WriteString("|")
	for _, c := range t.Columns {
		fmt.Fprintf(b, " %s |", cell(c))
	}
	b.WriteString("\n|" + strings.Repeat("---|", len(t.Columns)) + "\n")
	for _, r := range t.Rows {
		b.WriteString("|")
		for _, c := range t.Columns {
			fmt.Fprintf(b, " %s |", cell(cellText(r[c])))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// cellText renders a table value: numbers as fmtNum would, others as printed.
func cellText(v any) string {
	if v == nil {
		return ""
	}
	if f, ok := numberOf(v); ok {
		return fmtNum(f)
	}
	return fmt.Sprint(v)
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "<br>")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
