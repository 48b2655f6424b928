package gpu

import (
	"fmt"
	"time"
)

// PointTelemetry is the `gpu` field of one sweep point: per-device summaries over the
// measured window plus the totals that put energy next to throughput.
type PointTelemetry struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Devices []Summary `json:"devices"`

	// EnergyJ and MeanPowerW add up all devices; they are nil (with
	// EnergyNote saying why) when any device lacks the figure or was lost,
	// because a partial sum would understate the cost.
	EnergyJ    *float64 `json:"energy_j"`
	MeanPowerW *float64 `json:"mean_power_w"`
	EnergyNote string   `json:"energy_note,omitempty"`

	OutputTokens         int64    `json:"output_tokens"`
	JoulesPerOutputToken *float64 `json:"joules_per_output_token"`
}

// NewPoint builds a sweep point's GPU figure from the window's summaries and
// the point's output tokens (total_output_tokens over the same window).
func NewPoint(t0, t1 time.Time, sums []Summary, outputTokens int64) PointTelemetry {
	p := PointTelemetry{Start: t0, End: t1, Devices: sums, OutputTokens: outputTokens}
	p.EnergyJ, p.EnergyNote = TotalEnergy(sums)
	if p.EnergyNote == "" {
		p.MeanPowerW = totalPower(sums)
	}
	p.JoulesPerOutputToken = JoulesPerToken(p.EnergyJ, outputTokens)
	return p
}

// TotalEnergy sums EnergyJ over devices. It returns nil and a reason when
// there are no devices, or when any device has no energy figure or was lost
// during the window.
func TotalEnergy(sums []Summary) (*float64, string) {
	if len(sums) == 0 {
		return nil, "no GPUs sampled"
	}
	var j float64
	for _, s := range sums {
		switch {
		case s.Lost:
			return nil, fmt.Sprintf("GPU %d was lost during the window", s.Device.Index)
		case s.EnergyJ == nil:
			return nil, fmt.Sprintf("GPU %d has no energy or power readings in the window", s.Device.Index)
		}
		j += *s.EnergyJ
	}
	return &j, ""
}

// JoulesPerToken is energy per output token, the efficiency figure that sits
// next to output_throughput. Nil when energy is unknown or no tokens came out.
func JoulesPerToken(energyJ *float64, outputTokens int64) *float64 {
	if energyJ == nil || outputTokens <= 0 {
		return nil
	}
	v := *energyJ / float64(outputTokens)
	return &v
}

// totalPower sums mean power over devices, nil if any device lacks it.
func totalPower(sums []Summary) *float64 {
	var w float64
	for _, s := range sums {
		if s.MeanPowerW == nil {
			return nil
		}
		w += *s.MeanPowerW
	}
	return &w
}
