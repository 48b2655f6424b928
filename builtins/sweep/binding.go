package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"starlab/builtins/gpu"
	"starlab/builtins/server"
	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name: "sweep",
		Signature: `sweep(server, rates=None, concurrency=None, duration="60s", num_requests=None, dataset=None,
      arrival="poisson", burstiness=1.0, warmup="5s", max_concurrency=None, endpoint="completions",
      slo=None, gpu_sample=True, stop_when=None, seed=None, name=None)`,
		Doc: `Drives streaming load at each level and returns a SweepResult (.name .points .server).

Exactly one of rates (open loop, requests/s: arrival "poisson", "gamma" with burstiness, or
"constant") or concurrency (closed loop: N workers back to back). Each point sends for warmup +
duration (or warmup + num_requests measured requests); warmup requests are excluded from every
metric, requests in flight at the end are waited for, then counted incomplete. Every request is
sent at its scheduled time (from the run seed) and latency is measured from that intended time;
the send lag is reported in client, which says when the load generator, not the server, was the
bottleneck. dataset defaults to dataset(). slo = {"ttft": ms, "tpot": ms, "e2el": ms} adds
request_goodput. stop_when = True (or {"fraction": 0.8, "window": "5s", "ttft_growth": 1.2})
ends a clearly saturated point early. gpu_sample attaches a per-device GPU summary and J/token.

Points carry vLLM bench's field names (request_rate, request_throughput, output_throughput,
{mean,median,std,p90,p99}_{ttft,tpot,itl,e2el}_ms, ...) plus client, server_metrics and gpu.
Each point is a journaled step: --resume skips measured points. Results go to sweeps/<name>.json
(after each point) and sweeps/<name>.requests.jsonl (as requests finish).`,
		Fn: sweepBuiltin,
	})
}

// sweepArgs are sweep()'s arguments after unpacking.
type sweepArgs struct {
	server      *server.Handle
	serverValue starlark.Value
	rates       []float64
	concurrency []int
	name        string
	seed        uint64
	dataset     *DatasetValue
	gpu         bool
	opts        Options
	endpoint    Endpoint
}

func sweepBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runtime.FromThread(thread)
	a, err := unpackSweep(b, r, args, kwargs)
	if err != nil {
		return nil, err
	}
	sweeps := runtime.State(r, sweepsKey{}, func() *sweepRegistry { return &sweepRegistry{byName: map[string]*sweepRecord{}} })
	rec, err := sweeps.claim(a.name, a.server)
	if err != nil {
		return nil, runtime.ArgError(b, "name", "%v", err)
	}
	a.name = rec.name
	ds, err := a.dataset.materialize(r.DeriveSeed("dataset/" + a.dataset.StepKey()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	a.opts.Dataset = ds
	a.opts.Logger = r.Log.With().Str("sweep", a.name).Logger()
	a.opts.Progress = ProgressOptions{Out: os.Stderr}
	a.opts.Key = pointKeyBase(a, args, kwargs)
	a.opts.Seed = a.seed

	c := Config{Name: a.name, Rates: a.rates, Concurrency: a.concurrency, Options: a.opts, Previous: rec.points}
	if r.Mode != runtime.Replay {
		w, err := NewWriter(filepath.Join(r.Dir, "sweeps"), a.name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		defer w.Close()
		c.Writer = w
	}
	measure := func(ctx context.Context, o Options, s PointSpec) (Point, error) {
		var measured Point
		var ran bool
		p, err := runtime.KeyedStep(thread, b.Name(), fmt.Sprintf("%s, point=%d:%s", o.Key, s.Index, s), func(ctx context.Context) (Point, error) {
			o.Logger.Info().Str("point", s.String()).Msg("sweep: measuring point")
			p, err := measurePoint(ctx, r, a, o, s)
			measured, ran = p, true
			return p, err
		})
		if err != nil && ran {
			return measured, err
		}
		return p, err
	}
	res, err := RunWith(r.Ctx, c, measure)
	if res != nil {
		rec.points = res.Points
	}
	if c.Writer == nil && res != nil {
		// Replay: the points come from the journal; write them where the report looks.
		if werr := WritePointsFile(filepath.Join(r.Dir, "sweeps", a.name+".json"), res.Points); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		if _, missing := err.(*runtime.ReplayMissingError); missing {
			return nil, err
		}
		return nil, fmt.Errorf("%s %s: %w (the points measured so far are in sweeps/%s.json)", b.Name(), a.name, err, a.name)
	}
	return newResultValue(a.name, res.Points, a.serverValue), nil
}

// measurePoint runs one point for real: in virtual time against a fresh simulator, or over HTTP.
func measurePoint(ctx context.Context, r *runtime.Run, a *sweepArgs, o Options, s PointSpec) (Point, error) {
	h := a.server
	if h.Virtual() {
		vs, err := h.NewVirtual(r.DeriveSeed(fmt.Sprintf("sim/%s/%d:%s", o.Key, s.Index, s)))
		if err != nil {
			return Point{}, err
		}
		if a.gpu {
			o.GPU = gpuHook(gpu.PointProbe(r, h, vs))
		}
		return RunVirtualPoint(ctx, vs, o, s)
	}
	url, err := h.Ensure(ctx)
	if err != nil {
		return Point{}, err
	}
	if a.gpu {
		o.GPU = gpuHook(gpu.PointProbe(r, h, nil))
	}
	info := h.Info()
	p, err := RunPoint(ctx, Target{URL: url, Model: info.Model, Endpoint: a.endpoint}, o, s)
	if err != nil {
		return p, err
	}
	if dead := h.Alive(); dead != nil {
		return p, &PartialError{Err: dead}
	}
	return p, nil
}

// gpuHook adapts the GPU package's probe to the engine's hook (nil: the GPUs cannot be sampled).
func gpuHook(start func(ctx context.Context) (*gpu.Probe, error)) GPUHook {
	if start == nil {
		return nil
	}
	return func(ctx context.Context) (GPUProbe, error) {
		p, err := start(ctx)
		if err != nil || p == nil {
			return nil, err
		}
		return p, nil
	}
}

// pointKeyBase is the part of every point's step key and random stream that the sweep's
// arguments decide, leaving out the list of loads (each point adds its own) and the name (a
// renamed sweep measures the same thing).
func pointKeyBase(a *sweepArgs, args starlark.Tuple, kwargs []starlark.Tuple) string {
	params := []string{"server", "rates", "concurrency", "duration", "num_requests", "dataset", "arrival", "burstiness",
		"warmup", "max_concurrency", "endpoint", "slo", "gpu_sample", "stop_when", "seed", "name"}
	var kept []starlark.Tuple
	for i, v := range args {
		if i < len(params) && params[i] != "rates" && params[i] != "concurrency" && params[i] != "name" {
			kept = append(kept, starlark.Tuple{starlark.String(params[i]), v})
		}
	}
	for _, kv := range kwargs {
		switch string(kv[0].(starlark.String)) {
		case "rates", "concurrency", "name":
		default:
			kept = append(kept, kv)
		}
	}
	if a.dataset != nil {
		kept = append(kept, starlark.Tuple{starlark.String("dataset"), a.dataset.value()})
	}
	return runtime.CanonicalArgs(nil, dedupe(kept))
}

// dedupe keeps the last value of each keyword (dataset may appear as given and as resolved).
func dedupe(kv []starlark.Tuple) []starlark.Tuple {
	seen := map[string]int{}
	var out []starlark.Tuple
	for _, p := range kv {
		k := string(p[0].(starlark.String))
		if i, ok := seen[k]; ok {
			out[i] = p
			continue
		}
		seen[k] = len(out)
		out = append(out, p)
	}
	return out
}

type sweepsKey struct{}

// sweepRegistry holds the run's sweeps by name: their files are sweeps/<name>.*. A sweep called
// again with the same explicit name and server continues that sweep (an adaptive search adds its
// points one call at a time); unnamed sweeps get unique names.
type sweepRegistry struct{ byName map[string]*sweepRecord }

type sweepRecord struct {
	name      string
	serverKey string
	points    []Point
}

func (reg *sweepRegistry) claim(name string, srv *server.Handle) (*sweepRecord, error) {
	if name != "" {
		if rec, ok := reg.byName[name]; ok {
			if rec.serverKey != srv.Key {
				return nil, fmt.Errorf("sweep %q measured another server; give this one another name", name)
			}
			return rec, nil
		}
	} else {
		name = srv.Name()
		for i := 2; reg.byName[name] != nil; i++ {
			name = fmt.Sprintf("%s-%d", srv.Name(), i)
		}
	}
	rec := &sweepRecord{name: name, serverKey: srv.Key}
	reg.byName[name] = rec
	return rec, nil
}

func unpackSweep(b *starlark.Builtin, r *runtime.Run, args starlark.Tuple, kwargs []starlark.Tuple) (*sweepArgs, error) {
	var srv, rates, conc, numReq, ds, maxConc, slo, stopWhen, seed, name starlark.Value = starlark.None,
		starlark.None, starlark.None, starlark.None, starlark.None, starlark.None, starlark.None, starlark.None,
		starlark.None, starlark.None
	duration, warmup := runtime.Duration(60*time.Second), runtime.Duration(5*time.Second)
	arrival, endpoint := "poisson", "completions"
	burstiness := 1.0
	gpuSample := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "server", &srv, "rates?", &rates, "concurrency?", &conc,
		"duration?", &duration, "num_requests?", &numReq, "dataset?", &ds, "arrival?", &arrival,
		"burstiness?", &burstiness, "warmup?", &warmup, "max_concurrency?", &maxConc, "endpoint?", &endpoint,
		"slo?", &slo, "gpu_sample?", &gpuSample, "stop_when?", &stopWhen, "seed?", &seed, "name?", &name); err != nil {
		return nil, err
	}
	a := &sweepArgs{serverValue: srv, gpu: gpuSample, seed: r.Seed}
	h, ok := server.HandleOf(srv)
	if !ok {
		return nil, runtime.ArgError(b, "server", "got %s, want Server (from start_vllm)", srv.Type())
	}
	a.server = h
	switch {
	case (rates == starlark.None) == (conc == starlark.None):
		return nil, runtime.ArgError(b, "rates", "give exactly one of rates (open loop) or concurrency (closed loop)")
	case rates != starlark.None:
		var fs runtime.Floats
		if err := fs.Unpack(rates); err != nil {
			return nil, runtime.ArgError(b, "rates", "%v", err)
		}
		if len(fs) == 0 {
			return nil, runtime.ArgError(b, "rates", "want at least one rate")
		}
		for i, f := range fs {
			if !(f > 0) {
				return nil, runtime.ArgError(b, "rates", "element %d: want a rate above 0 (requests/s), got %v", i, f)
			}
		}
		a.rates = fs
	default:
		var fs runtime.Floats
		if err := fs.Unpack(conc); err != nil {
			return nil, runtime.ArgError(b, "concurrency", "%v", err)
		}
		if len(fs) == 0 {
			return nil, runtime.ArgError(b, "concurrency", "want at least one level")
		}
		for i, f := range fs {
			if f < 1 || f != math.Trunc(f) {
				return nil, runtime.ArgError(b, "concurrency", "element %d: want a whole number of workers >= 1, got %v", i, f)
			}
			a.concurrency = append(a.concurrency, int(f))
		}
	}
	o := &a.opts
	o.Duration, o.Warmup = duration.Std(), warmup.Std()
	if numReq != starlark.None {
		if err := starlark.AsInt(numReq, &o.NumRequests); err != nil || o.NumRequests < 1 {
			return nil, runtime.ArgError(b, "num_requests", "want a positive int or None, got %s", numReq)
		}
	}
	if o.NumRequests == 0 && o.Duration <= 0 {
		return nil, runtime.ArgError(b, "duration", "want a duration above 0 (or give num_requests)")
	}
	switch Arrival(arrival) {
	case ArrivalPoisson, ArrivalGamma, ArrivalConstant:
		o.Arrival = Arrival(arrival)
	default:
		return nil, runtime.ArgError(b, "arrival", "want \"poisson\", \"gamma\" or \"constant\", got %q", arrival)
	}
	if !(burstiness > 0) {
		return nil, runtime.ArgError(b, "burstiness", "want a number above 0, got %v", burstiness)
	}
	o.Burstiness = burstiness
	if maxConc != starlark.None {
		if err := starlark.AsInt(maxConc, &o.MaxConcurrency); err != nil || o.MaxConcurrency < 1 {
			return nil, runtime.ArgError(b, "max_concurrency", "want a positive int or None, got %s", maxConc)
		}
	}
	switch Endpoint(endpoint) {
	case EndpointCompletions, EndpointChat:
		a.endpoint = Endpoint(endpoint)
	default:
		return nil, runtime.ArgError(b, "endpoint", "want \"completions\" or \"chat\", got %q", endpoint)
	}
	if slo != starlark.None {
		d, ok := slo.(*starlark.Dict)
		if !ok {
			return nil, runtime.ArgError(b, "slo", "got %s, want a dict such as {\"ttft\": 200, \"tpot\": 50}", slo.Type())
		}
		o.SLO = map[string]float64{}
		for _, kv := range d.Items() {
			k, _ := starlark.AsString(kv[0])
			v, ok := starlark.AsFloat(kv[1])
			if !ok {
				return nil, runtime.ArgError(b, "slo", "%s: want milliseconds, got %s", kv[0], kv[1].Type())
			}
			o.SLO[k] = v
		}
		if err := ValidateSLO(o.SLO); err != nil {
			return nil, runtime.ArgError(b, "slo", "%v", err)
		}
	}
	sw, err := unpackStopWhen(stopWhen)
	if err != nil {
		return nil, runtime.ArgError(b, "stop_when", "%v", err)
	}
	o.StopWhen = sw
	if seed != starlark.None {
		var s int64
		if err := starlark.AsInt(seed, &s); err != nil {
			return nil, runtime.ArgError(b, "seed", "want an int or None, got %s", seed)
		}
		a.seed = runtime.DeriveSeed(uint64(s), "sweep")
	}
	if name != starlark.None {
		n, ok := starlark.AsString(name)
		if !ok || n == "" || strings.ContainsAny(n, `/\`) {
			return nil, runtime.ArgError(b, "name", "want a file-safe name, got %s", name)
		}
		a.name = n
	}
	if ds == starlark.None {
		a.dataset = &DatasetValue{Kind: "random", InputLen: 512, OutputLen: 128}
	} else if dv, ok := runtime.StateOf[*DatasetValue](ds, "Dataset"); ok {
		a.dataset = dv
	} else {
		return nil, runtime.ArgError(b, "dataset", "got %s, want Dataset (from dataset())", ds.Type())
	}
	return a, nil
}

// unpackStopWhen reads stop_when: None/False (never), True (defaults) or a dict of settings.
func unpackStopWhen(v starlark.Value) (*StopWhen, error) {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		if x {
			return &StopWhen{}, nil
		}
		return nil, nil
	case *starlark.Dict:
		sw := &StopWhen{}
		for _, kv := range x.Items() {
			k, _ := starlark.AsString(kv[0])
			switch k {
			case "fraction", "ttft_growth":
				f, ok := starlark.AsFloat(kv[1])
				if !ok {
					return nil, fmt.Errorf("%s: want a number, got %s", k, kv[1].Type())
				}
				if k == "fraction" {
					sw.Fraction = f
				} else {
					sw.TTFTGrowth = f
				}
			case "window":
				var d runtime.Duration
				if err := d.Unpack(kv[1]); err != nil {
					return nil, fmt.Errorf("window: %v", err)
				}
				sw.Window = d.Std()
			default:
				return nil, fmt.Errorf("unknown setting %q (want fraction, window, ttft_growth)", k)
			}
		}
		return sw, nil
	}
	return nil, fmt.Errorf("got %s, want True, None or a dict", v.Type())
}

// ResultValue is a SweepResult: the sweep's name, its points as dicts with vLLM bench's field
// names, and the server it measured.
type ResultValue struct {
	name   string
	points *starlark.List
	server starlark.Value
}

func newResultValue(name string, points []Point, srv starlark.Value) *ResultValue {
	list := make([]starlark.Value, len(points))
	for i, p := range points {
		list[i] = pointDict(p)
	}
	l := starlark.NewList(list)
	l.Freeze()
	return &ResultValue{name: name, points: l, server: srv}
}

// intFields are the point fields that count things (ints in PointFields); every other number is a float.
var intFields = pointIntFields()

// pointDict converts a point through its JSON form, so plans see exactly the file's fields.
func pointDict(p Point) starlark.Value {
	data, _ := json.Marshal(p)
	var m any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	dec.Decode(&m)
	return runtime.FromJSON("", m, func(k string) bool { return intFields[k] })
}

func (v *ResultValue) String() string {
	return fmt.Sprintf("<SweepResult %s, %d points>", v.name, v.points.Len())
}
func (v *ResultValue) Type() string          { return "SweepResult" }
func (v *ResultValue) Freeze()               {}
func (v *ResultValue) Truth() starlark.Bool  { return true }
func (v *ResultValue) Hash() (uint32, error) { return starlark.String(v.name).Hash() }
func (v *ResultValue) AttrNames() []string   { return []string{"name", "points", "server"} }

// StepKey lets a sweep result be an argument of a later step (by name).
func (v *ResultValue) StepKey() string { return "SweepResult(" + v.name + ")" }

func (v *ResultValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(v.name), nil
	case "points":
		return v.points, nil
	case "server":
		return v.server, nil
	}
	return nil, nil
}
