package report

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"starlab/builtins/analysis"
	"starlab/builtins/sweep/pointschema"
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
	writeSummary(&b, r.Manifest)
	if len(sweeps) > 0 {
		b.WriteString("## Sweeps\n\n")
		for _, s := range sweeps {
			writeSweep(&b, s, plots)
		}
		if len(plots.Overlays) > 0 {
			b.WriteString("### All sweeps\n\n")
		}
		for _, o := range plots.Overlays {
			fmt.Fprintf(&b, "![%s](plots/%s.png)\n\n", o.Title, o.File)
		}
	}
	writeKnees(&b, r.Knees)
	writeScalings(&b, r.Scalings)
	writeUSL(&b, r.USL)
	if len(r.Hypotheses) > 0 {
		hs := make([]analysis.Hypothesis, len(r.Hypotheses))
		for i, h := range r.Hypotheses {
			hs[i] = h.analysis()
		}
		fmt.Fprintf(&b, "## Hypotheses\n\n%s\n", analysis.VerdictTable(hs))
	}
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
	row("starlab", m.Starlab)
	b.WriteString("\nStart and end times, host, GPUs, run mode (resumes, replays) and exit status are in `manifest.json`.\n\n")
}

// writeSweep renders one sweep in the style of seed 004's table; columns without data are left
// out.
func writeSweep(b *strings.Builder, s Sweep, plots Plots) {
	kind := "open loop, offered request rate"
	if s.Closed() {
		kind = "closed loop, concurrency"
	}
	if s.Given {
		kind += "; table given by the plan"
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
		return func(i int) string { return fmtNum(s.value(i, field)) }
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
	hasBottleneck := false
	for i := range s.Rows {
		if _, ok := s.flag(i, pointschema.ClientBottleneck); ok {
			hasBottleneck = true
		}
	}
	hasMem := false
	for i := range s.Rows {
		if !math.IsNaN(s.gpuMemoryMiB(i)) {
			hasMem = true
		}
	}
	cols := []col{
		{loadHead, load, true},
		{"success", func(i int) string { return successRate(s, i) }, s.has(pointschema.Completed)},
		{"TTFT mean (ms)", f(pointschema.MeanTTFTMs), s.has(pointschema.MeanTTFTMs)},
		{"TTFT p99 (ms)", f(pointschema.P99TTFTMs), s.has(pointschema.P99TTFTMs)},
		{"E2EL mean (ms)", f(pointschema.MeanE2ELMs), s.has(pointschema.MeanE2ELMs)},
		{"E2EL p99 (ms)", f(pointschema.P99E2ELMs), s.has(pointschema.P99E2ELMs)},
		{"req/s", f(pointschema.RequestThroughput), s.has(pointschema.RequestThroughput)},
		{"out tok/s", f(pointschema.OutputThroughput), s.has(pointschema.OutputThroughput)},
		{"total tok/s", f(pointschema.TotalTokenThroughput), s.has(pointschema.TotalTokenThroughput)},
		{"KV cache max", func(i int) string { return pct(s.value(i, pointschema.ServerMaxKVCacheUsage)) }, s.has(pointschema.ServerMaxKVCacheUsage)},
		{"GPU mem (MiB)", func(i int) string { return fmtNum(math.Round(s.gpuMemoryMiB(i))) }, hasMem},
		{"client bottleneck", func(i int) string { return bottleneck(s, i) }, hasBottleneck},
		{"J/token", f(pointschema.GPUJoulesPerOutputToken), s.has(pointschema.GPUJoulesPerOutputToken)},
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
	writeSweepNotes(b, s, load)
	for _, p := range plots.PerSweep[s.Name] {
		fmt.Fprintf(b, "![%s](plots/%s.png)\n\n", p.Title, p.File)
	}
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
		if k.Found {
			fmt.Fprintf(b, "### %s: knee at %s = %s (%s)\n\n", name, k.X, fmtNum(float64(k.Rate)), k.Method)
			fmt.Fprintf(b, "Highest load below saturation %s; the knee lies in [%s, %s]; max %s %s.\n\n",
				fmtNum(float64(k.Rate)), fmtNum(float64(k.Bracket[0])), fmtNum(float64(k.Bracket[1])), k.Y, fmtNum(float64(k.MaxThroughput)))
		} else {
			fmt.Fprintf(b, "### %s: no knee found\n\n", name)
		}
		if k.Reason != "" {
			fmt.Fprintf(b, "%s\n\n", k.Reason)
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

func writeScalings(b *strings.Builder, ss []Scaling) {
	if len(ss) == 0 {
		return
	}
	b.WriteString("## Scaling\n\n| base | scaled | n | metric | compared at | base | scaled | speedup | efficiency | serial fraction (Karp–Flatt) | valid | diagnosis |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
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
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			orDash(s.Base), orDash(s.Scaled), s.N, s.Metric, at, fmtNum(float64(s.BaseValue)), fmtNum(float64(s.ScaledValue)),
			fmtNum(float64(s.Speedup)), fmtNum(float64(s.Efficiency)), fmtNum(float64(s.SerialFraction)), valid, cell(s.Diagnosis))
	}
	b.WriteString("\n")
}

func writeUSL(b *strings.Builder, fits []USLFit) {
	if len(fits) == 0 {
		return
	}
	b.WriteString("## Universal Scalability Law fits\n\n| points | λ | σ | κ | peak N | peak X | R² |\n|---|---|---|---|---|---|---|\n")
	for _, f := range fits {
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s |\n", len(f.N), fmtNum(float64(f.Lambda)), fmtNum(float64(f.Sigma)),
			fmtNum(float64(f.Kappa)), fmtNum(float64(f.PeakN)), fmtNum(float64(f.PeakX)), fmtNum(float64(f.R2)))
	}
	b.WriteString("\n")
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
