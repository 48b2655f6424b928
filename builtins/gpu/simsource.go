package gpu

import (
	"math"
	"sync"
	"time"

	"starlab/builtins/sim"
)

// FromSim converts the simulator's GPU states to the simulated library's
// input, placing each GPU at its index. The simulator does not model memory
// controller activity, so memory utilisation reads 0; no processes are
// listed because the simulated engine is not a process of its own.
func FromSim(states []sim.GPUState) []SimGPUState {
	out := make([]SimGPUState, len(states))
	for pos, g := range states {
		i := g.Index
		if i < 0 || i >= len(out) {
			i = pos
		}
		out[i] = SimGPUState{
			Name:              g.Name,
			UUID:              g.UUID,
			MemoryTotal:       g.MemoryTotalBytes,
			MemoryUsed:        g.MemoryUsedBytes,
			Utilization:       g.Utilization,
			PowerWatts:        g.PowerWatts,
			EnergyMilliJoules: g.EnergyMillijoules,
			TemperatureC:      int(math.Round(g.TemperatureC)),
			SMClockMHz:        g.SMClockMHz,
			Processes:         []SimProcess{},
		}
	}
	return out
}

// snapshotAt returns a state function that calls read once per distinct
// instant. The simulator's utilisation and power cover the interval since
// its previous read, and one sampling round makes several NVML calls per
// device: without the snapshot every call after the first would see an
// empty interval and read an idle GPU.
func snapshotAt(read func() []SimGPUState, instant func() time.Time) func() []SimGPUState {
	var (
		mu    sync.Mutex
		have  bool
		at    time.Time
		cache []SimGPUState
	)
	return func() []SimGPUState {
		mu.Lock()
		defer mu.Unlock()
		now := instant()
		if !have || !now.Equal(at) {
			cache, at, have = read(), now, true
		}
		return cache
	}
}

// roundClock is a sampler clock that remembers the last time it gave out.
// The sampler reads its clock once at the start of every round, so that time
// names the round and keys the simulator snapshot.
type roundClock struct {
	mu   sync.Mutex
	last time.Time
}

func (c *roundClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = time.Now()
	return c.last
}

func (c *roundClock) Last() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// OpenSimWall wraps a simulator running on the wall clock. The returned
// clock must be the sampler's Config.Now: each round then reads the
// simulator exactly once.
func OpenSimWall(read func() []sim.GPUState) (*Provider, func() time.Time) {
	clock := &roundClock{}
	state := snapshotAt(func() []SimGPUState { return FromSim(read()) }, clock.Last)
	return OpenSim(state), clock.Now
}

// OpenSimVirtual wraps a simulator in virtual time: now is its clock, and
// the simulator is read once per virtual instant.
func OpenSimVirtual(read func() []sim.GPUState, now func() time.Duration) *Provider {
	state := snapshotAt(func() []SimGPUState { return FromSim(read()) },
		func() time.Time { return VirtualEpoch.Add(now()) })
	return OpenSim(state)
}

// VirtualEpoch is the time.Time of virtual time zero. It equals
// sweep.VirtualEpoch, which this package cannot import.
var VirtualEpoch = time.Unix(0, 0).UTC()
