package report

import (
	"fmt"
	"math"
	"strings"

	"starlab/builtins/sweep/pointschema"
	"starlab/stats"
)

// CompareMarkdown renders compare.md: the runs, where their manifests differ (first, so that a
// comparison of unlike runs shows at once), then each shared sweep load by load.
func CompareMarkdown(c RunComparison) string {
	var b strings.Builder
	labels := make([]string, len(c.Runs))
	for i, r := range c.Runs {
		labels[i] = r.Label
	}
	fmt.Fprintf(&b, "# Comparison: %s\n\n", cell(compareAndList(labels)))
	b.WriteString("| run | directory |\n|---|---|\n")
	for _, r := range c.Runs {
		fmt.Fprintf(&b, "| %s | `%s` |\n", cell(r.Label), cell(r.Dir))
	}
	b.WriteString("\n")
	writeDifferences(&b, c)
	writeComparedSweeps(&b, c)
	return b.String()
}

func compareAndList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// manifestText is a manifest value as the tables show it: a sha256 shortened, absence a dash.
func manifestText(field, v string) string {
	if v == "" {
		return "—"
	}
	if field == "plan sha256" && len(v) > 12 {
		return "`" + v[:12] + "`"
	}
	return v
}

func writeDifferences(b *strings.Builder, c RunComparison) {
	b.WriteString("## Differences\n\n")
	if len(c.Differences) == 0 {
		b.WriteString("None: the runs' manifests agree on every field compared.\n\n")
	} else {
		b.WriteString("The manifest fields whose values differ between the runs; any of them may explain a difference below.\n\n| field |")
		for _, r := range c.Runs {
			fmt.Fprintf(b, " %s |", cell(r.Label))
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(c.Runs)) + "\n")
		for _, f := range c.Differences {
			fmt.Fprintf(b, "| %s |", cell(f.Field))
			for _, v := range f.Values {
				fmt.Fprintf(b, " %s |", cell(manifestText(f.Field, v)))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if len(c.Identical) > 0 {
		// A server's fields go together: "server X (engine sim, gpus 1, ...)".
		var parts []string
		where := map[string]int{}
		for _, f := range c.Identical {
			v := f.Values[0]
			item := f.Field + " " + manifestText(f.Field, v)
			if len(v) > 40 && f.Field != "plan sha256" {
				item = f.Field
			}
			server, _, isServer := strings.Cut(f.Field, ": ")
			if !isServer || !strings.HasPrefix(server, "server ") {
				parts = append(parts, item)
				continue
			}
			item = strings.TrimPrefix(item, server+": ")
			if i, ok := where[server]; ok {
				parts[i] = strings.TrimSuffix(parts[i], ")") + ", " + item + ")"
				continue
			}
			where[server] = len(parts)
			parts = append(parts, server+" ("+item+")")
		}
		fmt.Fprintf(b, "Identical in every run: %s.\n\n", cell(strings.Join(parts, "; ")))
	}
}

func writeComparedSweeps(b *strings.Builder, c RunComparison) {
	b.WriteString("## Sweeps\n\n")
	if len(c.Sweeps) == 0 {
		b.WriteString("No sweep is in more than one run.\n\n")
	} else {
		b.WriteString("For each shared sweep, one table per metric, with one row per load any run measured; — where a run has no point at that load, or the " +
			"point lacks the figure. ± is the half-width of a figure's interval at its run's confidence (value [lo, hi] " +
			"when lopsided); a figure without ± has none. A ratio is the run's figure over the first run's at the same " +
			"load, with an interval when both points have one at the same confidence (normal on the log scale): a ratio " +
			"whose interval excludes 1 is a difference the noise does not explain. ⚠ marks a point its run's report " +
			"doubts (listed above its tables).\n\n")
	}
	if len(c.Lone) > 0 {
		var parts []string
		for _, l := range c.Lone {
			parts = append(parts, fmt.Sprintf("`%s` (only %s)", l.Name, l.Run))
		}
		fmt.Fprintf(b, "Sweeps in one run only, not compared: %s.\n\n", cell(strings.Join(parts, ", ")))
	}
	for _, s := range c.Sweeps {
		writeComparedSweep(b, c, s)
	}
}

func writeComparedSweep(b *strings.Builder, c RunComparison, s ComparedSweep) {
	fmt.Fprintf(b, "### %s\n\n", s.Name)
	kind := "open loop, by offered request rate"
	if len(s.Loads) > 0 && s.Loads[0].LoadField == pointschema.MaxConcurrency {
		kind = "closed loop, by concurrency"
	}
	what := fmt.Sprintf("Runs %s; %s", compareAndList(s.Runs), kind)
	if len(s.Missing) > 0 {
		what += "; not in " + compareAndList(s.Missing)
	}
	b.WriteString(cell(what) + ".\n\n")
	var warnings []string
	for _, row := range s.Loads {
		for _, w := range row.Warnings {
			warnings = append(warnings, fmt.Sprintf("- %s, %s: ⚠ %s: %s", w.Run, compareLoadText(row), w.Flag, w.Detail))
		}
	}
	if len(warnings) > 0 {
		b.WriteString(compareLines(strings.Join(warnings, "\n")) + "\n\n")
	}
	for k, m := range c.Metrics {
		fmt.Fprintf(b, "#### %s: %s\n\n| load |", s.Name, m)
		for i, r := range s.Runs {
			fmt.Fprintf(b, " %s |", cell(r))
			if i > 0 {
				fmt.Fprintf(b, " %s / %s |", cell(r), cell(s.Runs[0]))
			}
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", 2*len(s.Runs)-1) + "\n")
		for _, row := range s.Loads {
			doubted := map[string]bool{}
			for _, w := range row.Warnings {
				doubted[w.Run] = true
			}
			fmt.Fprintf(b, "| %s |", compareLoadText(row))
			for i, v := range row.Metrics[k].Values {
				text := "—"
				if v.Measured && !math.IsNaN(float64(v.Value)) {
					text = fmtCompared(float64(v.Value), v.CI)
				}
				if v.Measured && doubted[v.Run] {
					text += " ⚠"
				}
				fmt.Fprintf(b, " %s |", cell(text))
				if i > 0 {
					ratio := "—"
					if !math.IsNaN(float64(v.Ratio)) {
						ratio = fmtCompared(float64(v.Ratio), v.RatioCI)
					}
					fmt.Fprintf(b, " %s |", cell(ratio))
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
		for _, p := range s.Plots {
			if p.Metric == m {
				fmt.Fprintf(b, "![%s: %s across runs](plots/%s.png)\n\n", s.Name, p.Metric, p.File)
			}
		}
	}
}

// fmtCompared is fmtCI, with an interval narrower than rounding error (a figure every request
// shared) shown as exact rather than as "± 0.0000000000000036".
func fmtCompared(v float64, ci *Interval) string {
	st := ci.stats()
	if !st.Unknown() && st.HalfWidth() <= 1e-9*math.Abs(v) {
		st = stats.Exact(v)
	}
	return fmtCI(v, st)
}

// compareLines keeps a list's lines but no table-breaking characters inside them.
func compareLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = cell(l)
	}
	return strings.Join(lines, "\n")
}

// compareLoadText names a row's load: "2 req/s", "concurrency 8".
func compareLoadText(row ComparedRow) string {
	if row.LoadField == pointschema.MaxConcurrency {
		return "concurrency " + fmtNum(float64(row.Load))
	}
	return fmtNum(float64(row.Load)) + " req/s"
}
