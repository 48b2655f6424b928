package sim

import (
	"testing"
	"time"
)

// BenchmarkVirtualPoint runs one 10-minute sweep point at 50 req/s (≈ 30,000 requests of 512 in /
// 128 out, Llama-3.1-8B on one H100, just below its knee) in virtual time.
// Measured on this 2-core machine: ≈ 0.21 s per point, ≈ 140,000 simulated requests/s
// (go test -bench VirtualPoint -benchtime 3x ./builtins/sim).
func BenchmarkVirtualPoint(b *testing.B) {
	var reqs int
	for b.Loop() {
		s := mustVirtual(b, Config{Model: "Llama-3.1-8B"}, 1)
		p := poisson(s, 50, 10*time.Minute, 512, 128, true, 1)
		reqs += len(p.records)
	}
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "sim-req/s")
}
