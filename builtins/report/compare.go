package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"starlab/builtins/gpu"
	"starlab/builtins/sweep/pointschema"
	"starlab/stats"
)

// DefaultCompareMetrics are what `starlab compare` tabulates and plots without --metric: the
// capacity, the typical and the tail wait for the first token, and the decode speed.
var DefaultCompareMetrics = []string{pointschema.RequestThroughput, pointschema.MedianTTFTMs, pointschema.P99TTFTMs, "mean_tpot_ms"}

// RunComparison is `starlab compare`'s result, written as compare.json: the runs, where their
// manifests differ, and each sweep they share, load by load.
type RunComparison struct {
	Runs    []ComparedRun `json:"runs"`
	Metrics []string      `json:"metrics"`
	// Differences are the manifest fields whose values are not the same in every run; Identical
	// the ones that are.
	Differences []ManifestField `json:"differences"`
	Identical   []ManifestField `json:"identical"`
	// Sweeps are the sweeps of at least two runs, matched by name, in the first run's order
	// (then the next run's for the sweeps it adds).
	Sweeps []ComparedSweep `json:"sweeps"`
	// Lone are the sweeps only one run has.
	Lone []LoneSweep `json:"lone_sweeps"`
}

// ComparedRun is a run directory and the label its columns carry: the directory's base name,
// with as many parent directories as it takes to tell runs apart.
type ComparedRun struct {
	Label string `json:"label"`
	Dir   string `json:"dir"`
}

// ManifestField is one field of the runs' manifests, as text, one value per run in run order;
// "" where a run's manifest lacks it.
type ManifestField struct {
	Field  string   `json:"field"`
	Values []string `json:"values"`
}

// ComparedSweep is a sweep shared by several runs.
type ComparedSweep struct {
	Name string `json:"name"`
	// Runs are the labels of the runs that have it, Missing those that do not; ratios are over
	// Runs[0].
	Runs    []string      `json:"runs"`
	Missing []string      `json:"missing,omitempty"`
	Loads   []ComparedRow `json:"loads"`
	// Plots are the overlays drawn, one per metric with data.
	Plots []ComparePlot `json:"plots"`

	sweeps []Sweep // each run's sweep, named by its run's label, in Runs order
}

// ComparePlot is the overlay of one metric across runs: plots/<File>.png and .svg.
type ComparePlot struct {
	Metric string `json:"metric"`
	File   string `json:"file"`
}

// ComparedRow is one load: each run's point there, or none.
type ComparedRow struct {
	// LoadField is the sweep's load axis: request_rate, or max_concurrency for a closed loop.
	LoadField string           `json:"load_field"`
	Load      Num              `json:"load"`
	Metrics   []ComparedMetric `json:"metrics"`
	// Warnings are the reasons to doubt a run's point here (not steady, failed checks).
	Warnings []CompareWarning `json:"warnings,omitempty"`
}

// ComparedMetric is one metric at one load across the runs.
type ComparedMetric struct {
	Metric string          `json:"metric"`
	Values []ComparedValue `json:"values"`
}

// ComparedValue is one run's figure. Measured is false when the run has no point at the load;
// Value is null when the point lacks the metric. Ratio is Value over the first run's, with an
// interval when both points have one at the same confidence.
type ComparedValue struct {
	Run      string    `json:"run"`
	Measured bool      `json:"measured"`
	Value    Num       `json:"value"`
	CI       *Interval `json:"ci"`
	Ratio    Num       `json:"ratio"`
	RatioCI  *Interval `json:"ratio_ci"`
}

// CompareWarning is why a run's point at a load is in doubt.
type CompareWarning struct {
	Run    string `json:"run"`
	Flag   string `json:"flag"`
	Detail string `json:"detail"`
}

// LoneSweep is a sweep only one run has.
type LoneSweep struct {
	Name string `json:"name"`
	Run  string `json:"run"`
}

// CompareMetricNames lists what --metric accepts: every number of the point schema (a point's
// own fields, client.*, server_metrics.*, gpu.*), in schema order.
func CompareMetricNames() []string {
	var out []string
	add := func(fields []pointschema.Field, prefix string) {
		for _, f := range fields {
			if (f.Kind == pointschema.KindInt || f.Kind == pointschema.KindFloat) && !strings.Contains(f.Path, "[]") {
				out = append(out, prefix+f.Path)
			}
		}
	}
	add(pointschema.Fields(), "")
	add(pointschema.Describe(reflect.TypeFor[gpu.PointTelemetry]()), pointschema.GPU+".")
	return out
}

// CheckCompareMetrics splits comma-separated metrics, drops repeats and checks each against the
// point schema; none given is DefaultCompareMetrics.
func CheckCompareMetrics(given []string) ([]string, error) {
	known := map[string]bool{}
	for _, n := range CompareMetricNames() {
		known[n] = true
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range given {
		for _, m := range strings.Split(g, ",") {
			m = strings.TrimSpace(m)
			if m == "" || seen[m] {
				continue
			}
			if !known[m] {
				return nil, fmt.Errorf("--metric %q: not a number of a sweep point; want one of: %s", m, strings.Join(CompareMetricNames(), ", "))
			}
			seen[m] = true
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		out = append(out, DefaultCompareMetrics...)
	}
	return out, nil
}

// CompareRuns reads two or more run directories and matches their sweeps by name and their
// points by load. metrics go through CheckCompareMetrics.
func CompareRuns(dirs []string, metrics []string) (RunComparison, error) {
	var c RunComparison
	if len(dirs) < 2 {
		return c, fmt.Errorf("compare needs at least two run directories, got %d", len(dirs))
	}
	metrics, err := CheckCompareMetrics(metrics)
	if err != nil {
		return c, err
	}
	c.Metrics = metrics
	dirs = append([]string(nil), dirs...)
	manifests := make([]map[string]any, len(dirs))
	runSweeps := make([][]Sweep, len(dirs))
	for i, dir := range dirs {
		dir = filepath.Clean(dir)
		dirs[i] = dir
		if manifests[i], err = readRunManifest(dir); err != nil {
			return c, err
		}
		if runSweeps[i], err = LoadSweeps(dir, nil); err != nil {
			return c, fmt.Errorf("%s: %w", dir, err)
		}
	}
	labels := runLabels(dirs)
	for i, dir := range dirs {
		c.Runs = append(c.Runs, ComparedRun{Label: labels[i], Dir: dir})
	}
	c.Differences, c.Identical = manifestDiff(dirs, manifests)

	// Sweeps by name, in the order the runs list them.
	var names []string
	byName := map[string][]int{} // sweep name -> the runs that have it
	for i, ss := range runSweeps {
		for _, s := range ss {
			if _, ok := byName[s.Name]; !ok {
				names = append(names, s.Name)
			}
			byName[s.Name] = append(byName[s.Name], i)
		}
	}
	for _, name := range names {
		runs := byName[name]
		if len(runs) == 1 {
			c.Lone = append(c.Lone, LoneSweep{Name: name, Run: labels[runs[0]]})
			continue
		}
		cs := ComparedSweep{Name: name}
		has := map[int]bool{}
		for _, r := range runs {
			has[r] = true
			s, _ := findSweep(runSweeps[r], name)
			s.Name = labels[r] // the series' and columns' name
			cs.Runs = append(cs.Runs, labels[r])
			cs.sweeps = append(cs.sweeps, s)
		}
		for r := range dirs {
			if !has[r] {
				cs.Missing = append(cs.Missing, labels[r])
			}
		}
		cs.Loads = compareLoads(cs.sweeps, metrics)
		for _, m := range metrics {
			if cs.plotted(m) {
				cs.Plots = append(cs.Plots, ComparePlot{Metric: m, File: comparePlotFile(name, m)})
			}
		}
		c.Sweeps = append(c.Sweeps, cs)
	}
	return c, nil
}

// readRunManifest reads dir/manifest.json; a path without one is not a run directory.
func readRunManifest(dir string) (map[string]any, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%s is not a run directory: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a run directory: it is a file", dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a run directory: it has no manifest.json", dir)
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", dir, err)
	}
	return m, nil
}

// runLabels names each run by its directory's base name; runs with the same name take parent
// directories until they differ, and a directory given twice is numbered ("a", "a#2").
func runLabels(dirs []string) []string {
	var paths [][]string // each distinct directory, split
	which := make([]int, len(dirs))
	index := map[string]int{}
	for i, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			abs = d
		}
		k, ok := index[abs]
		if !ok {
			k = len(paths)
			index[abs] = k
			paths = append(paths, strings.Split(strings.TrimPrefix(filepath.ToSlash(abs), "/"), "/"))
		}
		which[i] = k
	}
	depth := make([]int, len(paths))
	label := func(k int) string {
		p := paths[k]
		n := min(depth[k], len(p))
		return strings.Join(p[len(p)-n:], "/")
	}
	for k := range depth {
		depth[k] = 1
	}
	for grew := true; grew; {
		grew = false
		groups := map[string][]int{}
		for k := range paths {
			groups[label(k)] = append(groups[label(k)], k)
		}
		for _, g := range groups {
			for _, k := range g {
				if len(g) > 1 && depth[k] < len(paths[k]) {
					depth[k]++
					grew = true
				}
			}
		}
	}
	out := make([]string, len(dirs))
	count := map[int]int{}
	for i, k := range which {
		count[k]++
		out[i] = label(k)
		if count[k] > 1 {
			out[i] = fmt.Sprintf("%s#%d", out[i], count[k])
		}
	}
	return out
}

// compareLoadKey identifies a load within a sweep: its axis, its value and, for a sweep that measured
// the same load twice, which occurrence.
type compareLoadKey struct {
	field string
	value float64
	nth   int
}

// compareLoads lines the runs' points up by load: one row per load any run measured.
func compareLoads(sweeps []Sweep, metrics []string) []ComparedRow {
	at := make([]map[compareLoadKey]int, len(sweeps)) // run -> load -> point index
	var keys []compareLoadKey
	seen := map[compareLoadKey]bool{}
	for r, s := range sweeps {
		at[r] = map[compareLoadKey]int{}
		x := s.X()
		nth := map[float64]int{}
		for _, i := range s.sorted() {
			v := s.value(i, x)
			k := compareLoadKey{field: x, value: v, nth: nth[v]}
			nth[v]++
			at[r][k] = i
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.SliceStable(keys, func(a, b int) bool {
		ka, kb := keys[a], keys[b]
		if ka.field != kb.field {
			return ka.field > kb.field // request_rate before max_concurrency
		}
		if ka.value != kb.value {
			return ka.value < kb.value || math.IsNaN(kb.value)
		}
		return ka.nth < kb.nth
	})
	var rows []ComparedRow
	for _, k := range keys {
		row := ComparedRow{LoadField: k.field, Load: Num(k.value)}
		for _, m := range metrics {
			cm := ComparedMetric{Metric: m}
			baseI, baseOK := at[0][k]
			for r, s := range sweeps {
				i, ok := at[r][k]
				v := ComparedValue{Run: s.Name, Measured: ok, Value: Num(math.NaN()), Ratio: Num(math.NaN())}
				if ok {
					val, ci := s.value(i, m), s.interval(i, m)
					v.Value, v.CI = Num(val), toInterval(ci)
					if r > 0 && baseOK {
						base := sweeps[0]
						bv, bci := base.value(baseI, m), base.interval(baseI, m)
						if bv != 0 && !math.IsNaN(bv) && !math.IsNaN(val) {
							v.Ratio = Num(val / bv)
							if lv, lb := s.value(i, "confidence"), base.value(baseI, "confidence"); lv == lb && stats.ValidLevel(lv) {
								v.RatioCI = toInterval(stats.RatioOf(val, ci, bv, bci, lv))
							}
						}
					}
				}
				cm.Values = append(cm.Values, v)
			}
			row.Metrics = append(row.Metrics, cm)
		}
		for r, s := range sweeps {
			if i, ok := at[r][k]; ok {
				for _, w := range s.warnings[i] {
					row.Warnings = append(row.Warnings, CompareWarning{Run: s.Name, Flag: w.Flag, Detail: w.Detail})
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// plotted reports whether any run has a finite value of the metric at a load, so that its
// overlay is not empty.
func (cs ComparedSweep) plotted(metric string) bool {
	for _, s := range cs.sweeps {
		x := cs.sweeps[0].X()
		for i := range s.Points {
			xv, yv := s.value(i, x), s.value(i, metric)
			if !math.IsNaN(xv) && !math.IsInf(xv, 0) && !math.IsNaN(yv) && !math.IsInf(yv, 0) {
				return true
			}
		}
	}
	return false
}

// WriteComparison writes compare.md, compare.json, compare.csv and plots/ into dir, which must
// not exist or be empty: a comparison never mixes its files with another's.
func WriteComparison(dir string, c RunComparison) error {
	if err := compareOutputFree(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := WritePlots(dir, comparePlots(c)); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("compare.json: %w", err)
	}
	if err := writeFile(filepath.Join(dir, "compare.json"), append(data, '\n')); err != nil {
		return err
	}
	data, err = compareCSV(c)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "compare.csv"), data); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "compare.md"), []byte(CompareMarkdown(c)))
}

func compareOutputFree(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("output %s exists and is not a directory", dir)
	}
	if _, err := f.Readdirnames(1); err != io.EOF {
		if err == nil {
			return fmt.Errorf("output directory %s is not empty: give a new one with --out", dir)
		}
		return err
	}
	return nil
}

// compareCSV is one row per run, load and metric that a run measured.
func compareCSV(c RunComparison) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	num := func(v float64) string {
		switch {
		case math.IsNaN(v):
			return ""
		case math.IsInf(v, 1):
			return "inf"
		case math.IsInf(v, -1):
			return "-inf"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if err := w.Write([]string{"sweep", "load_field", "load", "run", "metric", "value", "lo", "hi"}); err != nil {
		return nil, err
	}
	for _, s := range c.Sweeps {
		for _, row := range s.Loads {
			for _, run := range s.Runs {
				for _, m := range row.Metrics {
					for _, v := range m.Values {
						if v.Run != run || !v.Measured {
							continue
						}
						lo, hi := "", ""
						if v.CI != nil {
							lo, hi = num(float64(v.CI[0])), num(float64(v.CI[1]))
						}
						rec := []string{s.Name, row.LoadField, num(float64(row.Load)), run, m.Metric, num(float64(v.Value)), lo, hi}
						if err := w.Write(rec); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// manifestDiff renders each manifest field the comparison shows as text, per run, and splits
// them into those that differ and those every run shares. Times, the command line, the output
// directory and exit details are left out: they differ between any two runs and say nothing of
// what was measured.
func manifestDiff(dirs []string, ms []map[string]any) (diff, same []ManifestField) {
	var order []string
	values := map[string][]string{}
	set := func(run int, field, value string) {
		if _, ok := values[field]; !ok {
			order = append(order, field)
			values[field] = make([]string, len(ms))
		}
		values[field][run] = value
	}
	// The fields in a fixed order, whatever run has them first.
	for _, f := range []string{"plan", "plan sha256"} {
		order = append(order, f)
		values[f] = make([]string, len(ms))
	}
	var params []string
	seenParam := map[string]bool{}
	for _, m := range ms {
		for _, k := range sortedKeys(manifestParams(m)) {
			if !seenParam[k] {
				seenParam[k] = true
				params = append(params, k)
			}
		}
	}
	sort.Strings(params)
	for _, k := range params {
		order = append(order, "param "+k)
		values["param "+k] = make([]string, len(ms))
	}
	for _, f := range []string{"seed", "confidence", "clock", "starlab", "go", "status", "host", "gpus", "models", "engines"} {
		order = append(order, f)
		values[f] = make([]string, len(ms))
	}
	for r, m := range ms {
		plan, _ := m["plan"].(map[string]any)
		set(r, "plan", manifestValueText(plan["path"]))
		set(r, "plan sha256", manifestValueText(plan["sha256"]))
		for k, v := range manifestParams(m) {
			set(r, "param "+k, manifestValueText(v))
		}
		set(r, "seed", manifestValueText(m["seed"]))
		if f, ok := numberOf(m["confidence"]); ok && f > 0 {
			set(r, "confidence", pctLevel(f))
		}
		switch m["virtual"] {
		case true:
			set(r, "clock", "virtual time (simulated servers)")
		case false:
			set(r, "clock", "wall clock")
		}
		set(r, "starlab", manifestValueText(m["starlab"]))
		set(r, "go", manifestValueText(m["go"]))
		set(r, "status", manifestValueText(m["status"]))
		set(r, "host", manifestHostText(m["host"]))
		set(r, "gpus", manifestGPUText(m["gpus"]))
		servers := manifestServers(m)
		var models, engines []string
		for _, s := range servers {
			models = append(models, manifestValueText(s["model"]))
			e := manifestValueText(s["engine"])
			if v := manifestValueText(s["engine_version"]); v != "" {
				e += " " + v
			}
			engines = append(engines, e)
		}
		set(r, "models", strings.Join(compareUnique(models), ", "))
		set(r, "engines", strings.Join(compareUnique(engines), ", "))
		configs := journalServerConfigs(dirs[r])
		for _, s := range servers {
			name := manifestValueText(s["name"])
			for _, k := range []string{"engine", "engine_version", "model", "command", "calibration", "launcher"} {
				v := manifestValueText(s[k])
				if words, ok := s[k].([]any); ok { // a command line reads as one
					var parts []string
					for _, w := range words {
						parts = append(parts, manifestValueText(w))
					}
					v = strings.Join(parts, " ")
				}
				if v != "" {
					set(r, "server "+name+": "+k, v)
				}
			}
			cfg := configs[name]
			for _, k := range sortedKeys(cfg) {
				if k != "model" { // the manifest's, above
					set(r, "server "+name+": "+k, cfg[k])
				}
			}
		}
		known := map[string]bool{"plan": true, "params": true, "sets": true, "seed": true, "confidence": true,
			"virtual": true, "starlab": true, "go": true, "status": true, "host": true, "gpus": true, "servers": true,
			// what differs between any two runs, or repeats status
			"args": true, "start": true, "end": true, "resumes": true, "replay_of": true, "mode": true,
			"exit": true, "error": true, "real_time_estimate": true}
		for _, k := range sortedKeys(m) {
			if !known[k] {
				set(r, k, manifestValueText(m[k]))
			}
		}
	}
	for _, f := range order {
		vs := values[f]
		present, differs := false, false
		for _, v := range vs {
			present = present || v != ""
			differs = differs || v != vs[0]
		}
		switch {
		case !present:
		case differs:
			diff = append(diff, ManifestField{Field: f, Values: vs})
		default:
			same = append(same, ManifestField{Field: f, Values: vs})
		}
	}
	return diff, same
}

// manifestParams is the run's parameter values: params (every param() the plan read), else sets (the
// --set values), which older runs recorded alone.
func manifestParams(m map[string]any) map[string]any {
	if p, ok := m["params"].(map[string]any); ok {
		return p
	}
	p, _ := m["sets"].(map[string]any)
	return p
}

// manifestValueText renders a manifest value: strings as they are, anything else as compact JSON.
func manifestValueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// manifestHostText is "hostname (os/arch, N CPUs)".
func manifestHostText(v any) string {
	h, ok := v.(map[string]any)
	if !ok {
		return manifestValueText(v)
	}
	return fmt.Sprintf("%s (%s/%s, %s CPUs)", manifestValueText(h["hostname"]), manifestValueText(h["os"]), manifestValueText(h["arch"]), manifestValueText(h["cpus"]))
}

// manifestGPUText is the GPU inventory as "2× NVIDIA H100 80GB HBM3; driver 550.54.15, CUDA 12.4", or
// why there is none.
func manifestGPUText(v any) string {
	g, ok := v.(map[string]any)
	if !ok {
		return manifestValueText(v)
	}
	if g["available"] != true {
		return "not read: " + manifestValueText(g["reason"])
	}
	devs, _ := g["devices"].([]any)
	var names []string
	count := map[string]int{}
	for _, d := range devs {
		dm, _ := d.(map[string]any)
		n := manifestValueText(dm["name"])
		if count[n] == 0 {
			names = append(names, n)
		}
		count[n]++
	}
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%d× %s", count[n], n))
	}
	if len(parts) == 0 {
		parts = []string{"no devices"}
	}
	text := strings.Join(parts, ", ")
	if d := manifestValueText(g["driver_version"]); d != "" {
		text += "; driver " + d
	}
	if c := manifestValueText(g["cuda_driver_version"]); c != "" {
		text += ", CUDA " + c
	}
	if g["simulated"] == true {
		text += " (simulated)"
	}
	return text
}

func manifestServers(m map[string]any) []map[string]any {
	list, _ := m["servers"].([]any)
	var out []map[string]any
	for _, e := range list {
		if s, ok := e.(map[string]any); ok {
			out = append(out, s)
		}
	}
	return out
}

// journalServerConfigs reads each server's configuration (start_vllm's arguments as the server took
// them: gpus, max_num_seqs, ...) from the run's journal, where the manifest does not keep it, by
// server name. A run without a journal (a replay's own directory) gives none.
func journalServerConfigs(dir string) map[string]map[string]string {
	out := map[string]map[string]string{}
	data, err := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		return out
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		var rec struct {
			Builtin string `json:"builtin"`
			Result  struct {
				Name   string         `json:"name"`
				Config map[string]any `json:"config"`
			} `json:"result"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if dec.Decode(&rec) != nil || !strings.HasPrefix(rec.Builtin, "start_") || rec.Result.Name == "" || rec.Result.Config == nil {
			continue // a torn line, or a step that is no server
		}
		cfg := map[string]string{}
		for k, v := range rec.Result.Config {
			cfg[k] = manifestValueText(v)
		}
		out[rec.Result.Name] = cfg
	}
	return out
}

func compareUnique(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
