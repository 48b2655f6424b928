package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"starlab/builtins/sim"
)

// Info is what a start reports: the journaled result of the start step and the attributes a plan
// reads from its Server value.
type Info struct {
	Name string `json:"name"`
	// Backend is the engine: vllm, sglang, llama.cpp, ollama, sim or external.
	Backend string `json:"backend"`
	// EngineVersion is what the engine reports about itself ("" when it does not say).
	EngineVersion  string         `json:"engine_version,omitempty"`
	Model          string         `json:"model"`
	URL            string         `json:"url"`
	GPUs           int            `json:"gpus"`
	Devices        []int          `json:"devices,omitempty"`
	TensorParallel int            `json:"tensor_parallel"`
	DataParallel   int            `json:"data_parallel"`
	Config         map[string]any `json:"config"`
	KVCache        *KVCache       `json:"kv_cache"`
	Command        []string       `json:"command,omitempty"`
	Virtual        bool           `json:"virtual,omitempty"`
	// Calibration names the calibration a twin runs on (calibrations/NAME.json), "" otherwise.
	Calibration string `json:"calibration,omitempty"`
	// Launcher is "slurm" for a server run as a batch job ("" on this machine); JobID is its job
	// and ScriptSHA256 its job script's hash, so --resume re-attaches only to the same job.
	Launcher     string `json:"launcher,omitempty"`
	JobID        string `json:"job_id,omitempty"`
	ScriptSHA256 string `json:"script_sha256,omitempty"`
}

// Handle is one server of a plan. Its process may not be running: after --resume the start is
// taken from the journal and the server starts only if a step that needs it must really run
// (Ensure).
type Handle struct {
	Spec Spec
	Key  string

	mgr     *Manager
	mu      sync.Mutex
	info    Info
	running bool
	stopped bool
	devices []int
	proc    *process
	simSrv  *simServer
	job     *slurmJob
	// realStart is the start-up the simulated server would take for real (realStartTime).
	realStart time.Duration
}

// Info returns the server's description.
func (h *Handle) Info() Info {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.info
}

// Name is the server's name in logs, file names and reports.
func (h *Handle) Name() string { return h.Info().Name }

// Metrics names the server's Prometheus series (Path "" when its engine has no /metrics).
func (h *Handle) Metrics() MetricNames { return EngineMetrics(h.Spec.Backend) }

// Virtual reports whether the server runs in virtual time (no process, no HTTP).
func (h *Handle) Virtual() bool { return h.Info().Virtual }

// Ensure starts the server if it is not running (after --resume) and returns its URL.
func (h *Handle) Ensure(ctx context.Context) (string, error) {
	h.mu.Lock()
	running, stopped, virtual := h.running, h.stopped, h.info.Virtual
	h.mu.Unlock()
	switch {
	case virtual:
		return "", nil
	case stopped:
		return "", fmt.Errorf("server %s was stopped (stop_vllm); start it again with start_vllm or start_server", h.Name())
	case running:
		return h.Info().URL, h.Alive()
	}
	h.mgr.log.Info().Str("server", h.Name()).Msg("starting the server now: a step that needs it must run")
	info, err := h.mgr.launch(ctx, h)
	if err != nil {
		return "", err
	}
	return info.URL, nil
}

// Alive returns an error naming the exit status and last log lines if the server died.
func (h *Handle) Alive() error {
	h.mu.Lock()
	proc, simSrv, job, name := h.proc, h.simSrv, h.job, h.info.Name
	h.mu.Unlock()
	if job != nil {
		return job.alive(name)
	}
	if proc != nil {
		if err := proc.exitErr(); err != nil {
			return fmt.Errorf("server %s died (%v); last log lines:\n%s", name, err, proc.tail.Tail(20))
		}
	}
	if simSrv != nil {
		if err := simSrv.exitErr(); err != nil {
			return fmt.Errorf("server %s died (%v); last log lines:\n%s", name, err, simSrv.tail.Tail(20))
		}
	}
	return nil
}

// NewVirtual returns a fresh simulator in virtual time configured like this server (its twin when
// it has a calibration), for one sweep point of a --virtual run or of a twin.
func (h *Handle) NewVirtual(seed uint64) (*sim.VirtualServer, error) {
	cfg, err := simConfig(h.Spec)
	if err != nil {
		return nil, err
	}
	return sim.NewVirtual(cfg, seed)
}

// SimGPUs returns the in-process simulator's GPU states, or nil for a server whose GPUs are real
// (sampled through NVML) or unknown.
func (h *Handle) SimGPUs() func() []sim.GPUState {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.simSrv == nil {
		return nil
	}
	return h.simSrv.wall.GPUStates
}

// Devices are the GPU indices the server's process holds (nil when unknown, simulated or none).
func (h *Handle) Devices() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, process := engines[h.info.Backend].(ProcessEngine); !process || h.info.Virtual {
		return nil
	}
	return append([]int(nil), h.devices...)
}

// Stop stops the server and frees its GPUs. External servers are left running.
func (h *Handle) Stop() error {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return nil
	}
	h.stopped, h.running = true, false
	proc, simSrv, devices, job := h.proc, h.simSrv, h.devices, h.job
	jobID := h.info.JobID // a job adopted from the journal that no step needed is cancelled too
	h.proc, h.simSrv, h.devices, h.job = nil, nil, nil, nil
	h.mu.Unlock()
	if job != nil || jobID != "" {
		if job != nil {
			jobID = job.id
		}
		h.mgr.stopJob(h.Name(), jobID)
	}
	if proc != nil {
		proc.stop(h.mgr.Grace)
	}
	if simSrv != nil {
		simSrv.stop()
	}
	h.mgr.release(h, devices)
	if proc != nil || simSrv != nil {
		h.mgr.log.Info().Str("server", h.Name()).Msg("server stopped")
	}
	return nil
}

// ManifestEntry is a server as manifest.json lists it: which engine and version served which
// model, and how it was started.
type ManifestEntry struct {
	Name          string   `json:"name"`
	Engine        string   `json:"engine"`
	EngineVersion string   `json:"engine_version,omitempty"`
	Model         string   `json:"model"`
	URL           string   `json:"url,omitempty"`
	Command       []string `json:"command,omitempty"`
	Virtual       bool     `json:"virtual,omitempty"`
	// Calibration names the calibration a twin ran on.
	Calibration string `json:"calibration,omitempty"`
	// Launcher is "slurm" for a batch job, JobID its Slurm job.
	Launcher string `json:"launcher,omitempty"`
	JobID    string `json:"job_id,omitempty"`
}

// ManifestEntries lists servers for the manifest, in start order.
func ManifestEntries(infos []Info) []ManifestEntry {
	out := make([]ManifestEntry, len(infos))
	for i, in := range infos {
		out[i] = ManifestEntry{Name: in.Name, Engine: in.Backend, EngineVersion: in.EngineVersion, Model: in.Model,
			URL: in.URL, Command: in.Command, Virtual: in.Virtual, Calibration: in.Calibration,
			Launcher: in.Launcher, JobID: in.JobID}
	}
	return out
}

// Reachable says whether the server still answers: a process or Slurm job that ended is gone
// whatever its port says; otherwise its /v1/models must answer, within 5 s, at least once in
// three tries a second apart (a server busy with a burst still answers that). nil when it does.
func (h *Handle) Reachable(ctx context.Context) error {
	if err := h.Alive(); err != nil {
		return err
	}
	info := h.Info()
	if info.Virtual || info.URL == "" {
		return nil
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		if _, err = listModels(ctx, hc, strings.TrimRight(info.URL, "/")); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s does not answer: %v", info.URL, err)
}
