package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"starlab/runtime"
	"strings"
	"time"

	"starlab/runtime/paramerr"
)

// Backends a server can run on (the engine names, kept under their first-wave names).
const (
	BackendVLLM     = EngineVLLM
	BackendSim      = EngineSim
	BackendExternal = EngineExternal
)

// Spec is what a plan asked for. Two specs with the same Key describe the same server, which is
// reused instead of restarted (a model load takes minutes on real hardware).
type Spec struct {
	Name           string `json:"name,omitempty"`
	Model          string `json:"model"`
	GPUs           int    `json:"gpus"`
	TensorParallel int    `json:"tensor_parallel"`
	DataParallel   int    `json:"data_parallel"`
	// MaxNumSeqs is how many sequences the engine decodes together: vLLM's max_num_seqs, SGLang's
	// max_running_requests, llama.cpp's and ollama's parallel slots.
	MaxNumSeqs           int               `json:"max_num_seqs,omitempty"`
	MaxModelLen          int               `json:"max_model_len,omitempty"`
	GPUMemoryUtilization float64           `json:"gpu_memory_utilization,omitempty"`
	Quantization         string            `json:"quantization,omitempty"`
	ExtraArgs            []string          `json:"extra_args,omitempty"`
	Env                  map[string]string `json:"env,omitempty"`
	// Backend is the engine: vllm, sglang, llama.cpp, ollama, sim or external.
	Backend      string        `json:"backend"`
	URL          string        `json:"url,omitempty"`
	Port         int           `json:"port,omitempty"`
	ReadyTimeout time.Duration `json:"ready_timeout"`
	AllowBusy    bool          `json:"allow_busy,omitempty"`
	// SimGPU is the GPU the simulator models (catalog name) for backend "sim" and --virtual runs.
	SimGPU string `json:"sim_gpu,omitempty"`
	// Calibration makes the simulator a fitted server's twin: backend "sim" then runs in virtual
	// time with it, and any other engine runs as that twin under --virtual.
	Calibration *CalibrationRef `json:"calibration,omitempty"`
	// Launcher runs the engine as a Slurm batch job (slurm.go); nil is this machine.
	Launcher *Slurm `json:"launcher,omitempty"`
	// EnablePrefixCaching switches automatic prefix caching on or off; nil keeps the engine's
	// default (vLLM V1 and SGLang cache). Only a set value is part of the Key.
	EnablePrefixCaching *bool `json:"enable_prefix_caching,omitempty"`
}

// Normalize validates the spec and fills the derived fields; the engine checks what is its own
// (for GPU engines tensor_parallel defaults to gpus / data_parallel, and gpus must equal
// tensor_parallel × data_parallel).
func (s *Spec) Normalize() error {
	if s.Backend == "" {
		s.Backend = BackendVLLM
	}
	e, ok := engines[s.Backend]
	if !ok {
		return paramerr.New("backend", "want %s, got %q", engineChoices(EngineNames()), s.Backend)
	}
	if s.EnablePrefixCaching != nil && (slotEngine(s.Backend) || s.Backend == BackendExternal) {
		return paramerr.New("enable_prefix_caching", "%s has no switch for prefix caching: leave enable_prefix_caching unset (vllm, sglang and sim take it)", s.Backend)
	}
	if s.Backend == BackendExternal {
		if s.Launcher != nil {
			return paramerr.New("launcher", "an external server runs wherever it runs: launcher= is for servers starlab starts")
		}
		return e.Check(s)
	}
	if s.URL != "" {
		return paramerr.New("url", "only backend \"external\" takes a url")
	}
	if s.Model == "" && s.Calibration != nil {
		s.Model = s.Calibration.Cal.Model // the model the calibration measured
	}
	if s.Model == "" {
		return paramerr.New("model", "want a model name or path")
	}
	if s.MaxNumSeqs < 0 {
		return paramerr.New("max_num_seqs", "want a positive number, got %d", s.MaxNumSeqs)
	}
	if s.MaxModelLen < 0 {
		return paramerr.New("max_model_len", "want a positive number, got %d", s.MaxModelLen)
	}
	if s.GPUMemoryUtilization < 0 || s.GPUMemoryUtilization > 1 {
		return paramerr.New("gpu_memory_utilization", "want a fraction in (0, 1], got %v", s.GPUMemoryUtilization)
	}
	if s.Port < 0 || s.Port > 65535 {
		return paramerr.New("port", "want 1..65535, got %d", s.Port)
	}
	if s.ReadyTimeout <= 0 {
		s.ReadyTimeout = 20 * time.Minute
	}
	if err := e.Check(s); err != nil {
		return err
	}
	if err := s.checkLauncher(); err != nil {
		return err
	}
	return s.checkCalibration()
}

// Key identifies the server's configuration: same key, same server.
func (s Spec) Key() string {
	k := s
	k.Name = ""
	k.ReadyTimeout = 0
	data, _ := json.Marshal(k)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}

// DefaultName is a readable name derived from the configuration: "Llama-3.1-8B-1gpu",
// "Llama-3.1-8B-4gpu-dp4", "Llama-3.1-8B-sglang-2gpu", "tiny-ollama-cpu", "tiny-ollama-cpu-twin".
func (s Spec) DefaultName() string {
	if s.Backend == BackendExternal {
		return "external"
	}
	if s.Twin() {
		// Named as the server it is the twin of would be: "tiny-ollama-cpu-twin".
		real := s
		real.Backend, real.Calibration = s.Calibration.Cal.Engine, nil
		if _, ok := engines[real.Backend]; !ok || real.Backend == BackendExternal {
			real.Backend = BackendVLLM
		}
		if s.Calibration.Cal.GPU == "" {
			real.GPUs = 0
		}
		return real.DefaultName() + "-twin"
	}
	base := path.Base(strings.TrimSuffix(s.Model, "/config.json"))
	if ext := path.Ext(base); strings.EqualFold(ext, ".gguf") {
		base = strings.TrimSuffix(base, ext)
	}
	if s.Backend != BackendVLLM && s.Backend != BackendSim {
		base += "-" + strings.ReplaceAll(s.Backend, ".", "")
	}
	base = runtime.SafeFileName(base) // a model path may hold anything a file name cannot
	name := fmt.Sprintf("%s-%dgpu", base, s.GPUs)
	if s.GPUs == 0 {
		name = base + "-cpu"
	}
	if s.DataParallel > 1 {
		name += fmt.Sprintf("-dp%d", s.DataParallel)
	}
	return name
}

// envList renders env for exec, sorted so the command line in the log is stable.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
