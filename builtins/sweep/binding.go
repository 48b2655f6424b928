package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"starlab/builtins/gpu"
	"starlab/builtins/server"
	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name: "sweep",
		Signature: `sweep(server, rates=None, concurrency=None, duration="60s", num_requests=None, dataset=None,
      arrival="poisson", burstiness=1.0, warmup="5s", max_concurrency=None, endpoint="completions",
      slo=None, gpu_sample=True, stop_when=None, seed=None, name=None, repeats=1, trace=None,
      time_scale=1.0, ramp=None, clients=1, client_launcher=None, temperature=None, top_p=None,
      extra_body=None, sampling_seed=None)`,
		Doc: `Drives streaming load at each level and returns a SweepResult (.name .points .server).

Exactly one of rates (open loop, requests/s: arrival "poisson", "gamma" with burstiness, or
"constant"), concurrency (closed loop: N workers back to back), trace or ramp. Each point sends for warmup +
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
(after each point) and sweeps/<name>.requests.jsonl (as requests finish).

trace = dataset(kind="trace", ...) replays the trace: each row is sent at its trace time divided
by time_scale (2.0 replays twice as fast; a list of scales gives one point per scale), on the
same absolute schedule as rates (send lag reported), with the row's lengths. The window is warmup
+ duration when duration is given, else the whole trace (to just after its last row); points
carry trace {path, format, time_scale, rows, skipped, span_s} and request_rate is the rate the
trace offered in the window. Used as dataset= with rates or concurrency, a trace gives only its
requests, in order.

ramp = ramp(kind, start, end, over) sends one point whose rate moves from start to end over
over after warmup (warmup itself at the start rate), drawn with the arrival and burstiness
given; the point's slices cut the ramp into equal time slices with their own rate, throughput,
latency and delivered figures, and find_knee reads a ramp's slices as points. duration does not
apply.

temperature, top_p and sampling_seed (vLLM's seed) are sent in every request when given;
extra_body = {"field": value, ...} adds any other fields (not ones the sweep writes itself:
model, prompt, messages, max_tokens, stream, stream_options, ignore_eos, min_tokens, temperature,
top_p, seed). They are part of the step key: changing them measures anew. In virtual time they
do not change the simulated server.

repeats = N measures every load N times: N rounds, each visiting every load once in an order
drawn from the seed, so drift over the run (a warming GPU, filling caches) falls on all loads
alike instead of posing as an effect of the load. Each (load, repeat) is a journaled step of its
own (--resume skips measured repeats), and its requests carry "repeat" in the requests file. The
result still has one point per load, in the order given: counts (completed, failed, incomplete,
errors, total_*_tokens, client sent and dropped, preemptions, GPU energy) and duration are sums
over the repeats; throughputs, latencies, delivered and power are means (maxima are maxima); ci
is the Student t interval across the
repeats, which also holds the drift and server state a single window cannot see. stopped_early
if any repeat stopped early; steady_state is ok only if every repeat's is; checks name their
repeat; repeats holds each repeat's own point.

clients = N sends each point from N load-generator processes (starlab sweep-worker) instead of
one: the schedule is drawn from the seed as for one process and request i goes to worker i mod N
at its intended time (closed loop: the concurrency, and num_requests, split as evenly as
possible, each worker's loops taking every Nth request index). Workers stream every request back
and the point is computed from those records by the same code, so counts and histograms merge
exactly; client.workers gives each worker's send lag, and client.bottleneck is set if any worker
was the bottleneck. max_concurrency bounds each worker's share (max_concurrency/N, at least 1).
A worker that exits or falls silent mid-point fails its requests in flight with
"client_worker_died" and the point is kept; all workers are killed when the point ends or the
run is cancelled. In virtual time the client is not modelled and clients only appears as
client.clients. client_launcher = None starts the workers on this machine.

client_launcher = slurm(...) runs each worker as a Slurm job step, "srun --ntasks=1 --nodes=1
--export=ALL starlab sweep-worker", with the launcher's partition, account, qos, time,
constraint, cpus_per_task and mem (nodes, gpus_per_node, setup and sbatch_args are for servers'
batch jobs), its env added to this process's environment, and the name
starlab-<run>-<sweep>-client-w<N>. srun carries the worker's stdin and stdout; starlab's
executable must be at the same path on the nodes (a shared file system). Outside an allocation
each worker is a job of its own; inside one (starlab run under salloc or sbatch) it is a step of
that job, which then gives it its resources (partition, account and qos are left out). A worker
whose resources are not granted within a minute (srun --immediate) fails to start, which is the
point's error. When a point ends, fails or is cancelled, each srun gets SIGTERM, which cancels its
step, and whatever is still queued under the worker's name is cancelled. Only clients > 1 on the
wall clock starts workers: in virtual time nothing is submitted.`,
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
	repeats     int
	endpoint    Endpoint
	metrics     *MetricsMemo  // the sweep's knowledge of its server's /metrics
	clientSlurm *server.Slurm // client_launcher: the workers as Slurm job steps (nil: this machine)
	timeScales  []float64     // trace replays, one point each
}

func sweepBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackSweep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	r := runtime.FromThread(thread)
	if a.seed == 0 {
		a.seed = r.Seed
	}
	sweeps := runtime.State(r, sweepsKey{}, func() *sweepRegistry { return &sweepRegistry{byName: map[string]*namedSweep{}} })
	rec, err := sweeps.claim(a.name, a.server)
	if err != nil {
		return nil, paramerr.Wrap("name", err)
	}
	a.name, a.metrics = rec.name, &rec.metrics
	ds, err := a.dataset.materialize(r.DeriveSeed("dataset/" + a.dataset.StepKey()))
	if err != nil {
		return nil, err
	}
	a.opts.Dataset = ds
	a.opts.Logger = r.Log.With().Str("sweep", a.name).Logger()
	a.opts.Progress = ProgressOptions{Out: os.Stderr}
	a.opts.Key = pointKeyBase(a, args, kwargs)
	a.opts.Seed = a.seed
	a.opts.Confidence = r.Level()
	if a.clientSlurm != nil && a.opts.Clients > 1 {
		l, err := newSlurmWorkers(a.clientSlurm, filepath.Base(r.Dir), a.name)
		if err != nil {
			return nil, err
		}
		l.log = a.opts.Logger
		a.opts.WorkerCommand, a.opts.WorkerStop = l.command, l.stop
	}

	c := Config{Name: a.name, Rates: a.rates, Concurrency: a.concurrency, TimeScales: a.timeScales, Ramp: a.opts.Ramp != nil,
		Options: a.opts, Previous: rec.points, Repeats: a.repeats}
	if r.Mode != runtime.Replay {
		w, err := NewWriter(filepath.Join(r.Dir, "sweeps"), a.name)
		if err != nil {
			return nil, err
		}
		defer w.Close()
		c.Writer = w
	}
	plans := map[int]PointPlan{}
	measure := func(ctx context.Context, o Options, s PointSpec) (Point, error) {
		if _, seen := plans[s.Index]; !seen {
			plans[s.Index] = PointPlan{Options: o, Spec: s}
		}
		var measured Point
		var ran bool
		p, err := runtime.KeyedStep(thread, b.Name(), fmt.Sprintf("%s, point=%d:%s", o.Key, s.Index, s), func(ctx context.Context) (Point, error) {
			o.Logger.Info().Str("point", s.String()).Msg("sweep: measuring point")
			p, err := measurePoint(ctx, r, a, o, s)
			measured, ran = p, true
			if c.Writer != nil {
				// The point's requests reach the requests file before the point is journaled:
				// one that cannot be written (a full disk) is measured again on --resume.
				if werr := c.Writer.CommitPoint(); werr != nil && err == nil {
					return p, werr
				}
			}
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
		for i := len(rec.plans); i < len(res.Points); i++ {
			rec.plans = append(rec.plans, plans[i])
		}
		// A decision rule given a point's figure finds its interval.
		NotePointEstimates(r, a.name, res.Points)
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
		return nil, fmt.Errorf("%s: %w (the points measured so far are in sweeps/%s.json)", a.name, err, a.name)
	}
	return resultValue(a.name, res.Points, a.serverValue).WithState(&ResultState{Server: a.server, Points: res.Points,
		Plans: append([]PointPlan(nil), rec.plans...)}), nil
}

// PointPlan is how a point was measured: its options (dataset, seed and key included, so the same
// requests can be sent again, e.g. to a calibrated twin) and its load.
type PointPlan struct {
	Options Options
	Spec    PointSpec
}

// ResultState is the Go side of a SweepResult, for builtins that take one back (calibrate).
// Plans[i] is the plan of Points[i].
type ResultState struct {
	Server *server.Handle
	Points []Point
	Plans  []PointPlan
}

// ResultStateOf returns the state behind a SweepResult value.
func ResultStateOf(v starlark.Value) (*ResultState, bool) {
	return runtime.StateOf[*ResultState](v, "SweepResult")
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
		p, took, err := RunVirtualPointTimed(ctx, vs, o, s)
		// On a real server the point takes what its simulation did: warmup, window and drain.
		r.NoteRealTime("load points", took)
		// The simulator stands in for the engine the plan asked for (pointschema.Point.Engine).
		info := h.Info()
		p.Engine, p.EngineVersion, p.Server, p.Calibration = info.Backend, "simulated", info.Name, info.Calibration
		return p, err
	}
	url, err := h.Ensure(ctx)
	if err != nil {
		return Point{}, err
	}
	if a.gpu {
		o.GPU = gpuHook(gpu.PointProbe(r, h, nil))
	}
	info := h.Info()
	p, err := RunPoint(ctx, Target{URL: url, Model: info.Model, Endpoint: a.endpoint, MetricsMemo: a.metrics,
		Series: metricSeries(info.Backend)}, o, s)
	p.Engine, p.EngineVersion, p.Server, p.Calibration = info.Backend, info.EngineVersion, info.Name, info.Calibration
	if err != nil {
		return p, err
	}
	if dead := h.Alive(); dead != nil {
		return p, &PartialError{Err: dead}
	}
	if onlyConnectionErrors(p) && ctx.Err() == nil {
		// Requests that could not even connect: ask the server itself before the next point is
		// sent into the void (an external server has no process to watch).
		if err := h.Reachable(ctx); err != nil && ctx.Err() == nil {
			return p, &PartialError{Err: fmt.Errorf("server %s at %s is gone: at %s, %d of %d requests failed to connect (%s), and %v; the point is kept, the sweep stops; --resume measures the rest once the server is back",
				info.Name, url, s, p.Failed, p.Client.Sent, errorList(p.Errors), err)}
		}
	}
	return p, nil
}

// onlyConnectionErrors is a point whose failures are all connections refused or cut.
func onlyConnectionErrors(p Point) bool {
	if p.Failed == 0 {
		return false
	}
	for reason, n := range p.Errors {
		if n > 0 && reason != "connection_refused" && reason != "connection_closed" {
			return false
		}
	}
	return true
}

// errorList renders a point's errors by reason, sorted: "connection_refused 8".
func errorList(errs map[string]int) string {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, errs[k])
	}
	return strings.Join(parts, ", ")
}

// metricSeries are the engine's Prometheus names from its adapter; an external server, whose
// engine is not known, is read under every engine's names.
func metricSeries(engine string) MetricSeries {
	names := []string{engine}
	if engine == server.EngineExternal {
		names = server.EngineNames()
	}
	var s MetricSeries
	for _, e := range names {
		m := server.EngineMetrics(e)
		s.Running = appendName(s.Running, m.Running)
		s.Waiting = appendName(s.Waiting, m.Waiting)
		s.KVUsage = appendName(s.KVUsage, m.KVUsage...)
		s.Preemptions = appendName(s.Preemptions, m.Preemptions)
	}
	return s
}

// appendName appends the non-empty names not already in list.
func appendName(list []string, names ...string) []string {
	for _, n := range names {
		if n != "" && !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	return list
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
		"warmup", "max_concurrency", "endpoint", "slo", "gpu_sample", "stop_when", "seed", "name", "repeats",
		"trace", "time_scale", "ramp", "clients", "client_launcher", "temperature", "top_p", "extra_body", "sampling_seed"}
	// repeats=1 is left out, so that the keys of sweeps without repeats stay what they were; how
	// many processes send the load is left out, since it sends the same schedule; time_scale,
	// like rates, is each point's own.
	skip := func(p string) bool {
		return p == "rates" || p == "concurrency" || p == "name" || (p == "repeats" && a.repeats == 1) ||
			p == "clients" || p == "client_launcher" || p == "time_scale" || p == "trace"
	}
	var kept []starlark.Tuple
	for i, v := range args {
		if i < len(params) && !skip(params[i]) {
			kept = append(kept, starlark.Tuple{starlark.String(params[i]), v})
		}
	}
	for _, kv := range kwargs {
		if !skip(string(kv[0].(starlark.String))) {
			kept = append(kept, kv)
		}
	}
	if a.dataset != nil {
		kept = append(kept, starlark.Tuple{starlark.String("dataset"), a.dataset.value()})
	}
	if a.opts.Trace != nil {
		kept = append(kept, starlark.Tuple{starlark.String("trace"), a.dataset.value()})
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
type sweepRegistry struct{ byName map[string]*namedSweep }

type namedSweep struct {
	name      string
	serverKey string
	points    []Point
	plans     []PointPlan // how each point was measured
	// metrics remembers across the sweep's points (and its later calls) that the server has no
	// /metrics, so that only its first point probes.
	metrics MetricsMemo
}

func (reg *sweepRegistry) claim(name string, srv *server.Handle) (*namedSweep, error) {
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
	rec := &namedSweep{name: name, serverKey: srv.Key}
	reg.byName[name] = rec
	return rec, nil
}

func unpackSweep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*sweepArgs, error) {
	var srv, ds, stopWhen starlark.Value = starlark.None, starlark.None, starlark.None
	var rates, conc runtime.Opt[runtime.Floats]
	var numReq, maxConc, seed runtime.Opt[int]
	var slo runtime.Opt[runtime.FloatMap]
	var name runtime.Opt[string]
	var clientLauncher, trace, rampV, extraBody starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
	timeScale := scales{1}
	var temperature, topP runtime.Opt[float64]
	var samplingSeed runtime.Opt[int]
	repeats, clients := 1, 1
	duration, warmup := runtime.Duration(60*time.Second), runtime.Duration(5*time.Second)
	arrival, endpoint, burstiness, gpuSample := "poisson", "completions", 1.0, true
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "server", &srv, "rates?", &rates, "concurrency?", &conc,
		"duration?", &duration, "num_requests?", &numReq, "dataset?", &ds, "arrival?", &arrival,
		"burstiness?", &burstiness, "warmup?", &warmup, "max_concurrency?", &maxConc, "endpoint?", &endpoint,
		"slo?", &slo, "gpu_sample?", &gpuSample, "stop_when?", &stopWhen, "seed?", &seed, "name?", &name,
		"repeats?", &repeats, "trace?", &trace, "time_scale?", &timeScale, "ramp?", &rampV, "clients?", &clients,
		"client_launcher?", &clientLauncher, "temperature?", &temperature, "top_p?", &topP, "extra_body?", &extraBody,
		"sampling_seed?", &samplingSeed); err != nil {
		return nil, err
	}
	durationGiven := len(args) > 3 // server, rates, concurrency, duration
	for _, kv := range kwargs {
		if k, _ := starlark.AsString(kv[0]); k == "duration" {
			durationGiven = true
		}
	}
	a := &sweepArgs{serverValue: srv, gpu: gpuSample, name: name.V, repeats: repeats}
	if repeats < 1 {
		return nil, paramerr.New("repeats", "want a whole number of measurements per load >= 1, got %d", repeats)
	}
	if clients < 1 {
		return nil, paramerr.New("clients", "want a whole number of load-generator processes >= 1, got %d", clients)
	}
	if clientLauncher != starlark.None {
		var ok bool
		if a.clientSlurm, ok = runtime.StateOf[*server.Slurm](clientLauncher, "Launcher"); !ok {
			return nil, paramerr.New("client_launcher", "got %s, want a Launcher (from slurm()) or None (worker processes on this machine)", clientLauncher.Type())
		}
	}
	a.opts.Clients = clients
	var ok bool
	if a.server, ok = server.HandleOf(srv); !ok {
		return nil, paramerr.New("server", "got %s, want Server (from start_vllm)", srv.Type())
	}
	loads := 0
	for _, set := range []bool{rates.Set, conc.Set, trace != starlark.None, rampV != starlark.None} {
		if set {
			loads++
		}
	}
	switch {
	case loads != 1:
		return nil, paramerr.New("rates", "give exactly one of rates (open loop), concurrency (closed loop), trace (a replay) or ramp")
	case trace != starlark.None:
		d, ok := runtime.StateOf[*DatasetValue](trace, "Dataset")
		if !ok || d.TraceSpec() == nil {
			return nil, paramerr.New("trace", "got %s, want a Dataset of kind \"trace\"", trace.Type())
		}
		if ds != starlark.None {
			return nil, paramerr.New("dataset", "a trace replay sends the trace's own requests; leave dataset out")
		}
		ds = trace
		a.opts.Trace = d.TraceSpec()
		if len(timeScale) == 0 {
			return nil, paramerr.New("time_scale", "want at least one scale")
		}
		a.timeScales = timeScale
		for i, f := range a.timeScales {
			if !(f > 0) || math.IsInf(f, 1) {
				return nil, paramerr.New("time_scale", "element %d: want a finite speed-up above 0, got %v", i, f)
			}
		}
		if !durationGiven {
			duration = 0 // to the trace's end
		}
	case rampV != starlark.None:
		rp, ok := runtime.StateOf[*Ramp](rampV, "Ramp")
		if !ok {
			return nil, paramerr.New("ramp", "got %s, want a Ramp (from ramp())", rampV.Type())
		}
		if durationGiven || numReq.Set {
			return nil, paramerr.New("duration", "a ramp lasts its own over=; leave duration and num_requests out")
		}
		r := *rp
		a.opts.Ramp = &r
	case rates.Set:
		if len(rates.V) == 0 {
			return nil, paramerr.New("rates", "want at least one rate")
		}
		for i, f := range rates.V {
			if !(f > 0) {
				return nil, paramerr.New("rates", "element %d: want a rate above 0 (requests/s), got %v", i, f)
			}
		}
		a.rates = rates.V
	default:
		if len(conc.V) == 0 {
			return nil, paramerr.New("concurrency", "want at least one level")
		}
		for i, f := range conc.V {
			if f < 1 || f != math.Trunc(f) {
				return nil, paramerr.New("concurrency", "element %d: want a whole number of workers >= 1, got %v", i, f)
			}
			a.concurrency = append(a.concurrency, int(f))
		}
	}
	if (len(timeScale) != 1 || timeScale[0] != 1) && trace == starlark.None {
		return nil, paramerr.New("time_scale", "is for trace= replays")
	}
	o := &a.opts
	o.Duration, o.Warmup, o.NumRequests, o.MaxConcurrency, o.Burstiness = duration.Std(), warmup.Std(), numReq.V, maxConc.V, burstiness
	if numReq.Set && numReq.V < 1 {
		return nil, paramerr.New("num_requests", "want a positive int or None, got %d", numReq.V)
	}
	if o.NumRequests == 0 && o.Duration <= 0 && (trace == starlark.None || durationGiven) && rampV == starlark.None {
		return nil, paramerr.New("duration", "want a duration above 0 (or give num_requests)")
	}
	if temperature.Set || topP.Set || samplingSeed.Set || extraBody != starlark.None {
		sp := &Sampling{}
		if temperature.Set {
			sp.Temperature = &temperature.V
		}
		if topP.Set {
			sp.TopP = &topP.V
		}
		if samplingSeed.Set {
			seed := int64(samplingSeed.V)
			sp.Seed = &seed
		}
		if extraBody != starlark.None {
			dict, ok := extraBody.(*starlark.Dict)
			if !ok {
				return nil, paramerr.New("extra_body", "got %s, want a dict of request fields", extraBody.Type())
			}
			sp.ExtraBody = map[string]json.RawMessage{}
			for _, kv := range dict.Items() {
				k, ok := starlark.AsString(kv[0])
				if !ok {
					return nil, paramerr.New("extra_body", "keys must be strings, got %s", kv[0].Type())
				}
				raw, err := plainJSON(kv[1])
				if err != nil {
					return nil, paramerr.New("extra_body", "%q: %v", k, err)
				}
				sp.ExtraBody[k] = raw
			}
		}
		if err := sp.Validate(); err != nil {
			param := "extra_body"
			for _, p := range []string{"temperature", "top_p"} {
				if strings.HasPrefix(err.Error(), p) {
					param = p
				}
			}
			return nil, paramerr.New(param, "%v", err)
		}
		o.Sampling = sp
	}
	switch o.Arrival = Arrival(arrival); o.Arrival {
	case ArrivalPoisson, ArrivalGamma, ArrivalConstant:
	default:
		return nil, paramerr.New("arrival", "want \"poisson\", \"gamma\" or \"constant\", got %q", arrival)
	}
	if !(burstiness > 0) {
		return nil, paramerr.New("burstiness", "want a number above 0, got %v", burstiness)
	}
	if maxConc.Set && maxConc.V < 1 {
		return nil, paramerr.New("max_concurrency", "want a positive int or None, got %d", maxConc.V)
	}
	switch a.endpoint = Endpoint(endpoint); a.endpoint {
	case EndpointCompletions, EndpointChat:
	default:
		return nil, paramerr.New("endpoint", "want \"completions\" or \"chat\", got %q", endpoint)
	}
	if slo.Set {
		if err := ValidateSLO(slo.V); err != nil {
			return nil, paramerr.Wrap("slo", err)
		}
		o.SLO = slo.V
	}
	sw, err := unpackStopWhen(stopWhen)
	if err != nil {
		return nil, paramerr.Wrap("stop_when", err)
	}
	o.StopWhen = sw
	if seed.Set {
		a.seed = runtime.DeriveSeed(uint64(seed.V), "sweep")
	}
	if name.Set {
		// The name becomes sweeps/NAME.json and sweeps/NAME.requests.jsonl.
		if err := runtime.CheckFileName(name.V); err != nil {
			return nil, paramerr.Wrap("name", err)
		}
	}
	if ds == starlark.None {
		a.dataset = &DatasetValue{Kind: "random", InputLen: 512, OutputLen: 128}
	} else if a.dataset, ok = runtime.StateOf[*DatasetValue](ds, "Dataset"); !ok {
		return nil, paramerr.New("dataset", "got %s, want Dataset (from dataset())", ds.Type())
	}
	return a, nil
}

// scales unpacks time_scale: one number or a list of them.
type scales runtime.Floats

func (s *scales) Unpack(v starlark.Value) error {
	if f, ok := starlark.AsFloat(v); ok {
		*s = scales{f}
		return nil
	}
	return (*runtime.Floats)(s).Unpack(v)
}

// plainJSON is a Starlark value as the JSON a server reads: None, bools, numbers, strings, and
// lists and dicts of them.
func plainJSON(v starlark.Value) (json.RawMessage, error) {
	var conv func(v starlark.Value, depth int) (any, error)
	conv = func(v starlark.Value, depth int) (any, error) {
		if depth > 32 {
			return nil, fmt.Errorf("nested too deep")
		}
		switch x := v.(type) {
		case starlark.NoneType:
			return nil, nil
		case starlark.Bool:
			return bool(x), nil
		case starlark.String:
			return string(x), nil
		case starlark.Int:
			return json.Number(x.String()), nil
		case starlark.Float:
			if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
				return nil, fmt.Errorf("%v has no JSON form", x)
			}
			return float64(x), nil
		case starlark.Indexable: // lists and tuples
			out := make([]any, x.Len())
			for i := range out {
				e, err := conv(x.Index(i), depth+1)
				if err != nil {
					return nil, err
				}
				out[i] = e
			}
			return out, nil
		case *starlark.Dict:
			out := map[string]any{}
			for _, kv := range x.Items() {
				k, ok := starlark.AsString(kv[0])
				if !ok {
					return nil, fmt.Errorf("dict keys must be strings, got %s", kv[0].Type())
				}
				e, err := conv(kv[1], depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = e
			}
			return out, nil
		}
		return nil, fmt.Errorf("%s has no JSON form", v.Type())
	}
	x, err := conv(v, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(x)
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

// resultValue is a SweepResult: the sweep's name, its points as dicts with vLLM bench's field
// names, and the server it measured. It is keyed by name as an argument of later steps.
func resultValue(name string, points []Point, srv starlark.Value) *runtime.Object {
	list := make([]starlark.Value, len(points))
	for i, p := range points {
		list[i] = pointDict(p)
	}
	return runtime.NewObject("SweepResult", starlark.StringDict{
		"name":   starlark.String(name),
		"points": starlark.NewList(list),
		"server": srv,
	}).WithKey(func() string { return "SweepResult(" + name + ")" }).
		WithString(func() string { return fmt.Sprintf("<SweepResult %s, %d points>", name, len(points)) })
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
