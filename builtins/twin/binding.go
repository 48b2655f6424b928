package twin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"starlab/builtins/analysis"
	"starlab/builtins/catalog"
	"starlab/builtins/server"
	"starlab/builtins/sim"
	"starlab/builtins/sweep"
	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "calibrate",
		Signature: `calibrate(points_or_sweep, model, gpu=None, engine="vllm", name=None, fixed=None, min_error=0.03)`,
		Doc: `Fits the simulator's step time to measured points and returns a Calibration: a twin of the server.

points_or_sweep is a SweepResult, a list of them, or a list of point dicts, measured at low to
moderate load (closed-loop concurrency 1, 2, 4 is enough; a few minutes of measurement). The fit
replays every point on the simulator in virtual time with the same requests (a SweepResult
remembers its seed and dataset; a point dict is replayed with its mean lengths) and chooses the
step-time parameters (fixed_ms per step, per_prefill_token_ms, per_prefill_seq_ms,
per_decode_seq_ms, per_context_token_ms, and request_overhead_ms spent before the scheduler)
whose predicted mean_tpot_ms, mean_e2el_ms and TTFT best match the measured ones. TTFT is two
figures when the sweep's requests file is there: the mean over the requests with the shorter half
of the prompts and over the longer half (their difference is a prompt token's cost); otherwise
mean_ttft_ms. Weighted least squares on the log scale, each figure weighted by its interval
(floored at min_error, the relative error no interval shows), by Levenberg–Marquardt on the
parameters' logarithms, from the measurements' own starting guess and again with no request
overhead; the better fit wins (.at_zero lists a parameter set to 0 that way). fixed =
{"name": value} holds parameters instead of fitting them.

The twin keeps the measured engine's scheduling limits: max_num_seqs (llama.cpp and ollama: the
slots), the tokens one step computes (ollama 512, llama.cpp 2048, vLLM the server's setting),
the context per request and the KV cache in tokens from the server's start-up log when it gave
one. engine defaults to the measured server's engine; gpu (a catalog GPU, None for a CPU engine)
lets the twin scale to more tensor-parallel GPUs (the weight-streaming share of the fixed cost
shrinks, an all-reduce term is added).

Returns Calibration(.name .path .engine .model .gpu .params .ci .std_err .unidentified .fixed
.at_zero .r2 .rmse_pct .mape_pct .points .range .limits .level). r2 is NaN when the fitted figures vary
between the points no more than their noise. params and ci are dicts by parameter
name; an entry of .unidentified has no interval (the measurements cannot separate it from the
others). points are the fitted points: measured, predicted and error_pct per figure. range is
the operating range fitted (running, input_tokens, output_tokens, request_throughput: [lo, hi]);
the report warns when a twin runs outside it. The fit is a journaled step and is written to
calibrations/NAME.json (name defaults to the measured server's name), which
start_vllm(..., calibration=...) and "starlab sim serve --calibration FILE" load.`,
		Fn: calibrateFn,
	})
}

// engineBatch is the tokens one step may compute when the engine's own setting is not known:
// ollama's num_batch and llama-server's n_batch defaults.
var engineBatch = map[string]int{server.EngineOllama: 512, server.EngineLlamaCpp: 2048}

type namesKey struct{}

func calibrateFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var input starlark.Value
	var model string
	var gpu, name runtime.Opt[string]
	engine := "vllm"
	var fixed *starlark.Dict
	minError := 0.03
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "points_or_sweep", &input, "model", &model, "gpu?", &gpu,
		"engine?", &engine, "name?", &name, "fixed?", &fixed, "min_error?", &minError); err != nil {
		return nil, err
	}
	r := runtime.FromThread(thread)
	pts, srv, err := calibrationPoints(r, input)
	if err != nil {
		return nil, err
	}
	eng := engine
	if !given(args, kwargs, 3, "engine") && srv != nil {
		eng = srv.Info().Backend
	}
	switch eng {
	case "vllm", "sglang", "llama.cpp", "ollama", "sim", "external":
	default:
		return nil, paramerr.New("engine", "want vllm, sglang, llama.cpp, ollama or sim, got %q", eng)
	}
	if gpu.V != "" {
		if _, err := catalog.LookupGPU(gpu.V); err != nil {
			return nil, paramerr.New("gpu", "%v", err)
		}
	}
	if !(minError > 0 && minError < 1) {
		return nil, paramerr.New("min_error", "want a relative error in (0, 1), got %v", minError)
	}
	held := map[string]float64{}
	if fixed != nil {
		for _, kv := range fixed.Items() {
			k, ok := kv[0].(starlark.String)
			f, okf := starlark.AsFloat(kv[1])
			if !ok || !okf {
				return nil, paramerr.New("fixed", "want {parameter name: number}, got %s: %s", kv[0].Type(), kv[1].Type())
			}
			if indexOf(sim.LinearParams, string(k)) < 0 {
				return nil, paramerr.New("fixed", "unknown parameter %q (want one of %s)", string(k), strings.Join(sim.LinearParams, ", "))
			}
			held[string(k)] = f
		}
	}
	modelPath := resolveModel(thread, model)
	calName := name.V
	if !name.Set {
		calName = "calibration"
		if srv != nil {
			calName = srv.Name()
		}
		calName = uniqueName(r, calName)
	} else if err := runtime.CheckFileName(calName); err != nil {
		return nil, paramerr.Wrap("name", err)
	}

	limits, tp, dp := engineLimits(eng, srv)
	base := sim.Config{Model: modelPath, GPU: gpu.V, TensorParallel: tp, DataParallel: dp}
	if _, err := sim.Resolve(sim.Config{Model: modelPath, GPU: gpu.V}); err != nil {
		return nil, paramerr.New("model", "the twin cannot simulate %q: %v", model, err)
	}
	cal, err := runtime.KeyedStep(thread, b.Name(), runtime.CanonicalArgs(args, kwargs), func(ctx context.Context) (*sim.Calibration, error) {
		p := Problem{Base: base, Limits: limits, Points: pts, Seed: r.DeriveSeed("calibrate/" + calName), Level: r.Level(),
			Fixed: held, MinRelativeError: minError}
		start := time.Now()
		res, err := Fit(ctx, p)
		if err != nil {
			return nil, err
		}
		r.Log.Info().Str("calibration", calName).Float64("r2", float64(res.Fit.R2)).Float64("mape_pct", res.Fit.MAPEPct).
			Dur("took", time.Since(start)).Msg("calibrate: fitted")
		c := &sim.Calibration{Name: calName, Engine: eng, Model: modelPath, GPU: gpu.V, Confidence: r.Level(),
			Step: res.Step, StdErr: res.StdErr, CI: res.CI, Limits: limits, Fit: res.Fit, Range: res.Range}
		c.Step.WeightShare = weightShare(base, res.Step)
		c.Step.CalibratedTP = max(tp, 1)
		c.Source = source(srv, pts)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	rel := filepath.Join("calibrations", cal.Name+".json")
	if err := writeCalibration(r, rel, cal); err != nil {
		return nil, err
	}
	for i, p := range sim.LinearParams {
		if ci, ok := cal.CI[p]; ok {
			r.NoteEstimate(cal.Name+"."+p, cal.Step.Values()[i], ci[0], ci[1])
		}
	}
	return calibrationValue(cal, rel), nil
}

// given reports whether a call passed the parameter at position pos (0-based) or by name.
func given(args starlark.Tuple, kwargs []starlark.Tuple, pos int, name string) bool {
	if len(args) > pos {
		return true
	}
	for _, kv := range kwargs {
		if k, ok := kv[0].(starlark.String); ok && string(k) == name {
			return true
		}
	}
	return false
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// resolveModel makes a model file relative to the plan absolute, as the servers do with GGUF
// files; names and missing paths pass through.
func resolveModel(thread *starlark.Thread, model string) string {
	if model == "" || filepath.IsAbs(model) {
		return model
	}
	if p := filepath.Join(filepath.Dir(runtime.CallerFile(thread)), model); fileExists(p) {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return model
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// uniqueName is base, or base-2, base-3... when the run already has a calibration of that name.
func uniqueName(r *runtime.Run, base string) string {
	used := runtime.State(r, namesKey{}, func() map[string]bool { return map[string]bool{} })
	name := base
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	used[name] = true
	return name
}

// calibrationPoints collects the points to fit and the server that was measured (nil when only
// dicts were given).
func calibrationPoints(r *runtime.Run, v starlark.Value) ([]Point, *server.Handle, error) {
	var items []starlark.Value
	if _, ok := sweep.ResultStateOf(v); ok {
		items = []starlark.Value{v}
	} else if l, ok := v.(starlark.Indexable); ok {
		for i := 0; i < l.Len(); i++ {
			items = append(items, l.Index(i))
		}
	} else {
		return nil, nil, paramerr.New("points_or_sweep", "want a SweepResult, a list of them or a list of point dicts, got %s", v.Type())
	}
	var pts []Point
	var srv *server.Handle
	for i, item := range items {
		if st, ok := sweep.ResultStateOf(item); ok {
			if srv != nil && st.Server != srv {
				return nil, nil, paramerr.New("points_or_sweep", "the sweeps measured different servers (%s and %s): a calibration is of one server", srv.Name(), st.Server.Name())
			}
			srv = st.Server
			name := sweepName(item)
			reqs := readRequests(filepath.Join(r.Dir, "sweeps", name+".requests.jsonl"))
			for j, p := range st.Points {
				if j >= len(st.Plans) || st.Plans[j].Options.Dataset == nil {
					return nil, nil, paramerr.New("points_or_sweep", "sweep %s point %d: how it was measured is unknown", name, j)
				}
				pts = append(pts, Point{Sweep: name, Index: j, Options: st.Plans[j].Options, Spec: st.Plans[j].Spec, Measured: p,
					Requests: reqs[j]})
			}
			continue
		}
		d, ok := item.(*starlark.Dict)
		if !ok {
			return nil, nil, paramerr.New("points_or_sweep", "element %d: want a SweepResult or a point dict, got %s", i, item.Type())
		}
		p, err := pointFromDict(r, d, i)
		if err != nil {
			return nil, nil, paramerr.New("points_or_sweep", "element %d: %v", i, err)
		}
		// A sweep's point names its server: the calibration takes that server's limits.
		if h := serverNamed(r, p.Measured.Server); h != nil {
			if srv != nil && h != srv {
				return nil, nil, paramerr.New("points_or_sweep", "the points measured different servers (%s and %s): a calibration is of one server", srv.Name(), h.Name())
			}
			srv = h
		}
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return nil, nil, paramerr.New("points_or_sweep", "no points to fit")
	}
	return pts, srv, nil
}

// readRequests reads a sweep's requests file into each point's successful measured requests
// (first repeat only: the plan replayed is the first repeat's). A missing or unreadable file gives
// none: the fit then uses the points' means.
func readRequests(path string) map[int][]Request {
	out := map[int][]Request{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	for {
		var row struct {
			Point        int      `json:"point"`
			Repeat       int      `json:"repeat"`
			Warmup       bool     `json:"warmup"`
			TTFT         *float64 `json:"ttft_ms"`
			InputTokens  int      `json:"input_tokens"`
			OutputTokens int      `json:"output_tokens"`
			Error        string   `json:"error"`
			Incomplete   bool     `json:"incomplete"`
		}
		if err := dec.Decode(&row); err != nil {
			return out
		}
		if row.Warmup || row.Repeat != 0 || row.Error != "" || row.Incomplete || row.TTFT == nil {
			continue
		}
		out[row.Point] = append(out[row.Point], Request{InputTokens: row.InputTokens, OutputTokens: row.OutputTokens, TTFTMs: *row.TTFT})
	}
}

// serverNamed is the plan's server of that name, or nil.
func serverNamed(r *runtime.Run, name string) *server.Handle {
	if name == "" {
		return nil
	}
	for _, h := range server.ManagerFor(r).Handles() {
		if h.Name() == name {
			return h
		}
	}
	return nil
}

func sweepName(v starlark.Value) string {
	if o, ok := v.(starlark.HasAttrs); ok {
		if n, err := o.Attr("name"); err == nil {
			if s, ok := n.(starlark.String); ok {
				return string(s)
			}
		}
	}
	return ""
}

// pointFromDict replays a point known only by its figures: requests of its mean lengths, at its
// load, for its window.
func pointFromDict(r *runtime.Run, d *starlark.Dict, i int) (Point, error) {
	data, err := json.Marshal(jsonSafe(analysis.ToGo(d)))
	if err != nil {
		return Point{}, err
	}
	var p sweep.Point
	if err := json.Unmarshal(data, &p); err != nil {
		return Point{}, err
	}
	if p.Completed < 1 || !(p.Duration > 0) {
		return Point{}, fmt.Errorf("a point needs completed and duration (a sweep's point dict)")
	}
	in, out := meanLengths(p)
	ds, err := sweep.NewRandom(sweep.RandomSpec{InputLen: max(1, int(math.Round(in))), OutputLen: max(1, int(math.Round(out))),
		Seed: r.DeriveSeed(fmt.Sprintf("calibrate/point/%d", i)), Key: "calibrate"})
	if err != nil {
		return Point{}, err
	}
	o := sweep.Options{Dataset: ds, Seed: r.DeriveSeed(fmt.Sprintf("calibrate/schedule/%d", i)), Key: "calibrate",
		Duration: time.Duration(float64(p.Duration) * float64(time.Second)), Confidence: r.Level(), Logger: zerolog.Nop(),
		Progress: sweep.ProgressOptions{Disable: true}}
	spec := sweep.PointSpec{Index: i}
	rate := float64(p.RequestRate)
	switch {
	case math.IsInf(rate, 1) || rate == 0:
		if p.MaxConcurrency < 1 {
			return Point{}, fmt.Errorf("a closed-loop point needs max_concurrency")
		}
		spec.Concurrency = p.MaxConcurrency
	default:
		spec.Rate = rate
		o.MaxConcurrency = p.MaxConcurrency
		o.Arrival = sweep.Arrival(p.Arrival)
		o.Burstiness = float64(p.Burstiness)
	}
	return Point{Index: i, Options: o, Spec: spec, Measured: p}, nil
}

// jsonSafe spells infinities as the point files do ("inf") and drops NaN.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		switch {
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		case math.IsNaN(x):
			return nil
		}
	case map[string]any:
		for k, e := range x {
			x[k] = jsonSafe(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonSafe(e)
		}
	}
	return v
}

// engineLimits are the measured engine's scheduling limits and parallelism: from the start-up
// log's capacity when it gave one, else from the server's settings.
func engineLimits(engine string, h *server.Handle) (sim.Limits, int, int) {
	l := sim.Limits{MaxNumBatchedTokens: engineBatch[engine], TensorParallel: 1}
	if h == nil {
		return l, 1, 1
	}
	spec, info := h.Spec, h.Info()
	l.MaxNumSeqs, l.MaxModelLen = spec.MaxNumSeqs, spec.MaxModelLen
	tp, dp := max(spec.TensorParallel, 1), max(spec.DataParallel, 1)
	if engine == server.EngineLlamaCpp || engine == server.EngineOllama {
		tp, dp = 1, 1
		if l.MaxNumSeqs == 0 {
			l.MaxNumSeqs = 4 // both engines' default here (start_server's parallel)
		}
	}
	l.TensorParallel = tp
	if kv := info.KVCache; kv != nil {
		if kv.Slots > 0 {
			l.MaxNumSeqs = kv.Slots
		}
		if kv.SlotContext > 0 {
			l.MaxModelLen = kv.SlotContext
		} else if kv.TokensPerRequest > 0 && l.MaxModelLen == 0 {
			l.MaxModelLen = kv.TokensPerRequest
		}
		if kv.Tokens > 0 {
			l.KVTokens, l.KVSource = kv.Tokens, "startup log"
		}
	}
	return l, tp, dp
}

// weightShare is the part of the fitted fixed step cost that streams the weights, by the
// roofline of the catalog GPU: it shrinks with tensor parallelism. 0 without a GPU.
func weightShare(base sim.Config, step sim.LinearCost) float64 {
	if base.GPU == "" || step.FixedMs <= 0 {
		return 0
	}
	cfg := base
	cfg.Calibration = nil
	r, err := sim.Resolve(cfg)
	if err != nil {
		return 0
	}
	ms := r.WeightBytes / float64(r.TensorParallel) / (r.GPUInfo.BandwidthGBs * 1e9 * r.Cost.BandwidthEfficiency) * 1e3
	return math.Min(0.9, ms/step.FixedMs)
}

func source(h *server.Handle, pts []Point) sim.Source {
	var s sim.Source
	seen := map[string]bool{}
	for _, p := range pts {
		if p.Sweep != "" && !seen[p.Sweep] {
			seen[p.Sweep] = true
			s.Sweeps = append(s.Sweeps, p.Sweep)
		}
		s.Samples += p.Measured.Completed
	}
	if h != nil {
		info := h.Info()
		s.Server, s.Engine = info.Name, info.EngineVersion
	}
	return s
}

func writeCalibration(r *runtime.Run, rel string, c *sim.Calibration) error {
	path, err := r.Path(rel)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// calibrationValue is the Starlark Calibration; its state is the *sim.Calibration servers load.
func calibrationValue(c *sim.Calibration, rel string) *runtime.Object {
	params := starlark.NewDict(len(sim.LinearParams))
	ci := starlark.NewDict(len(c.CI))
	se := starlark.NewDict(len(c.StdErr))
	for i, p := range sim.LinearParams {
		params.SetKey(starlark.String(p), starlark.Float(c.Step.Values()[i]))
		if iv, ok := c.CI[p]; ok {
			ci.SetKey(starlark.String(p), starlark.Tuple{starlark.Float(iv[0]), starlark.Float(iv[1])})
			se.SetKey(starlark.String(p), starlark.Float(c.StdErr[p]))
		}
	}
	var points []starlark.Value
	for _, fp := range c.Fit.Points {
		points = append(points, runtime.FromJSON("", toAny(fp), nil))
	}
	pair := func(v [2]float64) starlark.Value { return starlark.Tuple{starlark.Float(v[0]), starlark.Float(v[1])} }
	l := c.Limits
	attrs := starlark.StringDict{
		"name": starlark.String(c.Name), "path": starlark.String(rel), "engine": starlark.String(c.Engine),
		"model": starlark.String(c.Model), "gpu": noneIfEmpty(c.GPU), "params": params, "ci": ci, "std_err": se,
		"unidentified": stringList(c.Fit.Unidentified), "fixed": stringList(c.Fit.Fixed), "at_zero": stringList(c.Fit.AtZero),
		"r2": starlark.Float(c.Fit.R2), "rmse_pct": starlark.Float(c.Fit.RMSEPct), "mape_pct": starlark.Float(c.Fit.MAPEPct),
		"points": starlark.NewList(points), "level": starlark.Float(c.Confidence),
		"range": starlarkstruct.FromStringDict(starlark.String("range"), starlark.StringDict{
			"running": pair(c.Range.Running), "input_tokens": pair(c.Range.InputTokens),
			"output_tokens": pair(c.Range.OutputTokens), "request_throughput": pair(c.Range.RequestThroughput)}),
		"limits": starlarkstruct.FromStringDict(starlark.String("limits"), starlark.StringDict{
			"max_num_seqs": starlark.MakeInt(l.MaxNumSeqs), "max_num_batched_tokens": starlark.MakeInt(l.MaxNumBatchedTokens),
			"kv_tokens": starlark.MakeInt(l.KVTokens), "max_model_len": starlark.MakeInt(l.MaxModelLen),
			"tensor_parallel": starlark.MakeInt(l.TensorParallel)}),
	}
	return runtime.NewObject("Calibration", attrs).WithState(c).
		WithKey(func() string { return "Calibration(" + c.Name + ")" }).
		WithString(func() string {
			return fmt.Sprintf("<Calibration %s: %s on %s, R² %.3f, MAPE %.1f%%>", c.Name, c.Engine, orCPU(c.GPU), float64(c.Fit.R2), c.Fit.MAPEPct)
		})
}

func toAny(v any) any {
	data, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}

func noneIfEmpty(s string) starlark.Value {
	if s == "" {
		return starlark.None
	}
	return starlark.String(s)
}

func orCPU(gpu string) string {
	if gpu == "" {
		return "the CPU"
	}
	return gpu
}

func stringList(s []string) *starlark.List {
	sorted := append([]string(nil), s...)
	sort.Strings(sorted)
	out := make([]starlark.Value, len(sorted))
	for i, x := range sorted {
		out[i] = starlark.String(x)
	}
	return starlark.NewList(out)
}
