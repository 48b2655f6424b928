package report

import (
	"fmt"

	"gonum.org/v1/plot"

	"starlab/builtins/sweep/pointschema"
)

// slicePlots are a ramp sweep's charts, drawn from its slices since its points are few (one per
// ramp): slice throughput against the slice's target rate, with the sweep's knee when one was
// found (find_knee reads the slices), and slice TTFT against the same rate.
func slicePlots(r Report, s Sweep) []PlotRef {
	var parts []Sweep
	idx := s.slicePoints()
	for _, i := range idx {
		name := s.Name + " slices"
		if len(idx) > 1 {
			name = fmt.Sprintf("%s slices (%s)", s.Name, pointLabel(s, i))
		}
		if sl, ok := s.sliceSweep(i, name); ok {
			parts = append(parts, sl)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	x := pointschema.RequestRate
	return []PlotRef{
		{File: "slices_throughput_" + s.Name, Title: s.Name + ": slice throughput vs target rate", draw: func() (*plot.Plot, error) {
			if len(parts) == 1 {
				return throughputPlot(parts[0], kneeOf(r, s.Name))
			}
			return seriesPlot(s.Name+" slices: throughput", parts, x, pointschema.RequestThroughput, false, true)
		}},
		{File: "slices_ttft_" + s.Name, Title: s.Name + ": slice TTFT vs target rate", draw: func() (*plot.Plot, error) {
			return sliceTTFTPlot(s.Name, parts)
		}},
	}
}

// sliceTTFTPlot draws median TTFT (and p99 for a single ramp) of each slice against its target
// rate on a log axis, since TTFT spans orders of magnitude past the knee.
func sliceTTFTPlot(name string, parts []Sweep) (*plot.Plot, error) {
	x := pointschema.RequestRate
	p := newPlot(name+" slices: TTFT", x, "TTFT (ms, log)", true)
	if len(parts) == 1 {
		for j, f := range []string{pointschema.MedianTTFTMs, pointschema.P99TTFTMs} {
			pts, cis := xyCI(parts[0], x, f, true)
			if err := addSeries(p, j, f, pts, cis); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
	for j, part := range parts {
		pts, cis := xyCI(part, x, pointschema.MedianTTFTMs, true)
		if err := addSeries(p, j, part.Name+": "+pointschema.MedianTTFTMs, pts, cis); err != nil {
			return nil, err
		}
	}
	return p, nil
}
