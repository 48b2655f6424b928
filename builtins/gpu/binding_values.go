package gpu

import (
	"fmt"
	"starlab/runtime"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// samplesValue is nvml_sample's result as plans see it: every record a struct whose missing
// readings are None.
func samplesValue(r Result) *runtime.Object {
	var devices, samples, sums []starlark.Value
	for _, d := range r.Devices {
		devices = append(devices, deviceValue(d))
	}
	for _, s := range r.Samples {
		samples = append(samples, sampleValue(s, r.Start))
	}
	for _, s := range r.Summaries {
		sums = append(sums, summaryValue(s))
	}
	return runtime.NewObject("GpuSamples", starlark.StringDict{
		"available": starlark.Bool(r.Available),
		"reason":    starlark.String(r.Reason),
		"devices":   starlark.NewList(devices),
		"samples":   starlark.NewList(samples),
		"summaries": starlark.NewList(sums),
		"start":     timeValue(r.Start),
		"end":       timeValue(r.End),
	}).WithString(func() string {
		return fmt.Sprintf("GpuSamples(available = %s, devices = %d, samples = %d)",
			starlark.Bool(r.Available), len(devices), len(samples))
	})
}

func record(fields starlark.StringDict) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, fields)
}

func deviceValue(d Device) starlark.Value {
	return record(starlark.StringDict{
		"index":              starlark.MakeInt(d.Index),
		"name":               starlark.String(d.Name),
		"uuid":               starlark.String(d.UUID),
		"memory_total_bytes": starlark.MakeUint64(d.MemoryTotal),
	})
}

func sampleValue(s Sample, start time.Time) starlark.Value {
	var procs starlark.Value = starlark.None
	if s.Processes != nil {
		ps := make([]starlark.Value, len(s.Processes))
		for i, p := range s.Processes {
			ps[i] = record(starlark.StringDict{
				"pid":               starlark.MakeUint64(uint64(p.PID)),
				"used_memory_bytes": optUint(p.UsedMemory),
			})
		}
		procs = starlark.NewList(ps)
	}
	missing := make([]starlark.Value, len(s.Missing))
	for i, m := range s.Missing {
		missing[i] = starlark.String(m)
	}
	errs := starlark.NewDict(len(s.FieldErrors))
	for _, k := range sortedKeys(s.FieldErrors) {
		_ = errs.SetKey(starlark.String(k), starlark.String(s.FieldErrors[k]))
	}
	var t starlark.Value = starlark.None
	if !start.IsZero() {
		t = starlark.Float(s.Time.Sub(start).Seconds())
	}
	return record(starlark.StringDict{
		"time":               timeValue(s.Time),
		"t":                  t,
		"device":             starlark.MakeInt(s.Device),
		"gpu_util_pct":       optFloat(s.UtilGPU),
		"memory_util_pct":    optFloat(s.UtilMemory),
		"memory_used_bytes":  optUint(s.MemoryUsed),
		"memory_total_bytes": optUint(s.MemoryTotal),
		"power_w":            optFloat(s.PowerW),
		"energy_mj":          optUint(s.EnergyMJ),
		"temperature_c":      optInt(s.TempC),
		"sm_clock_mhz":       optInt(s.SMClockMHz),
		"processes":          procs,
		"missing":            starlark.NewList(missing),
		"field_errors":       errs,
		"error":              optString(s.Err),
	})
}

func summaryValue(s Summary) starlark.Value {
	errs := make([]starlark.Value, len(s.Errors))
	for i, e := range s.Errors {
		errs[i] = starlark.String(e)
	}
	return record(starlark.StringDict{
		"device":                deviceValue(s.Device),
		"start":                 timeValue(s.Start),
		"end":                   timeValue(s.End),
		"samples":               starlark.MakeInt(s.Samples),
		"error_count":           starlark.MakeInt(s.ErrorCount),
		"errors":                starlark.NewList(errs),
		"lost":                  starlark.Bool(s.Lost),
		"mean_gpu_util_pct":     optFloat(s.MeanUtilGPU),
		"max_gpu_util_pct":      optFloat(s.MaxUtilGPU),
		"mean_memory_util_pct":  optFloat(s.MeanUtilMemory),
		"max_memory_util_pct":   optFloat(s.MaxUtilMemory),
		"max_memory_used_bytes": optUint(s.MaxMemoryUsed),
		"mean_power_w":          optFloat(s.MeanPowerW),
		"max_power_w":           optFloat(s.MaxPowerW),
		"max_temperature_c":     optInt(s.MaxTempC),
		"mean_sm_clock_mhz":     optFloat(s.MeanSMClockMHz),
		"energy_j":              optFloat(s.EnergyJ),
		"energy_source":         optString(s.EnergySource),
	})
}

// timeValue is an RFC 3339 timestamp, None for the zero time.
func timeValue(t time.Time) starlark.Value {
	if t.IsZero() {
		return starlark.None
	}
	return starlark.String(t.UTC().Format(time.RFC3339Nano))
}

func optFloat(p *float64) starlark.Value {
	if p == nil {
		return starlark.None
	}
	return starlark.Float(*p)
}

func optUint(p *uint64) starlark.Value {
	if p == nil {
		return starlark.None
	}
	return starlark.MakeUint64(*p)
}

func optInt(p *int) starlark.Value {
	if p == nil {
		return starlark.None
	}
	return starlark.MakeInt(*p)
}

func optString(s string) starlark.Value {
	if s == "" {
		return starlark.None
	}
	return starlark.String(s)
}
