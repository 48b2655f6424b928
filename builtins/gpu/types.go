package gpu

import "time"

// Field names used in Sample.Missing and Sample.FieldErrors. They are stable
// strings because they end up in journals and reports.
const (
	FieldUtilization = "utilization" // GPU and memory utilisation
	FieldMemory      = "memory"      // memory used/total
	FieldPower       = "power"
	FieldEnergy      = "energy"
	FieldTemperature = "temperature"
	FieldSMClock     = "sm_clock"
	FieldProcesses   = "processes"
)

// Device identifies one GPU. It is also the manifest's per-device entry.
type Device struct {
	Index       int    `json:"index"`
	Name        string `json:"name"`
	UUID        string `json:"uuid"`
	MemoryTotal uint64 `json:"memory_total_bytes"`
}

// Process is one compute process on a device. UsedMemory is nil when NVML
// cannot attribute memory to it (no permission, WDDM).
type Process struct {
	PID        uint32  `json:"pid"`
	UsedMemory *uint64 `json:"used_memory_bytes"`
}

// Sample is one reading of one device. A pointer field is nil when the device
// could not provide that reading; the field's name is then in Missing (the
// device does not support it) or in FieldErrors (the call failed); EnergyMJ
// is also nil, with no entry, in rounds that skip the costly counter read.
// Nil is never reported as zero, so a card without power does not look idle.
type Sample struct {
	Time   time.Time `json:"time"`
	Device int       `json:"device"`

	UtilGPU     *float64  `json:"gpu_util_pct"`    // percent 0..100
	UtilMemory  *float64  `json:"memory_util_pct"` // percent 0..100
	MemoryUsed  *uint64   `json:"memory_used_bytes"`
	MemoryTotal *uint64   `json:"memory_total_bytes"`
	PowerW      *float64  `json:"power_w"`
	EnergyMJ    *uint64   `json:"energy_mj"` // counter since driver load, mJ; read every Config.EnergyInterval
	TempC       *int      `json:"temperature_c"`
	SMClockMHz  *int      `json:"sm_clock_mhz"`
	Processes   []Process `json:"processes"` // nil when unsupported, empty when none run

	Missing     []string          `json:"missing,omitempty"`
	FieldErrors map[string]string `json:"field_errors,omitempty"`
	// Err is set when the whole device failed in this round (lost, removed);
	// all readings are then nil and the device is not sampled again.
	Err string `json:"error,omitempty"`
}

// Summary condenses one device's samples over a window. Figures are nil when
// no sample in the window carried the reading.
type Summary struct {
	Device Device    `json:"device"`
	Start  time.Time `json:"start"` // first sample in the window
	End    time.Time `json:"end"`   // last sample in the window

	Samples    int      `json:"samples"` // rounds that read the device
	ErrorCount int      `json:"error_count"`
	Errors     []string `json:"errors,omitempty"` // distinct messages, first maxErrors
	Lost       bool     `json:"lost"`             // device disappeared in the window

	MeanUtilGPU    *float64 `json:"mean_gpu_util_pct"`
	MaxUtilGPU     *float64 `json:"max_gpu_util_pct"`
	MeanUtilMemory *float64 `json:"mean_memory_util_pct"`
	MaxUtilMemory  *float64 `json:"max_memory_util_pct"`
	MaxMemoryUsed  *uint64  `json:"max_memory_used_bytes"`
	MeanPowerW     *float64 `json:"mean_power_w"`
	MaxPowerW      *float64 `json:"max_power_w"`
	MaxTempC       *int     `json:"max_temperature_c"`
	MeanSMClockMHz *float64 `json:"mean_sm_clock_mhz"`

	// EnergyJ is the energy between Start and End: the counter's rise between
	// its first and last reading in the window, plus integrated power on the
	// edges outside them; without two counter readings, power integrated with
	// the trapezoid rule over the whole window.
	EnergyJ      *float64 `json:"energy_j"`
	EnergySource string   `json:"energy_source,omitempty"` // EnergyCounter or EnergyIntegrated
}

// Energy sources reported in Summary.EnergySource.
const (
	EnergyCounter    = "counter"
	EnergyIntegrated = "integrated_power"
)

// maxErrors bounds Summary.Errors so a flapping device cannot bloat reports.
const maxErrors = 10
