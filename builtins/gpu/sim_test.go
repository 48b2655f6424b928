package gpu

import (
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

// simWorld is a mutable simulator state that tests change between rounds.
type simWorld struct {
	mu   sync.Mutex
	gpus []SimGPUState
}

func (w *simWorld) state() []SimGPUState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.gpus)
}

func (w *simWorld) set(f func(g []SimGPUState) []SimGPUState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gpus = f(w.gpus)
}

func h100(energy uint64) SimGPUState {
	return SimGPUState{
		Name: "NVIDIA H100 80GB HBM3", MemoryTotal: 80 << 30, MemoryUsed: 72 << 30,
		Utilization: 0.874, MemoryUtilization: 0.31, PowerWatts: 612.3456, EnergyMilliJoules: energy,
		TemperatureC: 71, SMClockMHz: 1980,
		Processes: []SimProcess{{PID: 100, UsedMemory: 72 << 30}},
	}
}

func TestSimEveryField(t *testing.T) {
	w := &simWorld{gpus: []SimGPUState{h100(5000)}}
	p := OpenSim(w.state)
	defer p.Close()
	s, err := p.NewSampler(Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := s.RoundAt(t0)[0]
	want := Sample{
		Time: t0, Device: 0,
		UtilGPU: ptr(87.0), UtilMemory: ptr(31.0),
		MemoryUsed: ptr(uint64(72 << 30)), MemoryTotal: ptr(uint64(80 << 30)),
		PowerW: ptr(612.346), EnergyMJ: ptr(uint64(5000)),
		TempC: ptr(71), SMClockMHz: ptr(1980),
		Processes: []Process{{PID: 100, UsedMemory: ptr(uint64(72 << 30))}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sim sample:\n got %+v\nwant %+v", got, want)
	}
	inv, err := p.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	wantInv := Inventory{Simulated: true, DriverVersion: SimDriverVersion, NVMLVersion: SimNVMLVersion,
		Devices: []Device{{Index: 0, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-sim-0", MemoryTotal: 80 << 30}}}
	if !reflect.DeepEqual(inv, wantInv) {
		t.Errorf("sim inventory:\n got %+v\nwant %+v", inv, wantInv)
	}
}

func TestSimReadingVariants(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(g *SimGPUState)
		missing []string
		check   func(s Sample) bool
	}{
		{name: "no power", edit: func(g *SimGPUState) { g.NoPower = true },
			missing: []string{FieldPower, FieldEnergy}, check: func(s Sample) bool { return s.PowerW == nil && s.EnergyMJ == nil }},
		{name: "no energy counter", edit: func(g *SimGPUState) { g.NoEnergyCounter = true },
			missing: []string{FieldEnergy}, check: func(s Sample) bool { return s.PowerW != nil && s.EnergyMJ == nil }},
		{name: "utilisation clamped", edit: func(g *SimGPUState) { g.Utilization, g.MemoryUtilization = 1.7, -0.2 },
			check: func(s Sample) bool { return *s.UtilGPU == 100 && *s.UtilMemory == 0 }},
		{name: "used memory capped at total", edit: func(g *SimGPUState) { g.MemoryUsed = 90 << 30 },
			check: func(s Sample) bool { return *s.MemoryUsed == *s.MemoryTotal }},
		{name: "explicit UUID", edit: func(g *SimGPUState) { g.UUID = "GPU-1234" },
			check: func(s Sample) bool { return true }},
		{name: "idle", edit: func(g *SimGPUState) { g.Processes = nil },
			check: func(s Sample) bool { return s.Processes != nil && len(s.Processes) == 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := h100(0)
			tc.edit(&g)
			s, err := NewSampler(NewSimInterface(func() []SimGPUState { return []SimGPUState{g} }), Config{})
			if err != nil {
				t.Fatal(err)
			}
			got := s.RoundAt(t0)[0]
			if !slices.Equal(got.Missing, tc.missing) || !tc.check(got) || got.Err != "" {
				t.Errorf("sample %+v (missing %v, want %v)", got, got.Missing, tc.missing)
			}
			if g.UUID != "" && s.Devices()[0].UUID != g.UUID {
				t.Errorf("UUID = %q, want %q", s.Devices()[0].UUID, g.UUID)
			}
		})
	}
}

// TestSimSweepPoint drives the sim through rounds as a virtual-time sweep
// would: two GPUs, one with an energy counter and one without, then a window
// summary and J/token.
func TestSimSweepPoint(t *testing.T) {
	w := &simWorld{gpus: []SimGPUState{h100(0), h100(0)}}
	w.gpus[1].NoEnergyCounter = true
	s, err := NewSampler(NewSimInterface(w.state), Config{EnergyInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for r := range 11 { // 0..1 s at 100 ms, 400 W steady
		w.set(func(g []SimGPUState) []SimGPUState {
			g[0].PowerWatts, g[1].PowerWatts = 400, 400
			g[0].EnergyMilliJoules = uint64(40_000 * r) // 400 W * 0.1 s per round
			return g
		})
		s.RoundAt(at(100 * r))
	}
	sums := s.Window(at(0), at(1000))
	if sums[0].EnergySource != EnergyCounter || !near(sums[0].EnergyJ, 400) {
		t.Errorf("GPU 0 energy %v from %q, want 400 J from the counter", deref(sums[0].EnergyJ), sums[0].EnergySource)
	}
	if sums[1].EnergySource != EnergyIntegrated || !near(sums[1].EnergyJ, 400) {
		t.Errorf("GPU 1 energy %v from %q, want 400 J integrated", deref(sums[1].EnergyJ), sums[1].EnergySource)
	}
	pt := NewPoint(at(0), at(1000), sums, 1600)
	if !near(pt.JoulesPerOutputToken, 0.5) || !near(pt.MeanPowerW, 800) {
		t.Errorf("point J/token %v, power %v; want 0.5, 800", deref(pt.JoulesPerOutputToken), deref(pt.MeanPowerW))
	}
	half := s.Window(at(500), at(1000))
	if !near(half[0].EnergyJ, 200) || half[0].Samples != 6 {
		t.Errorf("half window: %v J over %d samples, want 200 J over 6", deref(half[0].EnergyJ), half[0].Samples)
	}
}

func TestSimDeviceDisappears(t *testing.T) {
	tests := []struct {
		name string
		kill func(g []SimGPUState) []SimGPUState
	}{
		{name: "lost flag", kill: func(g []SimGPUState) []SimGPUState { g[1].Lost = true; return g }},
		{name: "removed from state", kill: func(g []SimGPUState) []SimGPUState { return g[:1] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &simWorld{gpus: []SimGPUState{h100(0), h100(0)}}
			s, err := NewSampler(NewSimInterface(w.state), Config{})
			if err != nil {
				t.Fatal(err)
			}
			s.RoundAt(at(0))
			w.set(tc.kill)
			s.RoundAt(at(100))
			s.RoundAt(at(200))
			sums := s.Window(time.Time{}, time.Time{})
			if sums[0].Samples != 3 || sums[0].Lost {
				t.Errorf("survivor: %+v", sums[0])
			}
			if !sums[1].Lost || sums[1].Samples != 1 || sums[1].ErrorCount != 1 {
				t.Errorf("lost GPU: %+v", sums[1])
			}
		})
	}
}

func TestSimNoSuchDevice(t *testing.T) {
	lib := NewSimInterface(func() []SimGPUState { return []SimGPUState{h100(0)} })
	if _, ret := lib.DeviceGetHandleByIndex(3); ret == 0 {
		t.Error("handle for a device that does not exist")
	}
	if _, err := NewSampler(lib, Config{Devices: []int{1}}); err == nil {
		t.Error("sampler accepted a device that does not exist")
	}
}

// TestSimSparseEnergyCounter checks the default cadence: the counter is read
// on the first round, every DefaultEnergyInterval, and at marks; a window
// between counter reads is bridged with integrated power.
func TestSimSparseEnergyCounter(t *testing.T) {
	w := &simWorld{gpus: []SimGPUState{h100(0)}}
	s, err := NewSampler(NewSimInterface(w.state), Config{})
	if err != nil {
		t.Fatal(err)
	}
	step := func(r int, mark bool) {
		w.set(func(g []SimGPUState) []SimGPUState {
			g[0].PowerWatts = 300
			g[0].EnergyMilliJoules = uint64(30_000 * r) // 300 W * 0.1 s per round
			return g
		})
		if mark {
			s.MarkAt(at(100 * r))
		} else {
			s.RoundAt(at(100 * r))
		}
	}
	for r := range 251 { // 25 s
		step(r, r == 37)
	}
	var readAt []int
	for i, smp := range s.Samples() {
		if smp.EnergyMJ != nil {
			readAt = append(readAt, i)
		}
	}
	if want := []int{0, 37, 137, 237}; !slices.Equal(readAt, want) {
		t.Errorf("counter read at rounds %v, want %v", readAt, want)
	}
	// 2.0 s .. 20.0 s: counter from 3.7 s to 13.7 s, power on the edges.
	sum := s.Window(at(2000), at(20000))[0]
	if sum.EnergySource != EnergyCounter || !near(sum.EnergyJ, 300*18) {
		t.Errorf("window energy %v from %q, want %v J from the counter", deref(sum.EnergyJ), sum.EnergySource, 300*18)
	}
	// 14 s .. 20 s holds no counter reading: integrated power only.
	sum = s.Window(at(14000), at(20000))[0]
	if sum.EnergySource != EnergyIntegrated || !near(sum.EnergyJ, 300*6) {
		t.Errorf("window energy %v from %q, want %v J integrated", deref(sum.EnergyJ), sum.EnergySource, 300*6)
	}
}
