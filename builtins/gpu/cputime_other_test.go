//go:build !unix

package gpu

import "time"

// processStart anchors cpuTime where no rusage exists.
var processStart = time.Now()

// cpuTime falls back to wall time: the benchmark is single-goroutine, so
// this only misses concurrent GC work.
func cpuTime() time.Duration { return time.Since(processStart) }
