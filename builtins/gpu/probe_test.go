package gpu

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"starlab/builtins/sim"
	"starlab/builtins/virtual"
)

func decodePoint(t *testing.T, data json.RawMessage) PointTelemetry {
	t.Helper()
	var p PointTelemetry
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return p
}

// TestWallProbe samples a fake card drawing a steady 300 W in the
// background; the window's energy is 300 W times the marked window, and
// J/token divides it by the tokens. Sample counts depend on scheduling, so
// the test waits for rounds instead of sleeping a fixed time.
func TestWallProbe(t *testing.T) {
	start := time.Now()
	var mu sync.Mutex
	state := func() []SimGPUState {
		mu.Lock()
		defer mu.Unlock()
		mj := uint64(300 * time.Since(start).Milliseconds())
		return []SimGPUState{{Name: "H100", MemoryTotal: 80 << 30, MemoryUsed: 20 << 30, Utilization: 0.5,
			PowerWatts: 300, EnergyMilliJoules: mj, TemperatureC: 60, SMClockMHz: 1980, Processes: []SimProcess{}}}
	}
	p := OpenSim(state)
	pr, err := StartWallProbe(context.Background(), p, Config{Interval: 5 * time.Millisecond, EnergyInterval: 5 * time.Millisecond}, true)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	pr.Mark(t0)
	waitRounds(t, pr.s, t0, 4)
	t1 := time.Now()
	pr.Mark(t1)
	pt := decodePoint(t, mustFinish(t, pr, 100))

	if !pt.Start.Equal(t0) || !pt.End.Equal(t1) || len(pt.Devices) != 1 {
		t.Fatalf("window %v..%v, %d devices; want %v..%v, 1", pt.Start, pt.End, len(pt.Devices), t0, t1)
	}
	d := pt.Devices[0]
	if d.MaxMemoryUsed == nil || *d.MaxMemoryUsed != 20<<30 || d.MeanUtilGPU == nil || *d.MeanUtilGPU != 50 {
		t.Fatalf("summary %+v", d)
	}
	want := 300 * t1.Sub(t0).Seconds()
	if pt.EnergyJ == nil || math.Abs(*pt.EnergyJ-want) > 0.1*want+0.5 {
		t.Fatalf("energy %v J, want about %.2f J (%+v)", *pt.EnergyJ, want, pt)
	}
	if pt.OutputTokens != 100 || pt.JoulesPerOutputToken == nil || *pt.JoulesPerOutputToken != *pt.EnergyJ/100 {
		t.Fatalf("J/token %v for %v J and 100 tokens", pt.JoulesPerOutputToken, *pt.EnergyJ)
	}
	if _, err := pr.Finish(100); err != ErrProbeFinished {
		t.Fatalf("second Finish: %v", err)
	}
	pr.Tick(time.Now()) // harmless after Finish
}

// waitRounds waits until the sampler has n rounds after t.
func waitRounds(t *testing.T, s *Sampler, after time.Time, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		k := 0
		for _, smp := range s.Samples() {
			if smp.Time.After(after) {
				k++
			}
		}
		if k >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("fewer than %d rounds in 10 s", n)
}

func mustFinish(t *testing.T, pr *Probe, tokens int) json.RawMessage {
	t.Helper()
	data, err := pr.Finish(tokens)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestVirtualProbe drives a real virtual-time simulator through one request
// the way the sweep driver does: Mark at the window's start, Tick on a
// cadence while the clock advances, Mark at the end. Energy must equal the
// simulator's own counter and the GPU must show as busy while it decodes.
func TestVirtualProbe(t *testing.T) {
	vs, err := sim.NewVirtual(sim.Config{Model: "Llama-3.1-8B", GPU: "H100"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := NewVirtualProbe(OpenSimVirtual(vs.GPUStates, vs.Now), nil)
	if err != nil {
		t.Fatal(err)
	}
	var tokens int
	var doneAt time.Duration
	vs.Submit(0, virtual.Request{PromptTokens: 1024, MaxTokens: 256, IgnoreEOS: true}, virtual.Events{
		Chunk: func(time.Duration, int) {},
		Done:  func(at time.Duration, u virtual.Usage, err error) { tokens, doneAt = u.CompletionTokens, at },
	})
	at := func(d time.Duration) time.Time { return VirtualEpoch.Add(d) }
	pr.Mark(at(0))
	end := 3 * time.Second
	for clock := 250 * time.Millisecond; clock < end; clock += 250 * time.Millisecond {
		vs.RunUntil(clock)
		pr.Tick(at(clock))
	}
	vs.RunUntil(end)
	pr.Mark(at(end))
	if tokens != 256 || doneAt == 0 || doneAt > end {
		t.Fatalf("request: %d tokens done at %v", tokens, doneAt)
	}
	pt := decodePoint(t, mustFinish(t, pr, tokens))

	counter := vs.GPUStates()[0].EnergyMillijoules // the simulator's own figure at the end
	d := pt.Devices[0]
	switch {
	case !pt.Start.Equal(at(0)) || !pt.End.Equal(at(end)):
		t.Fatalf("window %v..%v", pt.Start, pt.End)
	case d.Samples != 13:
		t.Fatalf("%d rounds, want 13 (two marks, eleven ticks)", d.Samples)
	case d.MaxUtilGPU == nil || *d.MaxUtilGPU <= 0 || d.MeanUtilGPU == nil || *d.MeanUtilGPU <= 0:
		t.Fatalf("utilisation %v / %v, want > 0 while decoding", d.MeanUtilGPU, d.MaxUtilGPU)
	case d.MaxPowerW == nil || d.MeanPowerW == nil || *d.MaxPowerW <= *d.MeanPowerW:
		t.Fatalf("power mean %v max %v: the busy rounds must draw more than idle ones", d.MeanPowerW, d.MaxPowerW)
	case d.EnergySource != EnergyCounter || pt.EnergyJ == nil || math.Abs(*pt.EnergyJ-float64(counter)/1000) > 0.002:
		t.Fatalf("energy %v J (%s), simulator counter %d mJ", pt.EnergyJ, d.EnergySource, counter)
	case pt.JoulesPerOutputToken == nil || *pt.JoulesPerOutputToken != *pt.EnergyJ/256:
		t.Fatalf("J/token %v, want %v", pt.JoulesPerOutputToken, *pt.EnergyJ/256)
	}
}

// TestSimSnapshot pins why rounds read the simulator once: its
// utilisation covers the time since the previous read, so a second read at
// the same instant would make every reading after the first look idle.
func TestSimSnapshot(t *testing.T) {
	vs, err := sim.NewVirtual(sim.Config{Model: "Llama-3.1-8B", GPU: "H100"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	vs.Submit(0, virtual.Request{PromptTokens: 512, MaxTokens: 512, IgnoreEOS: true}, virtual.Events{
		Chunk: func(time.Duration, int) {}, Done: func(time.Duration, virtual.Usage, error) {},
	})
	p := OpenSimVirtual(vs.GPUStates, vs.Now)
	s, err := p.NewSampler(Config{})
	if err != nil {
		t.Fatal(err)
	}
	vs.RunUntil(time.Second)
	smp := s.RoundAt(VirtualEpoch.Add(time.Second))[0]
	if *smp.UtilGPU != 100 || *smp.PowerW <= 100 || *smp.SMClockMHz < 1000 {
		t.Fatalf("a busy second reads util %v%%, %v W, %v MHz", *smp.UtilGPU, *smp.PowerW, *smp.SMClockMHz)
	}
}

func TestFromSim(t *testing.T) {
	in := []sim.GPUState{
		{Index: 1, Name: "H100", UUID: "GPU-sim-0-1", MemoryUsedBytes: 5, MemoryTotalBytes: 10, Utilization: 0.25,
			PowerWatts: 123.4, EnergyMillijoules: 99, TemperatureC: 41.6, SMClockMHz: 1980},
		{Index: 0, Name: "H100", UUID: "GPU-sim-0-0"},
	}
	out := FromSim(in)
	got := out[1]
	want := SimGPUState{Name: "H100", UUID: "GPU-sim-0-1", MemoryUsed: 5, MemoryTotal: 10, Utilization: 0.25,
		PowerWatts: 123.4, EnergyMilliJoules: 99, TemperatureC: 42, SMClockMHz: 1980}
	if got.Processes == nil || len(got.Processes) != 0 {
		t.Fatalf("processes %v, want empty and not nil", got.Processes)
	}
	got.Processes = nil
	if !reflect.DeepEqual(got, want) || out[0].UUID != "GPU-sim-0-0" {
		t.Fatalf("FromSim = %+v", out)
	}
}

// TestRealProbe runs a wall probe over the real library where NVML is
// present (a GPU machine), and skips elsewhere.
func TestRealProbe(t *testing.T) {
	p, ok, reason := Open()
	if !ok {
		t.Skip(reason)
	}
	defer p.Close()
	pr, err := StartWallProbe(context.Background(), p, Config{Devices: []int{0}, Interval: 20 * time.Millisecond}, false)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	pr.Mark(t0)
	waitRounds(t, pr.s, t0, 3)
	pr.Mark(time.Now())
	pt := decodePoint(t, mustFinish(t, pr, 10))
	d := pt.Devices[0]
	if d.Samples < 3 || d.MaxMemoryUsed == nil || d.Device.Name == "" {
		t.Fatalf("real device summary %+v", d)
	}
	if pt.EnergyJ != nil && (*pt.EnergyJ <= 0 || pt.JoulesPerOutputToken == nil) {
		t.Fatalf("energy %v J, J/token %v", *pt.EnergyJ, pt.JoulesPerOutputToken)
	}
	t.Logf("%s: %d rounds, energy %v J, mean power %v W", d.Device.Name, d.Samples, fmtPtr(pt.EnergyJ), fmtPtr(d.MeanPowerW))
}

func fmtPtr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
