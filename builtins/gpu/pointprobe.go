package gpu

import (
	"context"
	"fmt"
	"os"

	"starlab/builtins/server"
	"starlab/builtins/sim"
	"starlab/runtime"
)

// PointProbe returns the hook that starts a GPU probe for one sweep point
// against h, or nil when the server's GPUs cannot be sampled (an external
// server, vLLM without NVML); the reason is logged once per run.
//
//   - vs != nil (a --virtual point): a virtual probe over vs.GPUStates,
//     sampled when the driver calls Tick and Mark.
//   - backend "sim" on the wall clock: a wall probe over the in-process
//     simulator (h.SimGPUs, read when the hook is called, after the server
//     is ensured).
//   - backend "vllm" with NVML: a wall probe over the run's real library,
//     restricted to the server's GPUs (h.Devices through CUDA_VISIBLE_DEVICES).
//
// The returned function never gives (nil, nil). Finish's JSON is a Point:
//
//	{"start": RFC3339, "end": RFC3339,
//	 "devices": [Summary{"device": {"index","name","uuid","memory_total_bytes"},
//	             "start","end","samples","error_count","errors"?,"lost",
//	             "mean_gpu_util_pct","max_gpu_util_pct","mean_memory_util_pct","max_memory_util_pct",
//	             "max_memory_used_bytes","mean_power_w","max_power_w","max_temperature_c",
//	             "mean_sm_clock_mhz","energy_j","energy_source"?}],
//	 "energy_j", "mean_power_w", "energy_note"?, "output_tokens", "joules_per_output_token"}
//
// Readings a device lacks are null, never 0; "?" marks keys left out when empty.
func PointProbe(r *runtime.Run, h *server.Handle, vs *sim.VirtualServer) func(ctx context.Context) (*Probe, error) {
	st := stateOf(r)
	info := h.Info()
	switch {
	case vs != nil:
		return func(context.Context) (*Probe, error) {
			return NewVirtualProbe(OpenSimVirtual(vs.GPUStates, vs.Now), nil)
		}
	case info.Virtual || h.Virtual():
		st.logOnce("gpu: server %s is virtual but its sweep gave no simulator; its GPUs are not sampled", info.Name)
		return nil
	case info.Backend == server.BackendSim:
		return func(ctx context.Context) (*Probe, error) {
			read := h.SimGPUs()
			if read == nil {
				return nil, fmt.Errorf("gpu: server %s is not running, its simulated GPUs cannot be sampled", info.Name)
			}
			p, now := OpenSimWall(read)
			return StartWallProbe(ctx, p, Config{Now: now, EnergyInterval: DefaultInterval}, true)
		}
	case info.Backend == server.BackendExternal:
		st.logOnce("gpu: server %s is external; its GPUs are not sampled (sweeps carry gpu=None)", info.Name)
		return nil
	}
	if p, _, _ := st.real(); p == nil {
		return nil // the run's Opener has logged why, once
	}
	devices, reason := realDevices(st, h)
	if devices == nil {
		st.logOnce("gpu: server %s: %s; sweeps carry gpu=None", info.Name, reason)
		return nil
	}
	p, _, _ := st.real()
	return func(ctx context.Context) (*Probe, error) {
		return StartWallProbe(ctx, p, Config{Devices: devices}, false)
	}
}

// realDevices are the NVML indices of a vLLM server's GPUs, or nil and why
// they cannot be sampled.
func realDevices(st *runGPUs, h *server.Handle) ([]int, string) {
	p, inv, reason := st.real()
	if p == nil {
		return nil, reason
	}
	held := h.Devices()
	if len(held) == 0 {
		return nil, "the GPUs it runs on are unknown"
	}
	idx, err := NVMLIndices(held, os.Getenv("CUDA_VISIBLE_DEVICES"), inv.Devices)
	if err != nil {
		return nil, err.Error()
	}
	return idx, ""
}
