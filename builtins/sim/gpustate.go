package sim

import (
	"fmt"
	"time"
)

// GPUState is one simulated GPU as an NVML sampler would read it.
type GPUState struct {
	Index   int // 0..DataParallel·TensorParallel-1, replica-major
	Replica int // data-parallel replica the GPU belongs to
	Name    string
	UUID    string // stable fake UUID: GPU-sim-<replica>-<rank>
	// MemoryUsedBytes is weights + reserved KV cache + activations + CUDA context on this GPU.
	MemoryUsedBytes  uint64
	MemoryTotalBytes uint64
	// Utilization is the busy fraction (0..1) since the previous GPUStates call (or since start).
	Utilization float64
	// PowerWatts is the mean draw over that interval: idle plus (TDP − idle) scaled by busy time,
	// more for compute-bound steps (prefill) than for bandwidth-bound ones (decode).
	PowerWatts float64
	// EnergyMillijoules is the cumulative energy since start (NVML's total energy counter).
	EnergyMillijoules uint64
	// TemperatureC follows power: 30 °C idle to about 80 °C at TDP.
	TemperatureC float64
	// SMClockMHz is the boost clock while busy, an idle clock otherwise.
	SMClockMHz int
	// BusyTime is the cumulative time the GPU spent in steps.
	BusyTime time.Duration
}

// telemetry remembers the previous sample per replica so utilisation covers the last interval.
type telemetry struct {
	lastAt     time.Duration
	lastEnergy []float64 // joules
	lastBusy   []time.Duration
}

// gpuStates computes every GPU's state at now. Energy is exact: ∫ power = idle·t +
// (TDP − idle)·(0.55·busy + 0.45·compute-bound busy).
func gpuStates(c *core, t *telemetry, now time.Duration) []GPUState {
	cfg := c.cfg
	g := cfg.GPUInfo
	tp := cfg.TensorParallel
	if t.lastEnergy == nil {
		t.lastEnergy = make([]float64, len(c.replicas))
		t.lastBusy = make([]time.Duration, len(c.replicas))
	}
	dt := (now - t.lastAt).Seconds()
	kv := float64(cfg.NumBlocks) * 16 * cfg.KVBytesPerToken / float64(tp)
	mem := cfg.Memory.WeightBytes + kv + cfg.Memory.ActivationBytes + cfg.Memory.NonTorchBytes
	mem = min(mem, g.MemoryBytes())
	var out []GPUState
	for _, r := range c.replicas {
		busy, compute := r.busyTotal, r.computeTotal
		if r.stepping && now > r.stepFrom {
			part := min(now, r.stepTo) - r.stepFrom
			busy += part
			compute += part.Seconds() * r.stepFrac
		}
		energy := g.IdleWatts*now.Seconds() + (g.TDPWatts-g.IdleWatts)*(0.55*busy.Seconds()+0.45*compute)
		util, power := 0.0, g.IdleWatts
		if dt > 0 {
			util = min(1, (busy-t.lastBusy[r.idx]).Seconds()/dt)
			power = (energy - t.lastEnergy[r.idx]) / dt
		}
		t.lastEnergy[r.idx], t.lastBusy[r.idx] = energy, busy
		clock := g.MaxSMClockMHz * 18 / 100
		if util > 0 {
			clock = g.MaxSMClockMHz
		}
		for rank := 0; rank < tp; rank++ {
			out = append(out, GPUState{
				Index: r.idx*tp + rank, Replica: r.idx, Name: g.Name,
				UUID:              fmt.Sprintf("GPU-sim-%d-%d", r.idx, rank),
				MemoryUsedBytes:   uint64(mem),
				MemoryTotalBytes:  uint64(g.MemoryBytes()),
				Utilization:       util,
				PowerWatts:        power,
				EnergyMillijoules: uint64(energy * 1000),
				TemperatureC:      30 + 50*power/g.TDPWatts,
				SMClockMHz:        clock,
				BusyTime:          busy,
			})
		}
	}
	t.lastAt = now
	return out
}

// GPUStates samples every simulated GPU at the current virtual time.
func (s *VirtualServer) GPUStates() []GPUState { return gpuStates(s.core, &s.tele, s.now) }

// GPUStates samples every simulated GPU now.
func (s *WallServer) GPUStates() []GPUState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return gpuStates(s.core, &s.tele, s.now())
}
