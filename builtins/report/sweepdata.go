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
	"starlab/builtins/sweep/pointschema"
)

// Sweep is one table of load points in the report: a sweeps/<name>.json of the run, or a table
// the plan gave (Given).
type Sweep struct {
	Name   string
	Given  bool
	Rows   []map[string]any
	Points []analysis.LoadPoint
}

// LoadSweeps reads every sweeps/*.json of the run directory plus the given tables, sorted by
// name. A given table never shadows a sweep the run measured.
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
		out = append(out, s)
		seen[name] = true
	}
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
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func newSweep(name string, rows []map[string]any, given bool) (Sweep, error) {
	pts, err := analysis.PointsFromMaps(rows)
	if err != nil {
		return Sweep{}, fmt.Errorf("sweep %s: %w", name, err)
	}
	return Sweep{Name: name, Given: given, Rows: rows, Points: pts}, nil
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
