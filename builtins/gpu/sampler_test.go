package gpu

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

func TestRoundReadsEveryField(t *testing.T) {
	s, err := NewSampler(libOf(fullDevice(0), fullDevice(1)), Config{Now: (&fakeClock{now: t0, step: time.Second}).Now})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Round()
	if len(got) != 2 {
		t.Fatalf("got %d samples, want 2", len(got))
	}
	want := Sample{
		Time: t0, Device: 1,
		UtilGPU: ptr(51.0), UtilMemory: ptr(21.0),
		MemoryUsed: ptr(uint64(11 << 30)), MemoryTotal: ptr(uint64(80 << 30)),
		PowerW: ptr(301.0), EnergyMJ: ptr(uint64(1000001)),
		TempC: ptr(61), SMClockMHz: ptr(1979),
		Processes: []Process{{PID: 4243, UsedMemory: ptr(uint64(9 << 30))}},
	}
	if !reflect.DeepEqual(got[1], want) {
		t.Errorf("sample:\n got %+v\nwant %+v", got[1], want)
	}
	wantDev := Device{Index: 1, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-b", MemoryTotal: 80 << 30}
	if d := s.Devices()[1]; d != wantDev {
		t.Errorf("device = %+v, want %+v", d, wantDev)
	}
}

func TestRoundPartialReadings(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(d *mock.Device)
		check       func(s Sample) bool
		missing     []string
		fieldErrors map[string]string
	}{
		{
			name: "no power readings",
			edit: func(d *mock.Device) {
				d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
				d.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
			},
			check:   func(s Sample) bool { return s.PowerW == nil && s.EnergyMJ == nil && s.TempC != nil },
			missing: []string{FieldPower, FieldEnergy},
		},
		{
			name: "no energy counter",
			edit: func(d *mock.Device) {
				d.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
			},
			check:   func(s Sample) bool { return s.PowerW != nil && s.EnergyMJ == nil },
			missing: []string{FieldEnergy},
		},
		{
			name: "processes not supported",
			edit: func(d *mock.Device) {
				d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.ERROR_NOT_SUPPORTED }
			},
			check:   func(s Sample) bool { return s.Processes == nil },
			missing: []string{FieldProcesses},
		},
		{
			name: "no processes running",
			edit: func(d *mock.Device) {
				d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.SUCCESS }
			},
			check: func(s Sample) bool { return s.Processes != nil && len(s.Processes) == 0 },
		},
		{
			name: "process memory not available",
			edit: func(d *mock.Device) {
				d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
					return []nvml.ProcessInfo{{Pid: 7, UsedGpuMemory: ^uint64(0)}}, nvml.SUCCESS
				}
			},
			check: func(s Sample) bool { return len(s.Processes) == 1 && s.Processes[0].UsedMemory == nil },
		},
		{
			name: "one reading fails transiently",
			edit: func(d *mock.Device) {
				d.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 0, nvml.ERROR_UNKNOWN }
			},
			check:       func(s Sample) bool { return s.TempC == nil && s.PowerW != nil && s.Err == "" },
			fieldErrors: map[string]string{FieldTemperature: "ERROR_UNKNOWN"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fullDevice(0)
			tc.edit(d)
			s, err := NewSampler(libOf(d), Config{})
			if err != nil {
				t.Fatal(err)
			}
			got := s.RoundAt(t0)[0]
			if !tc.check(got) {
				t.Errorf("sample %+v fails the check", got)
			}
			if !slices.Equal(got.Missing, tc.missing) {
				t.Errorf("missing = %v, want %v", got.Missing, tc.missing)
			}
			if !reflect.DeepEqual(got.FieldErrors, tc.fieldErrors) {
				t.Errorf("field errors = %v, want %v", got.FieldErrors, tc.fieldErrors)
			}
		})
	}
}

// dyingDevice is fullDevice(i) that answers ret to every call once *dead.
func dyingDevice(i int, dead *bool, ret nvml.Return) *mock.Device {
	d := fullDevice(i)
	power := d.GetPowerUsageFunc
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		if *dead {
			return nvml.Utilization{}, ret
		}
		return nvml.Utilization{Gpu: 99}, nvml.SUCCESS
	}
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) {
		if *dead {
			return 0, ret
		}
		return power()
	}
	return d
}

func TestDeviceLostMidRun(t *testing.T) {
	for _, ret := range []nvml.Return{nvml.ERROR_GPU_IS_LOST, nvml.ERROR_GPU_NOT_FOUND, nvml.ERROR_RESET_REQUIRED} {
		t.Run(ret.Error(), func(t *testing.T) {
			dead := false
			lost := dyingDevice(1, &dead, ret)
			s, err := NewSampler(libOf(fullDevice(0), lost, fullDevice(2)), Config{})
			if err != nil {
				t.Fatal(err)
			}
			for r := range 5 {
				dead = r >= 2
				s.RoundAt(at(100 * r))
			}
			perDevice := map[int]int{}
			for _, smp := range s.Samples() {
				perDevice[smp.Device]++
			}
			if want := map[int]int{0: 5, 1: 3, 2: 5}; !reflect.DeepEqual(perDevice, want) {
				t.Errorf("samples per device = %v, want %v (lost device read until it failed, then dropped)", perDevice, want)
			}
			if n := len(lost.GetUtilizationRatesCalls()); n != 3 {
				t.Errorf("lost device read %d times, want 3", n)
			}
			sums := s.Window(time.Time{}, time.Time{})
			if !sums[1].Lost || sums[1].Samples != 2 || sums[1].ErrorCount != 1 {
				t.Errorf("lost device summary = %+v", sums[1])
			}
			if want := "device lost (utilization: " + ret.Error() + ")"; !slices.Equal(sums[1].Errors, []string{want}) {
				t.Errorf("errors = %q, want %q", sums[1].Errors, want)
			}
			for _, i := range []int{0, 2} {
				if sums[i].Lost || sums[i].Samples != 5 || sums[i].ErrorCount != 0 {
					t.Errorf("healthy device %d summary = %+v", i, sums[i])
				}
			}
			later := s.Window(at(350), time.Time{})
			if !later[1].Lost || later[1].Samples != 0 || len(later[1].Errors) != 1 {
				t.Errorf("window after the loss should still say lost: %+v", later[1])
			}
		})
	}
}

func TestDeviceLostBeforeFirstRound(t *testing.T) {
	lib := libOf(fullDevice(0), fullDevice(1))
	lib.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 1 {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return fullDevice(i), nvml.SUCCESS
	}
	s, err := NewSampler(lib, Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.RoundAt(at(0))
	s.RoundAt(at(100))
	sums := s.Window(time.Time{}, time.Time{})
	if sums[0].Samples != 2 || !sums[1].Lost || sums[1].Samples != 0 || sums[1].ErrorCount != 1 {
		t.Errorf("summaries = %+v", sums)
	}
}

func TestChooseDevices(t *testing.T) {
	tests := []struct {
		want    []int
		got     []int
		wantErr bool
	}{
		{want: nil, got: []int{0, 1, 2}},
		{want: []int{2, 0}, got: []int{2, 0}},
		{want: []int{}, got: []int{}},
		{want: []int{3}, wantErr: true},
		{want: []int{-1}, wantErr: true},
		{want: []int{1, 1}, wantErr: true},
	}
	for _, tc := range tests {
		got, err := chooseDevices(tc.want, 3)
		if (err != nil) != tc.wantErr || (!tc.wantErr && !slices.Equal(got, tc.got)) {
			t.Errorf("chooseDevices(%v) = %v, %v", tc.want, got, err)
		}
	}
}

func TestSamplerSubsetOfDevices(t *testing.T) {
	s, err := NewSampler(libOf(fullDevice(0), fullDevice(1), fullDevice(2)), Config{Devices: []int{2}})
	if err != nil {
		t.Fatal(err)
	}
	got := s.RoundAt(t0)
	if len(got) != 1 || got[0].Device != 2 {
		t.Errorf("round = %+v, want only device 2", got)
	}
}

func TestNewSamplerErrors(t *testing.T) {
	lib := libOf()
	lib.DeviceGetCountFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_UNKNOWN }
	if _, err := NewSampler(lib, Config{}); err == nil {
		t.Error("failed device count accepted")
	}
	if _, err := NewSampler(libOf(), Config{Interval: -time.Second}); err == nil {
		t.Error("negative interval accepted")
	}
	if _, err := NewSampler(libOf(), Config{EnergyInterval: -time.Second}); err == nil {
		t.Error("negative energy interval accepted")
	}
}

// waitSamples polls until the sampler holds at least n samples.
func waitSamples(t *testing.T, s *Sampler, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Samples()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d samples after 5s, want %d", len(s.Samples()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStartStop(t *testing.T) {
	s, err := NewSampler(libOf(fullDevice(0), fullDevice(1)), Config{Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Start = %v, want ErrAlreadyStarted", err)
	}
	waitSamples(t, s, 6)
	res := s.Stop()
	if !res.Available || len(res.Devices) != 2 || len(res.Summaries) != 2 {
		t.Fatalf("result = %+v", res)
	}
	if n := len(res.Samples); n < 8 || n%2 != 0 {
		t.Errorf("%d samples: want whole rounds, at least start + 2 ticks + closing round", n)
	}
	if first, last := res.Samples[0].Time, res.Samples[len(res.Samples)-1].Time; !first.Equal(res.Start) || !last.Equal(res.End) {
		t.Errorf("series spans %v..%v, result %v..%v", first, last, res.Start, res.End)
	}
	if first, last := res.Samples[0], res.Samples[len(res.Samples)-1]; first.EnergyMJ == nil || last.EnergyMJ == nil {
		t.Error("first and closing rounds must read the energy counter")
	}
	if got := res.Summaries[0].Samples; got != len(res.Samples)/2 {
		t.Errorf("summary counts %d samples, want %d", got, len(res.Samples)/2)
	}
	after := len(s.Samples())
	time.Sleep(5 * time.Millisecond)
	if len(s.Samples()) != after {
		t.Error("sampler kept sampling after Stop")
	}
}

func TestStartHonoursContext(t *testing.T) {
	s, err := NewSampler(libOf(fullDevice(0)), Config{Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitSamples(t, s, 2)
	cancel()
	res := s.Stop() // returns promptly: the loop already ended with ctx
	if len(res.Samples) < 3 {
		t.Errorf("got %d samples", len(res.Samples))
	}
}

func TestCollect(t *testing.T) {
	t.Run("duration", func(t *testing.T) {
		res, err := Collect(context.Background(), libOf(fullDevice(0)), Config{Interval: time.Millisecond}, 20*time.Millisecond)
		if err != nil || !res.Available || len(res.Samples) < 2 || res.Summaries[0].Samples != len(res.Samples) {
			t.Errorf("Collect = %+v, %v", res, err)
		}
	})
	t.Run("cancelled keeps partial series", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := Collect(ctx, libOf(fullDevice(0)), Config{}, time.Hour)
		if !errors.Is(err, context.Canceled) || len(res.Samples) < 2 {
			t.Errorf("Collect = %d samples, %v; want start and closing rounds with context.Canceled", len(res.Samples), err)
		}
	})
	t.Run("bad device", func(t *testing.T) {
		if _, err := Collect(context.Background(), libOf(fullDevice(0)), Config{Devices: []int{4}}, time.Millisecond); err == nil {
			t.Error("missing device accepted")
		}
	})
}

func TestUnavailable(t *testing.T) {
	r := Unavailable("why")
	if r.Available || r.Reason != "why" || r.Devices != nil || r.Samples != nil {
		t.Errorf("Unavailable = %+v", r)
	}
}
