package gpu

import (
	"context"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Result is what nvml_sample returns: the devices, the raw series and a
// summary per device. When NVML is missing, Available is false, Reason says
// why, and everything else is empty: a plan can branch on it instead of
// failing on a machine without GPUs.
type Result struct {
	Available bool      `json:"available"`
	Reason    string    `json:"reason,omitempty"`
	Devices   []Device  `json:"devices"`
	Samples   []Sample  `json:"samples"`
	Summaries []Summary `json:"summaries"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

// Unavailable is the Result for a host without NVML.
func Unavailable(reason string) Result { return Result{Reason: reason} }

// Collect samples for duration (or until ctx ends) and returns the series.
// On cancellation it returns what was sampled so far together with
// ctx.Err(), so a Ctrl-C still leaves partial telemetry to write.
func Collect(ctx context.Context, lib nvml.Interface, cfg Config, duration time.Duration) (Result, error) {
	s, err := NewSampler(lib, cfg)
	if err != nil {
		return Result{}, err
	}
	if err := s.Start(ctx); err != nil {
		return Result{}, err
	}
	timer := time.NewTimer(duration)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	res := s.Stop()
	return res, ctx.Err()
}
