package gpu

import (
	"fmt"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// deviceGone reports whether a return code means the device itself is gone
// (fallen off the bus, reset, library torn down), as opposed to one reading
// failing. Sampling such a device again would only repeat the error.
func deviceGone(ret nvml.Return) bool {
	switch ret {
	case nvml.ERROR_GPU_IS_LOST, nvml.ERROR_GPU_NOT_FOUND, nvml.ERROR_RESET_REQUIRED,
		nvml.ERROR_UNINITIALIZED, nvml.ERROR_DRIVER_NOT_LOADED:
		return true
	}
	return false
}

// lostError is returned by readDevice when the device is gone.
type lostError struct {
	field string
	ret   nvml.Return
}

func (e lostError) Error() string {
	return fmt.Sprintf("device lost (%s: %s)", e.field, retString(e.ret))
}

// retString names a return code. It is only called after a successful Init,
// when go-nvml's ErrorString is safe (before that it is pure Go anyway).
func retString(ret nvml.Return) string { return ret.Error() }

// reading collects per-field outcomes while one device is read.
type reading struct {
	s    *Sample
	lost *lostError
}

// ok records the outcome of one NVML call and reports whether it succeeded.
// NOT_SUPPORTED marks the field missing; a lost device aborts the read.
func (r *reading) ok(field string, ret nvml.Return) bool {
	switch {
	case ret == nvml.SUCCESS:
		return true
	case ret == nvml.ERROR_NOT_SUPPORTED:
		r.s.Missing = append(r.s.Missing, field)
	case deviceGone(ret):
		r.lost = &lostError{field: field, ret: ret}
	default:
		if r.s.FieldErrors == nil {
			r.s.FieldErrors = map[string]string{}
		}
		r.s.FieldErrors[field] = retString(ret)
	}
	return false
}

// readDevice takes one sample of dev. It returns a non-nil error only when
// the device is gone; the sample then carries just Time, Device and Err.
// Readings are taken in a fixed order and the first sign of a lost device
// stops the read: the sampler then drops the device instead of hammering it.
// The energy counter is read only when withEnergy is set: on an H100 that
// one call costs about 4 ms of CPU, a hundred times the rest of the round.
func readDevice(dev nvml.Device, index int, now time.Time, withEnergy bool) (Sample, error) {
	s := Sample{Time: now, Device: index}
	r := reading{s: &s}
	if u, ret := dev.GetUtilizationRates(); r.ok(FieldUtilization, ret) {
		g, m := float64(u.Gpu), float64(u.Memory)
		s.UtilGPU, s.UtilMemory = &g, &m
	}
	if r.lost == nil {
		if m, ret := dev.GetMemoryInfo(); r.ok(FieldMemory, ret) {
			s.MemoryUsed, s.MemoryTotal = &m.Used, &m.Total
		}
	}
	if r.lost == nil {
		if mw, ret := dev.GetPowerUsage(); r.ok(FieldPower, ret) {
			w := float64(mw) / 1000
			s.PowerW = &w
		}
	}
	if r.lost == nil && withEnergy {
		if mj, ret := dev.GetTotalEnergyConsumption(); r.ok(FieldEnergy, ret) {
			s.EnergyMJ = &mj
		}
	}
	if r.lost == nil {
		if c, ret := dev.GetTemperature(nvml.TEMPERATURE_GPU); r.ok(FieldTemperature, ret) {
			t := int(c)
			s.TempC = &t
		}
	}
	if r.lost == nil {
		if mhz, ret := dev.GetClockInfo(nvml.CLOCK_SM); r.ok(FieldSMClock, ret) {
			c := int(mhz)
			s.SMClockMHz = &c
		}
	}
	if r.lost == nil {
		if ps, ret := dev.GetComputeRunningProcesses(); r.ok(FieldProcesses, ret) {
			s.Processes = convertProcesses(ps)
		}
	}
	if r.lost != nil {
		return Sample{Time: now, Device: index, Err: r.lost.Error()}, *r.lost
	}
	return s, nil
}

// notAvailable is NVML_VALUE_NOT_AVAILABLE (-1) as an unsigned long long.
const notAvailable = ^uint64(0)

// convertProcesses maps NVML process records, turning NVML's "not available"
// memory marker into nil rather than a huge number.
func convertProcesses(ps []nvml.ProcessInfo) []Process {
	out := make([]Process, len(ps))
	for i, p := range ps {
		out[i].PID = p.Pid
		if p.UsedGpuMemory != notAvailable {
			m := p.UsedGpuMemory
			out[i].UsedMemory = &m
		}
	}
	return out
}
