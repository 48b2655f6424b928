package gpu

import (
	"fmt"
	"math"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// SimGPUState is one simulated GPU at the moment it is read. The simulator
// exports a slice of these (index = device index); zero flags mean a fully
// featured card.
type SimGPUState struct {
	Name              string
	UUID              string  // empty: "GPU-sim-<index>"
	MemoryTotal       uint64  // bytes
	MemoryUsed        uint64  // bytes
	Utilization       float64 // 0..1, fraction of time kernels ran
	MemoryUtilization float64 // 0..1, fraction of time memory was busy
	PowerWatts        float64
	EnergyMilliJoules uint64 // monotonic counter, as NVML's since driver load
	TemperatureC      int
	SMClockMHz        int
	Processes         []SimProcess

	NoPower         bool // the card reports neither power nor energy
	NoEnergyCounter bool // power only; energy must be integrated
	Lost            bool // the card has fallen off the bus
}

// SimProcess is a compute process holding memory on a simulated GPU.
type SimProcess struct {
	PID        uint32
	UsedMemory uint64 // bytes
}

// Versions reported by the simulated library, so a manifest shows plainly
// that no real driver was involved.
const (
	SimDriverVersion = "starlab-sim"
	SimNVMLVersion   = "starlab-sim"
)

// NewSimInterface builds an nvml.Interface out of go-nvml's mock types whose
// every reading comes from state(), called afresh on each NVML call so the
// telemetry follows the simulator. A device index beyond len(state()) or
// with Lost set answers ERROR_GPU_IS_LOST, like a card gone from the bus.
// The CUDA driver version is reported as not supported.
func NewSimInterface(state func() []SimGPUState) *mock.Interface {
	var mu sync.Mutex
	devices := map[int]*mock.Device{}
	handle := func(i int) nvml.Device {
		mu.Lock()
		defer mu.Unlock()
		if d, ok := devices[i]; ok {
			return d
		}
		d := newSimDevice(i, state)
		devices[i] = d
		return d
	}
	return &mock.Interface{
		InitFunc:     func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc: func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) {
			return len(state()), nvml.SUCCESS
		},
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i < 0 || i >= len(state()) {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			return handle(i), nvml.SUCCESS
		},
		SystemGetDriverVersionFunc:     func() (string, nvml.Return) { return SimDriverVersion, nvml.SUCCESS },
		SystemGetNVMLVersionFunc:       func() (string, nvml.Return) { return SimNVMLVersion, nvml.SUCCESS },
		SystemGetCudaDriverVersionFunc: func() (int, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED },
	}
}

// newSimDevice is device i of the simulated library.
func newSimDevice(i int, state func() []SimGPUState) *mock.Device {
	// get returns the device's current state, or false if it is gone.
	get := func() (SimGPUState, bool) {
		all := state()
		if i >= len(all) || all[i].Lost {
			return SimGPUState{}, false
		}
		return all[i], true
	}
	lost := nvml.ERROR_GPU_IS_LOST
	return &mock.Device{
		GetNameFunc: func() (string, nvml.Return) {
			g, ok := get()
			if !ok {
				return "", lost
			}
			return g.Name, nvml.SUCCESS
		},
		GetUUIDFunc: func() (string, nvml.Return) {
			g, ok := get()
			if !ok {
				return "", lost
			}
			if g.UUID == "" {
				return fmt.Sprintf("GPU-sim-%d", i), nvml.SUCCESS
			}
			return g.UUID, nvml.SUCCESS
		},
		GetIndexFunc: func() (int, nvml.Return) { return i, nvml.SUCCESS },
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			g, ok := get()
			if !ok {
				return nvml.Utilization{}, lost
			}
			return nvml.Utilization{Gpu: percent(g.Utilization), Memory: percent(g.MemoryUtilization)}, nvml.SUCCESS
		},
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			g, ok := get()
			if !ok {
				return nvml.Memory{}, lost
			}
			used := min(g.MemoryUsed, g.MemoryTotal)
			return nvml.Memory{Total: g.MemoryTotal, Used: used, Free: g.MemoryTotal - used}, nvml.SUCCESS
		},
		GetPowerUsageFunc: func() (uint32, nvml.Return) {
			g, ok := get()
			switch {
			case !ok:
				return 0, lost
			case g.NoPower:
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			return uint32(math.Round(max(g.PowerWatts, 0) * 1000)), nvml.SUCCESS
		},
		GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) {
			g, ok := get()
			switch {
			case !ok:
				return 0, lost
			case g.NoPower || g.NoEnergyCounter:
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			return g.EnergyMilliJoules, nvml.SUCCESS
		},
		GetTemperatureFunc: func(sensor nvml.TemperatureSensors) (uint32, nvml.Return) {
			g, ok := get()
			switch {
			case !ok:
				return 0, lost
			case sensor != nvml.TEMPERATURE_GPU:
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			return uint32(max(g.TemperatureC, 0)), nvml.SUCCESS
		},
		GetClockInfoFunc: func(clock nvml.ClockType) (uint32, nvml.Return) {
			g, ok := get()
			switch {
			case !ok:
				return 0, lost
			case clock != nvml.CLOCK_SM:
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			return uint32(max(g.SMClockMHz, 0)), nvml.SUCCESS
		},
		GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
			g, ok := get()
			if !ok {
				return nil, lost
			}
			ps := make([]nvml.ProcessInfo, len(g.Processes))
			for k, p := range g.Processes {
				ps[k] = nvml.ProcessInfo{Pid: p.PID, UsedGpuMemory: p.UsedMemory, GpuInstanceId: 0xFFFFFFFF, ComputeInstanceId: 0xFFFFFFFF}
			}
			return ps, nvml.SUCCESS
		},
	}
}

// percent converts a 0..1 fraction to NVML's whole percent, clamped.
func percent(f float64) uint32 {
	return uint32(math.Round(min(max(f, 0), 1) * 100))
}
