package twin_test

import (
	"context"
	"testing"
	"time"

	"starlab/builtins/sim"
	"starlab/builtins/sweep"
	"starlab/builtins/twin"
)

// BenchmarkFit is one calibration: three 30 s closed-loop points (concurrency 1, 2 and 4, about
// 300 requests each, their requests known) fitted from scratch, both starts included. Every trial
// replays the three points on the twin in virtual time (an iteration is 1 + 6 trials, for the
// Jacobian). On the project's 2-core machine: 0.98 s per fit, the better start converging in 8
// iterations.
//
//	go test -run XXX -bench Fit -benchtime 3x ./builtins/twin
func BenchmarkFit(b *testing.B) {
	o := probeOptions(b, 11, 30*time.Second)
	var pts []twin.Point
	for i, c := range []int{1, 2, 4} {
		spec := sweep.PointSpec{Index: i, Concurrency: c}
		m, reqs := measureRequests(b, truth, o, spec)
		pts = append(pts, twin.Point{Sweep: "probe", Index: i, Options: o, Spec: spec, Measured: m, Requests: reqs})
	}
	p := twin.Problem{Base: sim.Config{Model: "Llama-3.1-8B"}, Limits: limits, Points: pts, Seed: 5}
	b.ResetTimer()
	for range b.N {
		res, err := twin.Fit(context.Background(), p)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Fit.Iterations), "iterations")
	}
}
