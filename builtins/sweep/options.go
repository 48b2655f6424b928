package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os/exec"
	"time"

	"github.com/rs/zerolog"

	"starlab/stats"
)

// FullPolicy is what an open-loop send does when max_concurrency requests are in flight.
type FullPolicy string

const (
	// FullWait (default, vLLM bench) waits for a slot; the delay shows as send lag.
	FullWait FullPolicy = "wait"
	// FullDrop skips the send and counts it in client.dropped.
	FullDrop FullPolicy = "drop"
)

// GPUProbe samples the GPUs of the server under load during one point. The driver marks the
// start and the end of the measured window (Mark, twice) so the summary, and the energy per
// output token, cover exactly the requests the metrics count. Wall-clock probes sample in the
// background; in virtual time the driver calls Tick on its sampling cadence and Mark when its clock
// is at the boundary, with virtual times mapped onto VirtualEpoch.
type GPUProbe interface {
	Tick(at time.Time)
	Mark(at time.Time)
	// Finish ends sampling and returns the summary stored verbatim in Point.GPU.
	Finish(outputTokens int) (json.RawMessage, error)
}

// GPUHook starts a probe for one point; a nil hook leaves gpu out.
type GPUHook func(ctx context.Context) (GPUProbe, error)

// VirtualEpoch is the time.Time of virtual time zero for GPU probes.
var VirtualEpoch = time.Unix(0, 0).UTC()

// PointSpec is one load level: an open-loop Rate (requests/s, may be +Inf), a closed-loop
// Concurrency (workers), a trace replayed at TimeScale (Options.Trace) or the ramp of
// Options.Ramp; exactly one.
type PointSpec struct {
	Index       int     // position in the sweep
	Rate        float64 // > 0 for open loop
	Concurrency int     // > 0 for closed loop
	TimeScale   float64 // > 0: replay Options.Trace this many times faster
	Ramp        bool    // the ramp of Options.Ramp
}

func (s PointSpec) String() string {
	switch {
	case s.Concurrency > 0:
		return fmt.Sprintf("concurrency=%d", s.Concurrency)
	case s.TimeScale > 0:
		return fmt.Sprintf("time_scale=%g", s.TimeScale)
	case s.Ramp:
		return "ramp"
	}
	return fmt.Sprintf("rate=%g", s.Rate)
}

// loads counts the kinds of load the spec names.
func (s PointSpec) loads() int {
	n := 0
	for _, set := range []bool{s.Rate > 0, s.Concurrency > 0, s.TimeScale > 0, s.Ramp} {
		if set {
			n++
		}
	}
	return n
}

// Options are the per-point settings shared by HTTP and virtual runs.
type Options struct {
	Duration    time.Duration // measured send window after warmup; ignored when NumRequests > 0; 0 with a trace: to its end
	NumRequests int           // measured requests (sent after warmup); 0 = use Duration
	Warmup      time.Duration // sends before this are excluded from every metric
	Dataset     *Dataset      // required
	// Trace is the trace a TimeScale point replays: its rows' times are the schedule and its
	// rows the requests (Dataset is then the same trace).
	Trace *TraceSpec
	// Ramp is the rate ramp of a Ramp point.
	Ramp *Ramp
	// Sampling adds sampling parameters and extra fields to every request body.
	Sampling   *Sampling
	Arrival    Arrival // open loop; default poisson
	Burstiness float64 // gamma shape; default 1
	// MaxConcurrency bounds in-flight requests in open loop (0 = unbounded); OnFull decides.
	MaxConcurrency int
	OnFull         FullPolicy
	SLO            map[string]float64 // "ttft"|"tpot"|"e2el" → ms; enables request_goodput
	StopWhen       *StopWhen          // nil: never stop early
	Seed           uint64
	Key            string // step key; schedules derive from Seed+Key+point index
	// Confidence is the level of the point's intervals (0 means 0.95); bootstrap seeds derive
	// from Seed, Key and the point, like schedules.
	Confidence   float64
	Timeout      time.Duration // per request, default 10m
	Grace        time.Duration // wait for in-flight requests after the send window, default 30s
	LagTolerance time.Duration // p99 send-lag limit for client.bottleneck; 0 = LagTolerance(rate)
	AllowEOS     bool          // false (default): send ignore_eos=true and min_tokens=max_tokens
	GPU          GPUHook
	// Clients > 1 splits an HTTP point's schedule across that many worker processes
	// (workers.go); 0 and 1 send from this process. Virtual time only records it on the point.
	Clients int
	// WorkerCommand makes worker w's process (nil: this executable's sweep-worker subcommand on
	// this machine); the command must speak the worker protocol on its stdin and stdout.
	WorkerCommand func(worker int) (*exec.Cmd, error)
	// WorkerStop ends worker w's started process and waits for it (cmd.Wait), leaving nothing it
	// started behind (nil: SIGKILL to its process group). A Slurm step needs more than SIGKILL.
	WorkerStop func(worker int, cmd *exec.Cmd)
	// OnRecord sees every finished request (warmup included, Warmup set) after aggregation; it
	// must not keep Chunks (already nil). Called from many goroutines in HTTP runs.
	OnRecord func(spec PointSpec, r *RequestRecord)
	Logger   zerolog.Logger
	Progress ProgressOptions
}

func (o *Options) validate(spec PointSpec) error {
	if o.Dataset == nil {
		return fmt.Errorf("dataset is required")
	}
	if spec.loads() != 1 {
		return fmt.Errorf("point %d: want exactly one of rate > 0, concurrency > 0, a trace's time_scale or a ramp", spec.Index)
	}
	if math.IsNaN(spec.Rate) {
		return fmt.Errorf("rate is NaN")
	}
	if spec.TimeScale > 0 && o.Trace == nil {
		return fmt.Errorf("point %d: a time_scale needs a trace", spec.Index)
	}
	if spec.Ramp {
		if o.Ramp == nil {
			return fmt.Errorf("point %d: a ramp point needs a ramp", spec.Index)
		}
		if err := o.Ramp.Validate(); err != nil {
			return err
		}
	}
	if o.NumRequests <= 0 && o.Duration <= 0 && spec.TimeScale == 0 && !spec.Ramp {
		return fmt.Errorf("want duration > 0 or num_requests > 0")
	}
	if o.Dataset.conv != nil && o.MaxConcurrency > 0 {
		return fmt.Errorf("max_concurrency does not apply to conversations: concurrency= bounds the sessions in flight")
	}
	if o.Dataset.conv != nil && (spec.TimeScale > 0) {
		return fmt.Errorf("a trace replay sends the trace's own requests, not conversations")
	}
	if o.Confidence != 0 && !stats.ValidLevel(o.Confidence) {
		return fmt.Errorf("confidence %v: want a level between 0.5 and 1", o.Confidence)
	}
	if o.Warmup < 0 || o.MaxConcurrency < 0 {
		return fmt.Errorf("warmup and max_concurrency must be >= 0")
	}
	switch o.OnFull {
	case "", FullWait, FullDrop:
	default:
		return fmt.Errorf("on_full: got %q, want wait or drop", o.OnFull)
	}
	return ValidateSLO(o.SLO)
}

func (o Options) withDefaults() Options {
	if o.Arrival == "" {
		o.Arrival = ArrivalPoisson
	}
	if o.Burstiness == 0 {
		o.Burstiness = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if o.OnFull == "" {
		o.OnFull = FullWait
	}
	return o
}

// pointKey is the schedule's random-stream key: the step key plus the point, so every point of
// every step has its own, replayable arrivals.
func (o *Options) pointKey(spec PointSpec) string {
	return fmt.Sprintf("%s/point%d/%s", o.Key, spec.Index, spec)
}

// level is the confidence level of the point's intervals.
func (o *Options) level() float64 {
	if o.Confidence == 0 {
		return stats.DefaultLevel
	}
	return o.Confidence
}

// intervalSeed seeds the point's bootstrap: FNV of the point's key mixed with the sweep seed, so
// a rerun draws the same resamples and no two points share them.
func (o *Options) intervalSeed(spec PointSpec) uint64 {
	h := fnv.New64a()
	h.Write([]byte(o.pointKey(spec) + "/intervals"))
	return splitmix(o.Seed ^ splitmix(h.Sum64()))
}

// splitmix is SplitMix64's finaliser: nearby inputs give unrelated outputs.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// newPoint fills the identifying fields.
func (o *Options) newPoint(spec PointSpec) Point {
	p := Point{RequestRate: Float(spec.Rate), MaxConcurrency: o.MaxConcurrency, Arrival: string(o.Arrival),
		Burstiness: Float(o.Burstiness)}
	if o.Clients > 1 {
		p.Client.Clients = o.Clients
	}
	switch {
	case spec.Concurrency > 0:
		p.RequestRate, p.MaxConcurrency, p.Arrival = Float(math.Inf(1)), spec.Concurrency, "closed"
	case spec.TimeScale > 0:
		p.Arrival, p.Burstiness = "trace", Float(math.NaN())
	case spec.Ramp:
		info := o.Ramp.Info()
		p.Arrival, p.Ramp = "ramp", &info
		p.RequestRate = Float(o.Ramp.Expected(0, o.Ramp.Over) / o.Ramp.Over.Seconds())
	}
	return p
}

// finishPoint judges the client and logs a warning when it was the bottleneck.
func (o *Options) finishPoint(p *Point, spec PointSpec) {
	tol := o.LagTolerance
	if tol <= 0 {
		tol = LagTolerance(spec.Rate)
	}
	judgeClient(p, tol)
	if p.Client.Bottleneck {
		o.Logger.Warn().Str("point", spec.String()).Str("reason", p.Client.BottleneckReason).
			Msg("sweep: the load generator was the bottleneck; this point measures the client, not the server")
	}
}
