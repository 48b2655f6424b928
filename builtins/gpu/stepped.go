package gpu

import (
	"context"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// CollectStepped is Collect on a clock the caller drives: it samples at 0,
// interval, 2·interval, ... up to duration after VirtualEpoch, calling
// advance(t) before each round so the simulator is at t. Nothing sleeps,
// so a virtual run previews an hour of telemetry in milliseconds. The
// first and last rounds read the energy counter; ctx is checked between
// rounds.
func CollectStepped(ctx context.Context, lib nvml.Interface, cfg Config, duration time.Duration, advance func(time.Duration)) (Result, error) {
	s, err := NewSampler(lib, cfg)
	if err != nil {
		return Result{}, err
	}
	step := s.Interval()
	for t := time.Duration(0); ; t += step {
		if t > duration {
			t = duration
		}
		if err := ctx.Err(); err != nil {
			return result(s, VirtualEpoch, VirtualEpoch.Add(t)), err
		}
		advance(t)
		if t == 0 || t == duration {
			s.MarkAt(VirtualEpoch.Add(t))
		} else {
			s.RoundAt(VirtualEpoch.Add(t))
		}
		if t == duration {
			break
		}
	}
	return result(s, VirtualEpoch, VirtualEpoch.Add(duration)), nil
}

// result is a sampler's series and summaries over [start, end].
func result(s *Sampler, start, end time.Time) Result {
	return Result{
		Available: true,
		Devices:   s.Devices(),
		Samples:   s.Samples(),
		Summaries: s.Window(start, end),
		Start:     start,
		End:       end,
	}
}
