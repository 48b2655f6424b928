package gpu

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"starlab/builtins/server"
	"starlab/runtime"
)

// This file is the per-run side of the package: one NVML library per run,
// opened by the run hook, shared by every probe and nvml_sample call, shut
// down when the run ends.

func init() { runtime.RegisterRunHook(setupRun) }

// runGPUs is the package's state in one run.
type runGPUs struct {
	opener *Opener
	r      *runtime.Run

	mu     sync.Mutex
	logged map[string]bool
	inv    *Inventory // the real inventory, once NVML opened
}

type runKey struct{}

// stateOf returns the run's GPU state; its first use registers the NVML
// shutdown, so closing happens after the servers stop (closers run in
// reverse order and the hook runs before any server starts).
func stateOf(r *runtime.Run) *runGPUs {
	return runtime.State(r, runKey{}, func() *runGPUs {
		st := &runGPUs{r: r, logged: map[string]bool{}}
		st.opener = &Opener{Logf: func(format string, args ...any) { r.Log.Warn().Msgf(format, args...) }}
		r.OnClose(func() {
			if err := st.opener.Close(); err != nil {
				r.Log.Warn().Err(err).Msg("gpu: closing NVML")
			}
		})
		return st
	})
}

// logOnce warns once per run per message, so a sweep of twenty points
// says why its GPUs are not sampled once, not twenty times.
func (st *runGPUs) logOnce(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	st.mu.Lock()
	seen := st.logged[msg]
	st.logged[msg] = true
	st.mu.Unlock()
	if !seen {
		st.r.Log.Warn().Msg(msg)
	}
}

// real opens the run's NVML library (once) and returns it with its inventory.
func (st *runGPUs) real() (*Provider, *Inventory, string) {
	p, ok, reason := st.opener.Open()
	if !ok {
		return nil, nil, reason
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inv == nil {
		inv, err := p.Inventory()
		if err != nil {
			return nil, nil, err.Error()
		}
		st.inv = &inv
	}
	return p, st.inv, ""
}

// manifestGPUs is the manifest's "gpus" entry when NVML is there.
type manifestGPUs struct {
	Available bool `json:"available"`
	Inventory
}

// setupRun records the machine's GPUs in the manifest and gives the server
// manager the GPU count and the busy check. Virtual and replay runs start
// no real server, so they leave NVML closed.
func setupRun(r *runtime.Run) {
	unavailable := func(reason string) {
		if err := r.SetManifest("gpus", map[string]any{"available": false, "reason": reason}); err != nil {
			r.Log.Warn().Err(err).Msg("gpu: writing manifest")
		}
	}
	switch {
	case r.Virtual:
		unavailable("--virtual run: every server is simulated, NVML was not opened")
		return
	case r.Mode == runtime.Replay:
		unavailable("replay: no server runs, NVML was not opened")
		return
	}
	st := stateOf(r)
	p, inv, reason := st.real()
	if p == nil {
		unavailable(reason) // the Opener has logged it
		return
	}
	if err := r.SetManifest("gpus", manifestGPUs{Available: true, Inventory: *inv}); err != nil {
		r.Log.Warn().Err(err).Msg("gpu: writing manifest")
	}
	cudaVisible := os.Getenv("CUDA_VISIBLE_DEVICES")
	count := len(inv.Devices)
	if n := visibleCount(cudaVisible); n >= 0 {
		count = min(count, n)
	}
	server.ManagerFor(r).SetGPUs(count, func(devices []int) error {
		idx, err := NVMLIndices(devices, cudaVisible, inv.Devices)
		if err != nil {
			st.logOnce("gpu: busy check skipped: %v", err)
			return nil
		}
		return CheckBusy(p.Lib, idx)
	})
}

// visibleCount is the number of entries in CUDA_VISIBLE_DEVICES, or -1 when
// it is unset and every GPU is visible.
func visibleCount(cudaVisible string) int {
	if strings.TrimSpace(cudaVisible) == "" {
		return -1
	}
	return len(strings.Split(cudaVisible, ","))
}
