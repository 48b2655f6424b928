package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// Plan order. sweeps/*.json says nothing about when each sweep was made, and a name order reads a
// story backwards (the quickstart's 4-GPU rerun sorted before the 1-GPU ramp it follows), so the
// report recovers the order from the run directory: every point a sweep measures is a step of
// journal.jsonl whose result is that point, as sweeps/NAME.json holds it, and the steps are in
// the order the plan ran them. A sweep is placed at its first journaled point. What the journal
// cannot place (points loaded from files, a sweep whose file was edited) follows in the order
// report.json last listed it, then by name; tables the plan gave come last, in the order given.
// `starlab report RUNDIR` reads the same journal, so a regenerated report keeps the order.

// journalOrder maps each journaled point result, in canonical JSON, to the first sequence number
// it appears at. A replay's directory has no journal of its own: the journal it replayed
// (manifest.json's replay_of) stands in.
func journalOrder(dir string) map[string]int {
	f, err := os.Open(filepath.Join(dir, "journal.jsonl"))
	if os.IsNotExist(err) {
		if src := replayOf(dir); src != "" {
			f, err = os.Open(filepath.Join(src, "journal.jsonl"))
		}
	}
	if err != nil {
		return nil
	}
	defer f.Close()
	first := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for line := 0; sc.Scan(); line++ {
		var e struct {
			Seq    int             `json:"seq"`
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || len(e.Result) == 0 {
			continue
		}
		seq := e.Seq
		if seq == 0 {
			seq = line + 1
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(e.Result))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			continue
		}
		// A step's result is a point, or a list of them.
		items := []any{v}
		if list, ok := v.([]any); ok {
			items = list
		}
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				if key, ok := canonical(m); ok {
					if _, seen := first[key]; !seen {
						first[key] = seq
					}
				}
			}
		}
	}
	return first
}

// replayOf is the run a replay directory replayed, from its manifest; "" otherwise.
func replayOf(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return ""
	}
	var m struct {
		ReplayOf string `json:"replay_of"`
	}
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	return m.ReplayOf
}

// canonical is a point as JSON with sorted keys and numbers as written, so that the same point
// read from the journal and from sweeps/NAME.json compares equal.
func canonical(m map[string]any) (string, bool) {
	data, err := json.Marshal(m)
	return string(data), err == nil
}

// firstStep is the earliest journal step holding one of the sweep's points (or one of their
// repeats); +Inf when none does.
func firstStep(s Sweep, steps map[string]int) float64 {
	best := math.Inf(1)
	note := func(m map[string]any) {
		if key, ok := canonical(m); ok {
			if seq, ok := steps[key]; ok && float64(seq) < best {
				best = float64(seq)
			}
		}
	}
	for _, row := range s.Rows {
		note(row)
		reps, _ := row["repeats"].([]any)
		for _, r := range reps {
			if m, ok := r.(map[string]any); ok {
				note(m)
			}
		}
	}
	return best
}

// listedOrder is the sweep order report.json last recorded, nil without one.
func listedOrder(dir string) map[string]int {
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return nil
	}
	var r struct {
		Sweeps []string `json:"sweeps"`
	}
	if json.Unmarshal(data, &r) != nil {
		return nil
	}
	out := map[string]int{}
	for i, name := range r.Sweeps {
		if _, seen := out[name]; !seen {
			out[name] = i
		}
	}
	return out
}

// planOrder sorts the run's measured sweeps (measured) into plan order, as the package comment
// above says; given tables are appended after them by the caller.
func planOrder(dir string, measured []Sweep) {
	steps := journalOrder(dir)
	listed := listedOrder(dir)
	type key struct {
		step, listed float64
	}
	keys := make(map[string]key, len(measured))
	for _, s := range measured {
		k := key{step: firstStep(s, steps), listed: math.Inf(1)}
		if i, ok := listed[s.Name]; ok {
			k.listed = float64(i)
		}
		keys[s.Name] = k
	}
	sort.SliceStable(measured, func(i, j int) bool {
		a, b := keys[measured[i].Name], keys[measured[j].Name]
		if a.step != b.step {
			return a.step < b.step
		}
		if a.listed != b.listed {
			return a.listed < b.listed
		}
		return measured[i].Name < measured[j].Name
	})
}
