package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"starlab/builtins/sweep/pointschema"
)

// Meta is what a vLLM bench result says about its setup that a point does not: the sweep's name
// (vLLM's label), the model, when the run began, and the run directory.
type Meta struct {
	Sweep   string
	Model   string
	Date    time.Time // zero: unknown
	RunName string
}

// Field is one key of an exported result, in the order vLLM bench writes them.
type Field struct {
	Key   string
	Value any
}

// VLLMBench is a result as `vllm bench serve --save-result` writes it, in its key order.
type VLLMBench []Field

// MarshalJSON writes the fields in order, two-space indented as vLLM bench sweep rewrites them.
func (r VLLMBench) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, f := range r {
		k, _ := json.Marshal(f.Key)
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Key, err)
		}
		b.WriteString("  ")
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
		if i < len(r)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}")
	return b.Bytes(), nil
}

// vllmNum is a figure as vLLM writes it: a number, null when unknown (NaN).
func vllmNum(f pointschema.Float) any {
	if math.IsNaN(float64(f)) {
		return nil
	}
	return f
}

// ToVLLMBench converts a point to vLLM bench's result: its field names (vllm/benchmarks/serve.py),
// latencies in ms, request_rate "inf" for a closed loop, max_concurrency null when unbounded,
// null for what starlab does not measure (max_output_tokens_per_s, max_concurrent_requests) or
// did not (request_goodput without an slo). Keys starting starlab_ are what vLLM's --metadata
// would add: the engine, server and arrival, which load_results reads back.
func ToVLLMBench(p pointschema.Point, meta Meta) VLLMBench {
	date := ""
	if !meta.Date.IsZero() {
		date = meta.Date.UTC().Format("20060102-150405")
	}
	var maxConc any
	if p.MaxConcurrency > 0 {
		maxConc = p.MaxConcurrency
	}
	sent := p.Client.Sent
	if sent == 0 {
		sent = p.Completed + p.Failed + p.Incomplete
	}
	var model any
	if meta.Model != "" {
		model = meta.Model
	}
	r := VLLMBench{
		{"date", date},
		{"endpoint_type", "openai"},
		{"backend", "openai"},
		{"label", meta.Sweep},
		{"model_id", model},
		{"tokenizer_id", model},
		{"num_prompts", sent},
		{"request_rate", p.RequestRate}, // Float writes +Inf as "inf", as vLLM does
		{"burstiness", vllmNum(p.Burstiness)},
		{"max_concurrency", maxConc},
		{"duration", vllmNum(p.Duration)},
		{"completed", p.Completed},
		{"failed", p.Failed},
		{"total_input_tokens", p.TotalInputTokens},
		{"total_output_tokens", p.TotalOutputTokens},
		{"request_throughput", vllmNum(p.RequestThroughput)},
		{"request_goodput", vllmNum(p.RequestGoodput)},
		{"output_throughput", vllmNum(p.OutputThroughput)},
		{"total_token_throughput", vllmNum(p.TotalTokenThroughput)},
		{"max_output_tokens_per_s", nil},
		{"max_concurrent_requests", nil},
	}
	lat := latencyFields(&p)
	for k, metric := range vllmMetrics {
		for i, stat := range []string{"mean_%s_ms", "median_%s_ms", "std_%s_ms", "p90_%s_ms", "p99_%s_ms"} {
			r = append(r, Field{fmt.Sprintf(stat, metric), vllmNum(*lat[5*k+i])})
		}
	}
	r = append(r, Field{"starlab_engine", p.Engine}, Field{"starlab_engine_version", p.EngineVersion},
		Field{"starlab_server", p.Server}, Field{"starlab_arrival", p.Arrival}, Field{"starlab_incomplete", p.Incomplete})
	if meta.RunName != "" {
		r = append(r, Field{"starlab_run", meta.RunName})
	}
	return r
}

// ExportVLLMBench writes one vLLM bench result per point of every sweeps/NAME.json of runDir into
// outDir, named NAME-<load>.json (rate4, conc8, rate4-conc8, inf, ramp), and returns the files
// written, sorted.
func ExportVLLMBench(runDir, outDir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(runDir, "sweeps", "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no sweeps/*.json: not a run directory, or the run measured nothing", runDir)
	}
	man := readManifest(runDir)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var points []pointschema.Point
		if err := json.Unmarshal(data, &points); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		sweep := strings.TrimSuffix(filepath.Base(f), ".json")
		used := map[string]bool{}
		for _, p := range points {
			name := sweep + "-" + loadLabel(p)
			for i := 2; used[name]; i++ {
				name = fmt.Sprintf("%s-%s-%d", sweep, loadLabel(p), i)
			}
			used[name] = true
			meta := Meta{Sweep: sweep, Model: man.models[p.Server], Date: man.start, RunName: filepath.Base(filepath.Clean(runDir))}
			out, err := ToVLLMBench(p, meta).MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			path := filepath.Join(outDir, name+".json")
			if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
				return nil, err
			}
			written = append(written, path)
		}
	}
	sort.Strings(written)
	return written, nil
}

// loadLabel names a point's load in a file name.
func loadLabel(p pointschema.Point) string {
	r := float64(p.RequestRate)
	switch {
	case p.Ramp != nil || p.Arrival == "ramp":
		return "ramp"
	case math.IsInf(r, 1) && p.MaxConcurrency > 0:
		return fmt.Sprintf("conc%d", p.MaxConcurrency)
	case math.IsInf(r, 1):
		return "inf"
	case math.IsNaN(r):
		return "unknown"
	case p.MaxConcurrency > 0:
		return fmt.Sprintf("rate%s-conc%d", strconv.FormatFloat(r, 'g', -1, 64), p.MaxConcurrency)
	}
	return "rate" + strconv.FormatFloat(r, 'g', -1, 64)
}

// runManifest is what export reads of manifest.json: the start time and each server's model.
type runManifest struct {
	start  time.Time
	models map[string]string
}

// readManifest reads what it can; a run without a readable manifest exports without model and date.
func readManifest(runDir string) runManifest {
	out := runManifest{models: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(runDir, "manifest.json"))
	if err != nil {
		return out
	}
	var m struct {
		Start   string `json:"start"`
		Servers []struct {
			Name  string `json:"name"`
			Model string `json:"model"`
		} `json:"servers"`
	}
	if json.Unmarshal(data, &m) != nil {
		return out
	}
	out.start, _ = time.Parse(time.RFC3339Nano, m.Start)
	for _, s := range m.Servers {
		out.models[s.Name] = s.Model
	}
	return out
}
