package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"starlab/builtins/analysis"
	"starlab/builtins/consistency"
	"starlab/builtins/sweep/pointschema"
	"starlab/stats"
)

// Sweep is one table of load points in the report: a sweeps/<name>.json of the run, or a table
// the plan gave (Given).
type Sweep struct {
	Name   string
	Given  bool
	Rows   []map[string]any
	Points []analysis.LoadPoint

	// work is each point's trace, ramp, slices and sessions, when it has them (workloads.go).
	work []pointWork
	// sources are the files a loaded sweep (load_results) was read from; nil when measured.
	sources []loadedSource

	// warnings are each point's reasons for doubt (flagged in its row, listed under Warnings);
	// tableFindings are the failed checks that need several rows, once each.
	warnings      [][]warning
	tableFindings []warning
}

// warning is a reason to doubt a point: it never reached steady state, or a consistency check
// failed on it.
type warning struct {
	Flag   string // short, for the points table: "not steady", "littles_law"
	Detail string // what was seen, for the Warnings section
}

// LoadSweeps reads every sweeps/*.json of the run directory in plan order (order.go), then the
// given tables in the order given. A given table never shadows a sweep the run measured.
func LoadSweeps(dir string, given []GivenPoints) ([]Sweep, error) {
	files, err := filepath.Glob(filepath.Join(dir, "sweeps", "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Sweep
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var rows []map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&rows); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		s, err := newSweep(name, rows, false)
		if err != nil {
			return nil, err
		}
		s.sources = readSources(dir, name)
		out = append(out, s)
		seen[name] = true
	}
	planOrder(dir, out)
	for _, g := range given {
		if seen[g.Name] {
			continue
		}
		s, err := newSweep(g.Name, g.Points, true)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		seen[g.Name] = true
	}
	return out, nil
}

func newSweep(name string, rows []map[string]any, given bool) (Sweep, error) {
	pts, err := analysis.PointsFromMaps(rows)
	if err != nil {
		return Sweep{}, fmt.Errorf("sweep %s: %w", name, err)
	}
	s := Sweep{Name: name, Given: given, Rows: rows, Points: pts, work: workOf(rows)}
	s.findWarnings()
	return s, nil
}

// findWarnings collects each point's warnings: a steady_state that is not ok, and failed
// consistency checks. A point that carries its checks (a sweep of this wave writes them, null
// when none applied) is taken at its word; one without (a published table, an older sweep) is
// checked here, so a table that cannot be what it claims is flagged whatever its source. The
// checks that need several rows (per_request_throughput) run on every sweep.
func (s *Sweep) findWarnings() {
	s.warnings = make([][]warning, len(s.Rows))
	rows := make([]consistency.Fields, len(s.Points))
	for i := range s.Rows {
		rows[i] = s.Points[i]
		if ok, has := s.flag(i, "steady_state.ok"); has && !ok {
			detail, _ := s.at(i, "steady_state.detail").(string)
			if detail == "" {
				detail = "the halves of its window differ"
			}
			s.warnings[i] = append(s.warnings[i], warning{Flag: "not steady", Detail: detail})
		}
		var checks []pointschema.Check
		if raw, has := s.Rows[i]["checks"]; has {
			checks = checksOf(raw)
		} else {
			checks = consistency.Point(s.Points[i])
		}
		for _, c := range checks {
			if !c.OK {
				s.warnings[i] = append(s.warnings[i], warning{Flag: c.Name, Detail: c.Detail})
			}
		}
	}
	seen := map[string]bool{}
	for i, c := range consistency.Table(rows) {
		if c.Name == "" || c.OK {
			continue
		}
		w := warning{Flag: c.Name, Detail: c.Detail}
		s.warnings[i] = append(s.warnings[i], w)
		if !seen[c.Name+"\x00"+c.Detail] {
			seen[c.Name+"\x00"+c.Detail] = true
			s.tableFindings = append(s.tableFindings, w)
		}
	}
}

// checksOf reads a point's checks: [{name, ok, detail}]; anything else is none.
func checksOf(raw any) []pointschema.Check {
	list, _ := raw.([]any)
	var out []pointschema.Check
	for _, e := range list {
		m, _ := e.(map[string]any)
		name, _ := m["name"].(string)
		ok, _ := m["ok"].(bool)
		detail, _ := m["detail"].(string)
		if name != "" {
			out = append(out, pointschema.Check{Name: name, OK: ok, Detail: detail})
		}
	}
	return out
}

// interval is the ci of a field at point i; NoInterval when it has none.
func (s Sweep) interval(i int, field string) stats.Interval {
	ci, _ := s.Points[i].Interval(field)
	return ci
}

// level is the confidence the sweep's points state for their intervals (0 when none does).
func (s Sweep) level() float64 {
	for i := range s.Points {
		if v, ok := s.Points[i].Field("confidence"); ok && v > 0 && len(s.Points[i].CI) > 0 {
			return v
		}
	}
	return 0
}

// hasIntervals reports whether any point has an interval.
func (s Sweep) hasIntervals() bool {
	for i := range s.Points {
		if len(s.Points[i].CI) > 0 {
			return true
		}
	}
	return false
}

// repeats is how many repeats each point averages: n when every point has the same n ≥ 2, 0
// otherwise.
func (s Sweep) repeats() int {
	n := 0
	for i := range s.Rows {
		list, _ := s.Rows[i]["repeats"].([]any)
		switch {
		case len(list) < 2:
			return 0
		case n == 0:
			n = len(list)
		case n != len(list):
			return 0
		}
	}
	return n
}

// Closed reports a closed-loop sweep (every offered rate infinite), plotted against
// max_concurrency.
func (s Sweep) Closed() bool {
	for _, p := range s.Points {
		if r, ok := p.Field(pointschema.RequestRate); !ok || !math.IsInf(r, 1) {
			return false
		}
	}
	return len(s.Points) > 0
}

// X is the load field of the sweep.
func (s Sweep) X() string {
	if s.Closed() {
		return pointschema.MaxConcurrency
	}
	return pointschema.RequestRate
}

// value is a field of point i, NaN when absent.
func (s Sweep) value(i int, field string) float64 {
	if v, ok := s.Points[i].Field(field); ok {
		return v
	}
	return math.NaN()
}

// has reports whether any point has the field.
func (s Sweep) has(field string) bool {
	for i := range s.Points {
		if !math.IsNaN(s.value(i, field)) {
			return true
		}
	}
	return false
}

// at reads the value at a dotted path ("client.bottleneck") of point i; nil when absent.
func (s Sweep) at(i int, path string) any {
	var cur any = s.Rows[i]
	for _, part := range strings.Split(path, ".") {
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// flag reads a boolean at a dotted path; ok is false when absent.
func (s Sweep) flag(i int, path string) (v, ok bool) {
	b, ok := s.at(i, path).(bool)
	return b, ok
}

// gpuMemoryMiB sums the devices' peak memory use of point i (gpu.devices[].max_memory_used_bytes),
// NaN without GPU data.
func (s Sweep) gpuMemoryMiB(i int) float64 {
	devs, _ := s.at(i, pointschema.GPUDevices).([]any)
	total, seen := 0.0, false
	for _, d := range devs {
		dm, _ := d.(map[string]any)
		if v, ok := numberOf(dm[pointschema.DeviceMaxMemoryUsedBytes]); ok {
			total += v
			seen = true
		}
	}
	if !seen {
		return math.NaN()
	}
	return total / (1 << 20)
}

// sorted returns the point indices ordered by load.
func (s Sweep) sorted() []int {
	idx := make([]int, len(s.Points))
	for i := range idx {
		idx[i] = i
	}
	x := s.X()
	sort.SliceStable(idx, func(a, b int) bool { return s.value(idx[a], x) < s.value(idx[b], x) })
	return idx
}

func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}
