package gpu

import (
	"math"
	"slices"
	"testing"
	"time"
)

// series builds one device's samples every 100 ms from parallel slices;
// a negative power or energy means "not read".
func series(dev int, power []float64, energy []int64) []Sample {
	out := make([]Sample, len(power))
	for i := range power {
		s := Sample{Time: at(100 * i), Device: dev}
		if power[i] >= 0 {
			s.PowerW = ptr(power[i])
		}
		if energy != nil && energy[i] >= 0 {
			s.EnergyMJ = ptr(uint64(energy[i]))
		}
		out[i] = s
	}
	return out
}

func near(a *float64, b float64) bool { return a != nil && math.Abs(*a-b) < 1e-9 }

func TestSummarizeEnergy(t *testing.T) {
	tests := []struct {
		name    string
		power   []float64
		energy  []int64
		wantJ   *float64
		source  string
		meanW   *float64
		maxW    *float64
		samples int
	}{
		{
			name:  "counter preferred over power",
			power: []float64{100, 200, 300}, energy: []int64{5000, 5030, 5070},
			wantJ: ptr(0.070), source: EnergyCounter, meanW: ptr(200.0), maxW: ptr(300.0), samples: 3,
		},
		{
			name:  "trapezoid without counter",
			power: []float64{100, 200, 300},
			// 0.1 s * (150 + 250) W = 40 J
			wantJ: ptr(40.0), source: EnergyIntegrated, meanW: ptr(200.0), maxW: ptr(300.0), samples: 3,
		},
		{
			name:  "trapezoid bridges a missing power reading",
			power: []float64{100, -1, 300},
			// 0.2 s * (100 + 300) / 2 = 40 J
			wantJ: ptr(40.0), source: EnergyIntegrated, meanW: ptr(200.0), maxW: ptr(300.0), samples: 3,
		},
		{
			name:  "counter reset falls back to integration",
			power: []float64{100, 100, 100}, energy: []int64{9000, 10, 20},
			wantJ: ptr(20.0), source: EnergyIntegrated, meanW: ptr(100.0), maxW: ptr(100.0), samples: 3,
		},
		{
			name:  "counter with gaps uses first and last",
			power: []float64{-1, -1, -1}, energy: []int64{1000, -1, 3500},
			wantJ: ptr(2.5), source: EnergyCounter, samples: 3,
		},
		{
			name:  "sparse counter with integrated edges",
			power: []float64{100, 100, 100, 100, 100}, energy: []int64{-1, 1000, -1, 21000, -1},
			// 20 J from the counter + 10 J + 10 J on the edges
			wantJ: ptr(40.0), source: EnergyCounter, meanW: ptr(100.0), maxW: ptr(100.0), samples: 5,
		},
		{
			name:  "no power readings leaves energy empty",
			power: []float64{-1, -1, -1}, samples: 3,
		},
		{
			name:  "one sample is no interval",
			power: []float64{250}, energy: []int64{1000},
			meanW: ptr(250.0), maxW: ptr(250.0), samples: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Summarize([]Device{{Index: 0}}, series(0, tc.power, tc.energy), time.Time{}, time.Time{})[0]
			if (tc.wantJ == nil) != (got.EnergyJ == nil) || (tc.wantJ != nil && !near(got.EnergyJ, *tc.wantJ)) {
				t.Errorf("energy = %v, want %v", deref(got.EnergyJ), deref(tc.wantJ))
			}
			if got.EnergySource != tc.source {
				t.Errorf("source = %q, want %q", got.EnergySource, tc.source)
			}
			if (tc.meanW == nil) != (got.MeanPowerW == nil) || (tc.meanW != nil && !near(got.MeanPowerW, *tc.meanW)) {
				t.Errorf("mean power = %v, want %v", deref(got.MeanPowerW), deref(tc.meanW))
			}
			if (tc.maxW == nil) != (got.MaxPowerW == nil) || (tc.maxW != nil && !near(got.MaxPowerW, *tc.maxW)) {
				t.Errorf("max power = %v, want %v", deref(got.MaxPowerW), deref(tc.maxW))
			}
			if got.Samples != tc.samples {
				t.Errorf("samples = %d, want %d", got.Samples, tc.samples)
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSummarizeUtilisationMemoryAndWindow(t *testing.T) {
	mk := func(ms int, util, memUtil float64, used uint64, temp, clock int) Sample {
		return Sample{Time: at(ms), Device: 3, UtilGPU: ptr(util), UtilMemory: ptr(memUtil),
			MemoryUsed: ptr(used), MemoryTotal: ptr(uint64(100)), TempC: ptr(temp), SMClockMHz: ptr(clock)}
	}
	ss := []Sample{
		mk(0, 10, 5, 40, 50, 1000),
		mk(200, 90, 45, 70, 65, 2000), // out of order on purpose
		mk(100, 50, 25, 60, 70, 1500),
		mk(300, 0, 0, 90, 40, 500),
		{Time: at(150), Device: 9, UtilGPU: ptr(100.0)}, // another device
	}
	tests := []struct {
		name            string
		from, to        time.Time
		mean, max       float64
		memMean, memMax float64
		maxMem          uint64
		maxTemp         int
		clock           float64
		n               int
		start, end      time.Time
	}{
		{name: "all", mean: 37.5, max: 90, memMean: 18.75, memMax: 45, maxMem: 90, maxTemp: 70, clock: 1250, n: 4, start: at(0), end: at(300)},
		{name: "window is inclusive", from: at(100), to: at(200), mean: 70, max: 90, memMean: 35, memMax: 45, maxMem: 70, maxTemp: 70, clock: 1750, n: 2, start: at(100), end: at(200)},
		{name: "open start", to: at(50), mean: 10, max: 10, memMean: 5, memMax: 5, maxMem: 40, maxTemp: 50, clock: 1000, n: 1, start: at(0), end: at(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Summarize([]Device{{Index: 3, Name: "x"}}, ss, tc.from, tc.to)[0]
			if got.Device.Name != "x" || got.Samples != tc.n || !got.Start.Equal(tc.start) || !got.End.Equal(tc.end) {
				t.Errorf("summary %+v: want %d samples %v..%v", got, tc.n, tc.start, tc.end)
			}
			if !near(got.MeanUtilGPU, tc.mean) || !near(got.MaxUtilGPU, tc.max) {
				t.Errorf("gpu util mean/max = %v/%v, want %v/%v", deref(got.MeanUtilGPU), deref(got.MaxUtilGPU), tc.mean, tc.max)
			}
			if !near(got.MeanUtilMemory, tc.memMean) || !near(got.MaxUtilMemory, tc.memMax) {
				t.Errorf("mem util mean/max = %v/%v", deref(got.MeanUtilMemory), deref(got.MaxUtilMemory))
			}
			if got.MaxMemoryUsed == nil || *got.MaxMemoryUsed != tc.maxMem || got.MaxTempC == nil || *got.MaxTempC != tc.maxTemp {
				t.Errorf("max memory/temp wrong: %+v", got)
			}
			if !near(got.MeanSMClockMHz, tc.clock) {
				t.Errorf("mean clock = %v, want %v", deref(got.MeanSMClockMHz), tc.clock)
			}
		})
	}
}

func TestSummarizeEmptyAndErrors(t *testing.T) {
	ss := []Sample{
		{Time: at(0), Device: 0, FieldErrors: map[string]string{FieldTemperature: "ERROR_UNKNOWN"}},
		{Time: at(100), Device: 0, FieldErrors: map[string]string{FieldTemperature: "ERROR_UNKNOWN", FieldPower: "ERROR_TIMEOUT"}},
		{Time: at(200), Device: 0, Err: "device lost (utilization: ERROR_GPU_IS_LOST)"},
	}
	sums := Summarize([]Device{{Index: 0}, {Index: 1}}, ss, time.Time{}, time.Time{})
	got := sums[0]
	wantErrs := []string{"temperature: ERROR_UNKNOWN", "power: ERROR_TIMEOUT", "device lost (utilization: ERROR_GPU_IS_LOST)"}
	if got.Samples != 2 || got.ErrorCount != 4 || !got.Lost || !slices.Equal(got.Errors, wantErrs) {
		t.Errorf("summary = %+v", got)
	}
	empty := sums[1]
	if empty.Samples != 0 || empty.MeanUtilGPU != nil || empty.MaxMemoryUsed != nil || empty.EnergyJ != nil || !empty.Start.IsZero() {
		t.Errorf("device without samples should have only empty figures: %+v", empty)
	}
}

func TestSummarizeCapsErrors(t *testing.T) {
	var ss []Sample
	for i := range 3 * maxErrors {
		ss = append(ss, Sample{Time: at(i), Device: 0, FieldErrors: map[string]string{FieldPower: nvmlCode(i)}})
	}
	got := Summarize([]Device{{Index: 0}}, ss, time.Time{}, time.Time{})[0]
	if got.ErrorCount != 3*maxErrors || len(got.Errors) != maxErrors {
		t.Errorf("error count %d, kept %d", got.ErrorCount, len(got.Errors))
	}
}

func nvmlCode(i int) string { return "code " + string(rune('A'+i)) }
