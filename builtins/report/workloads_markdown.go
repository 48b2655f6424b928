package report

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"starlab/builtins/sweep/pointschema"
)

// writeWorkloads renders what a sweep's points say about their workload beyond the load: the
// trace each replayed, the ramp and its slices, and the conversations' sessions and turns.
// A sweep without these parts writes nothing, so its section reads as before.
func writeWorkloads(b *strings.Builder, s Sweep) {
	writeTraces(b, s)
	writeRamps(b, s)
	writeSessions(b, s)
}

// writeTraces is one line per trace point: file, format, speed-up, rows and span.
func writeTraces(b *strings.Builder, s Sweep) {
	var lines []string
	for _, i := range s.sorted() {
		t := s.workAt(i).Trace
		if t == nil {
			continue
		}
		line := fmt.Sprintf("- %s: `%s` (%s), time_scale %s: %d rows sent (%d skipped), %s s of trace",
			pointLabel(s, i), cell(filepath.Base(t.Path)), cell(orDash(t.Format)), fmtNum(float64(t.TimeScale)),
			t.Rows, t.Skipped, fmtNum(float64(t.SpanS)))
		if ts := float64(t.TimeScale); ts > 0 && !math.IsInf(ts, 0) && !math.IsNaN(float64(t.SpanS)) {
			line += " replayed in " + fmtNum(float64(t.SpanS)/ts) + " s"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("Trace replay (rows sent include warmup; skipped rows had no output tokens):\n\n" + strings.Join(lines, "\n") + "\n\n")
}

// writeRamps states each ramp and tables its slices, which is where a ramp's knee is read.
func writeRamps(b *strings.Builder, s Sweep) {
	idx := s.slicePoints()
	for _, i := range s.sorted() {
		w := s.workAt(i)
		if w.Ramp == nil && len(w.Slices) == 0 {
			continue
		}
		which := ""
		if len(s.Points) > 1 {
			which = " (" + pointLabel(s, i) + ")"
		}
		fmt.Fprintf(b, "Ramp%s: %s.", which, rampText(w.Ramp))
		if len(w.Slices) == 0 {
			b.WriteString("\n\n")
			continue
		}
		fmt.Fprintf(b, " Its window in %d slices by intended send time; req/s and out tok/s count the completions inside each slice.\n\n", len(w.Slices))
		b.WriteString("| from–to (s) | target (req/s) | sent | completed | req/s | out tok/s | TTFT median (ms) | TTFT p99 (ms) | TPOT median (ms) | delivered |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
		for _, sl := range w.Slices {
			fmt.Fprintf(b, "| %s–%s | %s | %d | %d | %s | %s | %s | %s | %s | %s |\n",
				fmtNum(float64(sl.StartS)), fmtNum(float64(sl.EndS)), fmtNum(float64(sl.RequestRate)), sl.Sent, sl.Completed,
				fmtNum(float64(sl.RequestThroughput)), fmtNum(float64(sl.OutputThroughput)), fmtNum(float64(sl.MedianTTFTMs)),
				fmtNum(float64(sl.P99TTFTMs)), fmtNum(float64(sl.MedianTPOTMs)), fmtNum(float64(sl.Delivered)))
		}
		b.WriteString("\n")
		if i == idx[len(idx)-1] {
			fmt.Fprintf(b, "CSV: `sweeps/%s.slices.csv`\n\n", s.Name)
		}
	}
}

// rampText is "linear, 2 → 80 req/s over 120 s".
func rampText(r *pointschema.RampInfo) string {
	if r == nil {
		return "(not recorded)"
	}
	return fmt.Sprintf("%s, %s → %s req/s over %s s", orDash(r.Kind), fmtNum(float64(r.Start)), fmtNum(float64(r.End)),
		fmtNum(float64(r.OverS)))
}

// writeSessions tables a conversation sweep by session, then by turn: every turn of the point
// with the most sessions completed (the lowest such load on a tie; a saturated point starts
// more sessions but cuts their later turns off), and, when the sweep has several such points,
// median TTFT by turn and load, which is where a shared prefix's effect on later turns shows.
func writeSessions(b *strings.Builder, s Sweep) {
	var idx []int
	for _, i := range s.sorted() {
		if s.workAt(i).Sessions != nil {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	load, unit := "rate (sessions/s)", "sessions started per second"
	if s.Closed() {
		load, unit = "concurrency (sessions)", "sessions in flight"
	}
	loadOf := func(i int) string { return fmtNum(s.value(i, s.X())) }
	fmt.Fprintf(b, "Sessions (the load is %s; the points table counts every turn as a request):\n\n", unit)
	fmt.Fprintf(b, "| %s | started | completed | truncated | mean turns | mean session (s) |\n|---|---|---|---|---|---|\n", load)
	most := idx[0]
	for _, i := range idx {
		ss := s.workAt(i).Sessions
		fmt.Fprintf(b, "| %s | %d | %d | %d | %s | %s |\n", loadOf(i), ss.Started, ss.Completed, ss.Truncated,
			fmtNum(float64(ss.MeanTurns)), fmtNum(float64(ss.MeanSessionS)))
		if ss.Completed > s.workAt(most).Sessions.Completed {
			most = i
		}
	}
	b.WriteString("\n")
	if turns := s.workAt(most).Sessions.Turns; len(turns) > 0 {
		at := ""
		if len(idx) > 1 {
			at = fmt.Sprintf(" at %s sessions/s (the point with the most sessions completed)", loadOf(most))
			if s.Closed() {
				at = fmt.Sprintf(" at concurrency %s (the point with the most sessions completed)", loadOf(most))
			}
		}
		fmt.Fprintf(b, "Per turn%s:\n\n", at)
		b.WriteString("| turn | requests | completed | mean input tokens | TTFT median (ms) | TTFT p99 (ms) | E2EL mean (ms) |\n|---|---|---|---|---|---|---|\n")
		for _, t := range turns {
			fmt.Fprintf(b, "| %d | %d | %d | %s | %s | %s | %s |\n", t.Turn, t.Requests, t.Completed, fmtNum(float64(t.MeanInputTokens)),
				fmtNum(float64(t.MedianTTFTMs)), fmtNum(float64(t.P99TTFTMs)), fmtNum(float64(t.MeanE2ELMs)))
		}
		b.WriteString("\n")
	}
	if len(idx) > 1 {
		writeTurnByLoad(b, s, idx, load, loadOf)
	}
}

// writeTurnByLoad is median TTFT (ms) with a row per turn and a column per point.
func writeTurnByLoad(b *strings.Builder, s Sweep, idx []int, load string, loadOf func(int) string) {
	last := 0
	byTurn := make([]map[int]pointschema.TurnStats, len(idx))
	for j, i := range idx {
		byTurn[j] = map[int]pointschema.TurnStats{}
		for _, t := range s.workAt(i).Sessions.Turns {
			byTurn[j][t.Turn] = t
			last = max(last, t.Turn)
		}
	}
	if last == 0 {
		return
	}
	fmt.Fprintf(b, "Median TTFT (ms) by turn (rows) and %s (columns):\n\n| turn |", load)
	for _, i := range idx {
		fmt.Fprintf(b, " %s |", loadOf(i))
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(idx)) + "\n")
	for turn := 1; turn <= last; turn++ {
		fmt.Fprintf(b, "| %d |", turn)
		for j := range idx {
			v := math.NaN()
			if t, ok := byTurn[j][turn]; ok {
				v = float64(t.MedianTTFTMs)
			}
			fmt.Fprintf(b, " %s |", fmtNum(v))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}
