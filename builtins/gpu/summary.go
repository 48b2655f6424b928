package gpu

import (
	"fmt"
	"sort"
	"time"
)

// Summarize condenses samples into one Summary per device, in the order of
// devices, over [t0, t1] (a zero bound is open). It is a pure function so a
// sweep point, a replay and a test all compute the same figures.
func Summarize(devices []Device, samples []Sample, t0, t1 time.Time) []Summary {
	pos := make(map[int]int, len(devices))
	out := make([]Summary, len(devices))
	per := make([][]Sample, len(devices))
	for i, d := range devices {
		pos[d.Index] = i
		out[i].Device = d
	}
	for _, s := range samples {
		i, ok := pos[s.Device]
		if !ok || (!t0.IsZero() && s.Time.Before(t0)) || (!t1.IsZero() && s.Time.After(t1)) {
			continue
		}
		per[i] = append(per[i], s)
	}
	for i := range out {
		summarizeDevice(&out[i], per[i])
	}
	return out
}

// acc is a running mean/max over the readings that were present.
type acc struct {
	n        int
	sum, max float64
}

func (a *acc) add(v float64) {
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.sum += v
	a.n++
}

func (a *acc) mean() *float64 {
	if a.n == 0 {
		return nil
	}
	m := a.sum / float64(a.n)
	return &m
}

func (a *acc) maxp() *float64 {
	if a.n == 0 {
		return nil
	}
	m := a.max
	return &m
}

// summarizeDevice fills sum from one device's samples in the window.
func summarizeDevice(sum *Summary, ss []Sample) {
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].Time.Before(ss[j].Time) })
	var util, memUtil, power, clock acc
	var maxMem *uint64
	var maxTemp *int
	seen := map[string]bool{}
	note := func(msg string) {
		sum.ErrorCount++
		if !seen[msg] && len(sum.Errors) < maxErrors {
			seen[msg] = true
			sum.Errors = append(sum.Errors, msg)
		}
	}
	for _, s := range ss {
		if sum.Start.IsZero() {
			sum.Start = s.Time
		}
		sum.End = s.Time
		if s.Err != "" {
			sum.Lost = true
			note(s.Err)
			continue
		}
		sum.Samples++
		for _, f := range sortedKeys(s.FieldErrors) {
			note(fmt.Sprintf("%s: %s", f, s.FieldErrors[f]))
		}
		if s.UtilGPU != nil {
			util.add(*s.UtilGPU)
		}
		if s.UtilMemory != nil {
			memUtil.add(*s.UtilMemory)
		}
		if s.PowerW != nil {
			power.add(*s.PowerW)
		}
		if s.SMClockMHz != nil {
			clock.add(float64(*s.SMClockMHz))
		}
		if s.MemoryUsed != nil && (maxMem == nil || *s.MemoryUsed > *maxMem) {
			v := *s.MemoryUsed
			maxMem = &v
		}
		if s.TempC != nil && (maxTemp == nil || *s.TempC > *maxTemp) {
			v := *s.TempC
			maxTemp = &v
		}
	}
	sum.MeanUtilGPU, sum.MaxUtilGPU = util.mean(), util.maxp()
	sum.MeanUtilMemory, sum.MaxUtilMemory = memUtil.mean(), memUtil.maxp()
	sum.MeanPowerW, sum.MaxPowerW = power.mean(), power.maxp()
	sum.MeanSMClockMHz = clock.mean()
	sum.MaxMemoryUsed, sum.MaxTempC = maxMem, maxTemp
	if j, ok := counterEnergy(ss); ok {
		sum.EnergyJ, sum.EnergySource = &j, EnergyCounter
	} else if j, ok := integratedEnergy(ss); ok {
		sum.EnergyJ, sum.EnergySource = &j, EnergyIntegrated
	}
}

// counterEnergy is the energy counter's rise between its first and last
// readings, plus power integrated over the window's edges outside them (the
// counter is read sparsely, see Config.EnergyInterval). It declines
// (ok=false) with fewer than two readings or when the counter went backwards
// (driver reload), where the difference would be meaningless.
func counterEnergy(ss []Sample) (float64, bool) {
	first, last := -1, -1
	for i, s := range ss {
		if s.EnergyMJ == nil {
			continue
		}
		if last >= 0 && *s.EnergyMJ < *ss[last].EnergyMJ {
			return 0, false
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	if first < 0 || first == last {
		return 0, false
	}
	j := float64(*ss[last].EnergyMJ-*ss[first].EnergyMJ) / 1000
	head, _ := integratedEnergy(ss[:first+1])
	tail, _ := integratedEnergy(ss[last:])
	return j + head + tail, true
}

// integratedEnergy integrates power over time with the trapezoid rule,
// bridging samples where power was not read with a straight line.
func integratedEnergy(ss []Sample) (float64, bool) {
	var j float64
	var last *Sample
	n := 0
	for i := range ss {
		s := &ss[i]
		if s.PowerW == nil {
			continue
		}
		if last != nil {
			dt := s.Time.Sub(last.Time).Seconds()
			j += (*s.PowerW + *last.PowerW) / 2 * dt
		}
		last = s
		n++
	}
	return j, n >= 2
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
