package gpu

import (
	"context"
	"fmt"
	"math"
	"time"

	"go.starlark.net/starlark"

	"starlab/builtins/server"
	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "nvml_sample",
		Signature: `nvml_sample(duration="10s", interval="100ms", gpus=None, server=None)`,
		Doc: `Samples GPU telemetry through NVML for a while, as a journaled step.

Without server it reads this machine's GPUs (gpus: NVML indices, None for all); with server (a
Server from start_vllm) it reads that server's GPUs (gpus: positions among them): the in-process
simulator of backend="sim", a fresh idle simulator in --virtual runs (sampled in virtual time,
without waiting), or the real devices of a vLLM server. Returns GpuSamples(.available .reason
.devices .samples .summaries .start .end): available is False with the reason when nothing can be
sampled (no driver, an external server, a --virtual run without server); samples hold one struct per
device and round (t = seconds since start, gpu_util_pct, memory_used_bytes, power_w, energy_mj,
temperature_c, sm_clock_mhz, processes, ...); summaries one per device (mean/max utilisation, max
memory, mean power, energy_j). A reading a device lacks is None, never 0.`,
		Fn: nvmlSample,
	})
}

// sampleArgs are nvml_sample's checked arguments.
type sampleArgs struct {
	duration, interval time.Duration
	gpus               []int // nil: all
	server             *server.Handle
}

func nvmlSample(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	duration, interval := runtime.Duration(10*time.Second), runtime.Duration(DefaultInterval)
	var gpus runtime.Opt[runtime.Floats]
	var srv starlark.Value = starlark.None
	if err := runtime.UnpackArgs(thread, b, args, kwargs,
		"duration?", &duration, "interval?", &interval, "gpus?", &gpus, "server?", &srv); err != nil {
		return nil, err
	}
	a, err := checkSample(duration.Std(), interval.Std(), gpus, srv)
	if err != nil {
		return nil, err
	}
	run := runtime.FromThread(thread)
	res, err := runtime.Step(thread, b, args, kwargs, func(ctx context.Context) (Result, error) {
		return sample(ctx, run, a)
	})
	if err != nil {
		return nil, err
	}
	return samplesValue(res), nil
}

func checkSample(duration, interval time.Duration, gpus runtime.Opt[runtime.Floats], srv starlark.Value) (sampleArgs, error) {
	a := sampleArgs{duration: duration, interval: interval}
	if a.duration <= 0 {
		return a, paramerr.New("duration", "got %v, want a positive duration", a.duration)
	}
	if a.interval <= 0 {
		return a, paramerr.New("interval", "got %v, want a positive duration", a.interval)
	}
	if a.interval > a.duration {
		return a, paramerr.New("interval", "%v is longer than duration %v", a.interval, a.duration)
	}
	if gpus.Set {
		a.gpus = []int{}
		for i, g := range gpus.V {
			if g < 0 || g != math.Trunc(g) {
				return a, paramerr.New("gpus", "element %d: got %v, want a GPU index", i, g)
			}
			a.gpus = append(a.gpus, int(g))
		}
	}
	if srv != starlark.None {
		h, ok := server.HandleOf(srv)
		if !ok {
			return a, paramerr.New("server", "got %s, want a Server from start_vllm", srv.Type())
		}
		a.server = h
	}
	return a, nil
}

// sample runs the measurement of one nvml_sample call.
func sample(ctx context.Context, run *runtime.Run, a sampleArgs) (Result, error) {
	cfg := Config{Interval: a.interval, Devices: a.gpus}
	if a.server == nil {
		if run.Virtual {
			return Unavailable("--virtual run: real GPUs are not sampled; pass server= to sample a simulated server's GPUs"), nil
		}
		p, _, reason := stateOf(run).real()
		if p == nil {
			return Unavailable(reason), nil
		}
		return Collect(ctx, p.Lib, cfg, a.duration)
	}
	h, info := a.server, a.server.Info()
	switch {
	case info.Virtual || h.Virtual():
		vs, err := h.NewVirtual(run.DeriveSeed("nvml_sample/" + info.Name))
		if err != nil {
			return Result{}, err
		}
		p := OpenSimVirtual(vs.GPUStates, vs.Now)
		defer p.Close()
		cfg.EnergyInterval = time.Nanosecond
		return CollectStepped(ctx, p.Lib, cfg, a.duration, vs.RunUntil)
	case info.Backend == server.BackendSim:
		if _, err := h.Ensure(ctx); err != nil {
			return Result{}, err
		}
		read := h.SimGPUs()
		if read == nil {
			return Result{}, fmt.Errorf("server %s is not running", info.Name)
		}
		p, now := OpenSimWall(read)
		defer p.Close()
		cfg.Now, cfg.EnergyInterval = now, a.interval
		return Collect(ctx, p.Lib, cfg, a.duration)
	case info.Backend == server.BackendExternal:
		return Unavailable(fmt.Sprintf("server %s is external: its GPUs cannot be sampled from here", info.Name)), nil
	}
	if _, err := h.Ensure(ctx); err != nil {
		return Result{}, err
	}
	devices, reason := realDevices(stateOf(run), h)
	if devices == nil {
		return Unavailable(fmt.Sprintf("server %s: %s", info.Name, reason)), nil
	}
	if a.gpus != nil {
		chosen := make([]int, len(a.gpus))
		for i, g := range a.gpus {
			if g >= len(devices) {
				return Result{}, paramerr.New("gpus", "server %s has %d GPUs, got index %d", info.Name, len(devices), g)
			}
			chosen[i] = devices[g]
		}
		devices = chosen
	}
	p, _, _ := stateOf(run).real()
	cfg.Devices = devices
	return Collect(ctx, p.Lib, cfg, a.duration)
}
