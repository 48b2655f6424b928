package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"starlab/runtime/paramerr"
)

// Engine is what starlab knows about one inference engine, however the server runs (a process
// starlab starts, the simulator in-process, a URL it attaches to): how to tell it is ready, what
// it says about itself and its capacity, and where its Prometheus metrics are. Adapters answer
// from the engine's own sources (see the engine_*.go files); nothing here is engine-specific.
type Engine interface {
	// Name is the engine as plans, Info.Backend and the manifest name it.
	Name() string
	// Check validates and completes a spec for this engine (defaults only it has, settings it
	// lacks); Spec.Normalize has done the engine-neutral part.
	Check(s *Spec) error
	// Ready probes a server once: nil when it takes requests (before any post-start step).
	Ready(ctx context.Context, hc *http.Client, url string) error
	// Version is what the running server says it is, "" when it does not say; log is its
	// start-up output, for engines that only print it there.
	Version(ctx context.Context, hc *http.Client, url, log string) string
	// Capacity reads the KV cache and slots from start-up output; nil when none is printed.
	Capacity(log string) *KVCache
	// Metrics names the engine's Prometheus series behind server_metrics.
	Metrics() MetricNames
}

// ProcessEngine is an engine starlab starts as a process group of its own.
type ProcessEngine interface {
	Engine
	// Executable says how the engine is started and how to get it.
	Executable() Executable
	// Command is the command line and environment that serve spec on host:port. prefix is the
	// executable and its leading words; dir is the server's private directory in the run
	// directory, for engines that keep state (ollama's models and HOME).
	Command(prefix []string, spec Spec, host string, port int, dir string) Command
	// ServedName is the model name requests should use ("" when the server's own list decides).
	ServedName(spec Spec) string
	// PostStart runs once Ready passed and before anything is measured: ollama creates and loads
	// its model here. Most engines have nothing to do.
	PostStart(ctx context.Context, s *Started) error
}

// Executable is how an engine is found: a command on PATH by default, overridden by
// --engine-cmd NAME=CMD or the environment variable.
type Executable struct {
	Default string // "vllm", "python3 -m sglang.launch_server"
	Env     string // STARLAB_VLLM
	Install string // what to do when it is missing
}

// Command is what starts one server.
type Command struct {
	Argv []string
	// Env is added to starlab's environment, before the plan's env= (which may override it).
	Env []string
	// Dirs are created before the start (directories the engine writes into).
	Dirs []string
}

// Started is what a post-start step may use.
type Started struct {
	Spec    Spec
	URL     string
	Command Command
	Prefix  []string
	// Env is the server's whole environment, for helpers that talk to it (ollama create).
	Env    []string
	Dir    string
	Log    io.Writer
	Client *http.Client
}

// MetricNames are an engine's Prometheus series for what a sweep point's server_metrics
// summarises; "" (or no name) where the engine has no such series.
type MetricNames struct {
	// Path is the metrics endpoint; "" when the engine serves none (ollama).
	Path    string
	Running string
	Waiting string
	// KVUsage is the KV-cache usage (0..1) under its names, newest first (vLLM renamed it).
	KVUsage     []string
	Preemptions string
}

// Engine names a plan may use.
const (
	EngineVLLM     = "vllm"
	EngineSGLang   = "sglang"
	EngineLlamaCpp = "llama.cpp"
	EngineOllama   = "ollama"
	EngineSim      = "sim"
	EngineExternal = "external"
)

var engines = map[string]Engine{
	EngineVLLM:     vllmEngine{},
	EngineSGLang:   sglangEngine{},
	EngineLlamaCpp: llamaCppEngine{},
	EngineOllama:   ollamaEngine{},
	EngineSim:      simEngine{},
	EngineExternal: externalEngine{},
}

// EngineNames lists the engines, in the order the documentation gives them.
func EngineNames() []string {
	return []string{EngineVLLM, EngineSGLang, EngineLlamaCpp, EngineOllama, EngineSim, EngineExternal}
}

// LookupEngine returns the named engine.
func LookupEngine(name string) (Engine, bool) {
	e, ok := engines[name]
	return e, ok
}

// EngineMetrics names the Prometheus series of the named engine (zero for an unknown name).
func EngineMetrics(name string) MetricNames {
	if e, ok := engines[name]; ok {
		return e.Metrics()
	}
	return MetricNames{}
}

// engineChoices is the list for error messages: "vllm", "sglang", ... or "external".
func engineChoices(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// ExecutableEnvs maps each process engine to the environment variable that overrides its command.
func ExecutableEnvs() map[string]string {
	out := map[string]string{}
	for name, e := range engines {
		if pe, ok := e.(ProcessEngine); ok {
			out[name] = pe.Executable().Env
		}
	}
	return out
}

// resolveCommand picks an engine's command: cmds (--engine-cmd) first, then its environment
// variable, then the default.
func resolveCommand(e ProcessEngine, cmds map[string]string) []string {
	x := e.Executable()
	for _, c := range []string{cmds[e.Name()], os.Getenv(x.Env), x.Default} {
		if f := strings.Fields(c); len(f) > 0 {
			return f
		}
	}
	return nil
}

// checkGPUEngine is the rule of engines that run on GPUs: gpus = tensor_parallel × data_parallel.
func checkGPUEngine(s *Spec) error {
	if s.GPUs < 1 {
		return paramerr.New("gpus", "want at least 1, got %d", s.GPUs)
	}
	if s.DataParallel == 0 {
		s.DataParallel = 1
	}
	if s.DataParallel < 1 {
		return paramerr.New("data_parallel", "want at least 1, got %d", s.DataParallel)
	}
	if s.TensorParallel == 0 {
		if s.GPUs%s.DataParallel != 0 {
			return paramerr.New("data_parallel", "gpus=%d is not a multiple of data_parallel=%d", s.GPUs, s.DataParallel)
		}
		s.TensorParallel = s.GPUs / s.DataParallel
	}
	if s.TensorParallel < 1 {
		return paramerr.New("tensor_parallel", "want at least 1, got %d", s.TensorParallel)
	}
	if s.TensorParallel*s.DataParallel != s.GPUs {
		return paramerr.New("gpus", "gpus=%d but tensor_parallel × data_parallel = %d × %d = %d", s.GPUs, s.TensorParallel, s.DataParallel, s.TensorParallel*s.DataParallel)
	}
	return nil
}

// DefaultSlots is the number of requests llama.cpp and ollama decode together when parallel is
// not given: ollama 0.6.5's own CPU default and what current llama-server picks for -np auto,
// written out so that the slot count (and so the capacity) never depends on the engine's version.
const DefaultSlots = 4

// checkSlotEngine is the rule of llama.cpp and ollama: one process, on the CPU unless gpus makes
// GPUs visible to it; max_num_seqs (parallel) counts its slots; the GGUF file fixes the
// quantization, and there is no memory fraction to set.
func checkSlotEngine(s *Spec, engine string) error {
	if s.GPUs < 0 {
		return paramerr.New("gpus", "want 0 (the CPU) or more, got %d", s.GPUs)
	}
	if s.TensorParallel > 1 {
		return paramerr.New("tensor_parallel", "%s runs one process: tensor_parallel is for vllm and sglang", engine)
	}
	if s.DataParallel > 1 {
		return paramerr.New("data_parallel", "%s runs one process: start several servers instead", engine)
	}
	s.TensorParallel, s.DataParallel = 1, 1
	if s.GPUMemoryUtilization > 0 {
		return paramerr.New("gpu_memory_utilization", "%s has no memory fraction: its KV cache is parallel × max_model_len tokens", engine)
	}
	if s.Quantization != "" {
		return paramerr.New("quantization", "%s takes the quantization from the GGUF file", engine)
	}
	if s.MaxNumSeqs == 0 {
		s.MaxNumSeqs = DefaultSlots
	}
	if !strings.HasSuffix(strings.ToLower(s.Model), ".gguf") {
		return paramerr.New("model", "%s serves a .gguf file, got %q", engine, s.Model)
	}
	return nil
}

// checkModelFile fails with a parameter error naming model when a model file is missing.
func checkModelFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return paramerr.New("model", "%s: no such file (a .gguf path, relative to the plan's directory)", path)
	}
	if st.IsDir() {
		return paramerr.New("model", "%s is a directory, want a .gguf file", path)
	}
	return nil
}

// matchModel finds the name a server serves for want: the same name, or the same model under
// the tag "latest" (ollama lists "tiny:latest" and accepts "tiny").
func matchModel(served []string, want string) (string, bool) {
	for _, s := range served {
		if s == want {
			return s, true
		}
	}
	for _, s := range served {
		if s == want+":latest" || s+":latest" == want {
			return s, true
		}
	}
	return "", false
}

// fetch GETs url and returns the status and up to limit bytes of the body (the rest is drained,
// so the connection is reused).
func fetch(ctx context.Context, hc *http.Client, url string, limit int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, body, err
}

// getJSON fetches url into v; any status but 200 is an error.
func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	status, body, err := fetch(ctx, hc, url, 1<<20)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, status)
	}
	return json.Unmarshal(body, v)
}

// versionField reads a string field of a JSON answer ("" when the server does not say).
func versionField(ctx context.Context, hc *http.Client, url, field string) string {
	var m map[string]any
	if getJSON(ctx, hc, url, &m) != nil {
		return ""
	}
	s, _ := m[field].(string)
	return s
}

// readyModels is the readiness of OpenAI-compatible servers that listen only once the model is
// loaded (vLLM, SGLang): /health and then /v1/models answer 200.
func readyModels(ctx context.Context, hc *http.Client, url string) error {
	if err := get(ctx, hc, url+"/health"); err != nil {
		return err
	}
	_, err := listModels(ctx, hc, url)
	return err
}
