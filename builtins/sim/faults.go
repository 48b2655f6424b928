package sim

import (
	"errors"
	"fmt"
	"time"
)

// Faults injects the failures a plan must survive. Random choices come from the server's seed,
// so a virtual run fails the same requests every time.
type Faults struct {
	// ErrorRate is the fraction of requests rejected with an internal server error (HTTP 500).
	ErrorRate float64
	// StallRate is the fraction of streams that stop after StallAfterTokens tokens and then hang
	// for StallFor (default 30 s) before the connection is dropped without [DONE].
	StallRate        float64
	StallAfterTokens int
	StallFor         time.Duration
	// CrashAfter kills the server when request number CrashAfter+1 arrives (0 = never): every
	// request in flight and after fails, and the HTTP server exits.
	CrashAfter int
	// FailAtStart makes start-up fail: "oom" prints vLLM's CUDA out-of-memory error; any other
	// text is printed as the error. ServeMain then exits 1; NewVirtual/NewWall return the error.
	FailAtStart string
}

// Errors a request can fail with.
var (
	ErrInjected = errors.New("sim: injected internal server error")
	ErrStalled  = errors.New("sim: stream stalled")
	ErrCrashed  = errors.New("sim: EngineCore encountered an issue; the engine is dead")
)

// startError is the failure FailAtStart asks for, worded as vLLM prints it.
func (r *Resolved) startError() error {
	switch r.Faults.FailAtStart {
	case "":
		return nil
	case "oom":
		total := r.GPUInfo.MemoryGiB
		return fmt.Errorf("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate %.2f GiB. GPU 0 has a total capacity of %.2f GiB of which %.2f GiB is free. Including non-PyTorch memory, this process has %.2f GiB memory in use.",
			1.96, total, 0.31, total-0.31)
	default:
		return errors.New(r.Faults.FailAtStart)
	}
}

func (f Faults) stallFor() time.Duration {
	if f.StallFor > 0 {
		return f.StallFor
	}
	return 30 * time.Second
}
