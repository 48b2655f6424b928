package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"starlab/builtins/sim"
	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name: "start_vllm",
		Signature: `start_vllm(model=None, gpus=1, tensor_parallel=None, data_parallel=1, max_num_seqs=None,
           max_model_len=None, gpu_memory_utilization=None, quantization=None, extra_args=[],
           env={}, backend="vllm", url=None, ready_timeout="20m", name=None, port=None,
           allow_busy=False, sim_gpu=None, launcher=None, calibration=None,
           enable_prefix_caching=None)`,
		Doc: `Starts an inference server; returns a Server (.name .url .model .gpus .config .kv_cache .engine .engine_version .stop()).

start_vllm(...) is start_server("vllm", ...) with backend= choosing vllm, sim or external.
model is required except with backend="external" (there it names the model to request, default
the one the server lists; NAME and NAME:latest are the same model, and .model is the name the
server serves) or with a calibration (the calibrated model); a .gguf file is relative to the
plan's directory. backend="vllm" runs "vllm serve MODEL ..." (the executable from
--engine-cmd vllm=CMD, --vllm-cmd or STARLAB_VLLM, default "vllm") on GPUs of its own
(CUDA_VISIBLE_DEVICES; two servers of a plan never share a GPU) and a free port, with its output in
servers/<name>.log, and waits until /health and /v1/models answer (ready_timeout). backend="sim"
serves the built-in simulator in-process (sim_gpu picks the simulated GPU, default H100);
backend="external" attaches to url and never stops it. With --virtual every server is the
simulator in virtual time.

calibration is a Calibration from calibrate() or the path of a calibration file (as calibrate()
writes calibrations/NAME.json; relative to the plan's directory, else to the run directory). With
backend="sim" the server is that calibration's twin, in virtual time even without --virtual: the
simulator with the fitted step time and the measured engine's limits (max_num_seqs, max_model_len,
KV tokens, llama.cpp's and ollama's slots in .kv_cache) on the calibrated GPU (sim_gpu may not
name another); arguments given override the limits. gpus, data_parallel and tensor_parallel
scale it: each data-parallel replica has the calibrated limits; a tensor-parallel size above the
calibrated one divides the GPU share of the step time and adds the all-reduce, so it needs a
calibration made on a GPU. Another backend uses the calibration only under --virtual, where it
becomes the twin. The calibration's name and content are part of the server's identity.

kv_cache is parsed from the engine's start-up log: struct(memory_gib, tokens, max_concurrency,
tokens_per_request, slots, slot_context), or None; slots and slot_context are None unless the
engine states them (llama.cpp, ollama, SGLang). gpus = tensor_parallel x data_parallel
(tensor_parallel defaults to gpus / data_parallel). A server with the same configuration as a
running one is reused. On real GPUs, GPUs already holding other processes' memory are an error
unless allow_busy=True. The start is a journaled step: after --resume the server starts only when
a step that needs it must run. The manifest lists every server with its engine and version.
Every server stops when the plan ends, fails or is interrupted.

launcher says where the engine runs: None is this machine, slurm(...) a Slurm batch job (see
slurm). The launcher is part of the server's identity.

enable_prefix_caching switches automatic prefix caching: None keeps the engine's default (on in
vLLM V1, and in the simulator, which caches 16-token prompt blocks as vLLM does and reports
vllm:prefix_cache_queries and vllm:prefix_cache_hits), True adds --enable-prefix-caching,
False --no-enable-prefix-caching. A value given is part of the server's identity.`,
		Fn: startVLLM,
	})
	runtime.Register(runtime.Builtin{
		Name: "start_server",
		Signature: `start_server(engine, model=None, gpus=None, tensor_parallel=None, data_parallel=1,
           max_num_seqs=None, max_model_len=None, gpu_memory_utilization=None, quantization=None,
           extra_args=[], env={}, url=None, ready_timeout="20m", name=None, port=None,
           allow_busy=False, sim_gpu=None, parallel=None, launcher=None, calibration=None,
           enable_prefix_caching=None)`,
		Doc: `Starts a server of any engine and returns a Server, as start_vllm does.

engine is "vllm", "sglang", "llama.cpp", "ollama", "sim" or "external". Each engine's executable
comes from --engine-cmd ENGINE=CMD, else STARLAB_VLLM, STARLAB_SGLANG, STARLAB_LLAMA_CPP or
STARLAB_OLLAMA, else PATH: "vllm", "python3 -m sglang.launch_server", "llama-server", "ollama".
The common arguments become each engine's own flags:
  vllm:      vllm serve MODEL --tensor-parallel-size --data-parallel-size --max-num-seqs
             --max-model-len --gpu-memory-utilization --quantization
  sglang:    --model-path MODEL --tensor-parallel-size --data-parallel-size
             --max-running-requests --context-length --mem-fraction-static --quantization
             --enable-metrics
  llama.cpp: llama-server --model FILE --parallel N --ctx-size max_model_len x N (llama.cpp
             splits its context across the slots) --alias NAME --metrics
  ollama:    ollama serve with OLLAMA_HOST, OLLAMA_MODELS and HOME in servers/<name>.ollama/,
             OLLAMA_NUM_PARALLEL=N, OLLAMA_KEEP_ALIVE=-1, OLLAMA_NOPRUNE=1; then
             "ollama create NAME -f Modelfile" (FROM the file, TEMPLATE {{ .Prompt }} so prompts
             are not wrapped, PARAMETER num_ctx max_model_len, default 2048) and a load of the
             model, so the first measured request does not pay for it. Nothing is pulled.
parallel is max_num_seqs under the name llama.cpp and ollama use (give one of the two); those two
engines take a .gguf file (model, relative to the plan's directory), run on the CPU unless
gpus is given, and decode 4 requests together unless parallel says otherwise. gpus defaults to
1 for vllm, sglang and sim. Settings an engine lacks (quantization for a GGUF, tensor_parallel
for llama.cpp) are errors. The engine's version is read from the server (vLLM /version, SGLang
/get_server_info, llama.cpp /props, ollama /api/version) into .engine_version and the manifest;
the model is the name the server serves (ollama: "NAME:latest"). calibration is start_vllm's:
start_server("sim", calibration=cal) is the twin of the calibrated server (a GGUF model is read
from its header); a llama.cpp or ollama server runs under --virtual only with a calibration,
as its twin. enable_prefix_caching is start_vllm's for vllm and sim; for sglang False adds
--disable-radix-cache; llama.cpp, ollama and external servers take no value for it.`,
		Fn: startServer,
	})
	runtime.Register(runtime.Builtin{
		Name:      "stop_vllm",
		Signature: `stop_vllm(server)`,
		Doc: `Stops a server now (SIGTERM to its process group, SIGKILL after a grace period) and frees
its GPUs. Servers also stop when the plan ends; an external server is never stopped.`,
		Fn: stopVLLM,
	})
}

type managerKey struct{}

// ManagerFor returns the run's server manager, creating it (and its teardown) on first use.
func ManagerFor(r *runtime.Run) *Manager {
	return runtime.State(r, managerKey{}, func() *Manager {
		m := NewManager(r.Dir, machineGPUs(), r.Log)
		m.EngineCmds, m.Virtual, m.DryRun, m.Say = r.EngineCmds, r.Virtual, r.DryRun, r.Say
		m.SeedFor = func(name string) uint64 { return r.DeriveSeed("server/" + name) }
		m.OnChange = func(infos []Info) {
			if err := r.SetManifest("servers", ManifestEntries(infos)); err != nil {
				r.Log.Warn().Err(err).Msg("server: writing the manifest")
			}
		}
		r.OnClose(m.StopAll)
		return m
	})
}

// machineGPUs is the GPU count CUDA_VISIBLE_DEVICES allows, or -1 when it does not say.
func machineGPUs() int {
	v := strings.TrimSpace(os.Getenv("CUDA_VISIBLE_DEVICES"))
	if v == "" {
		return -1
	}
	return len(strings.Split(v, ","))
}

// serverArgs are the arguments start_vllm and start_server share.
type serverArgs struct {
	model, quant, url, name, simGPU runtime.Opt[string]
	tp, maxSeqs, maxLen, port       runtime.Opt[int]
	gmu                             runtime.Opt[float64]
	dp                              int
	extra                           runtime.Strings
	env                             runtime.StringMap
	ready                           runtime.Duration
	allowBusy                       bool
	calibration                     starlark.Value
	launcher                        starlark.Value
	prefixCaching                   runtime.Opt[bool]
}

func newServerArgs() serverArgs { return serverArgs{dp: 1, ready: runtime.Duration(20 * time.Minute)} }

// spec is the Spec the arguments ask for. It resolves the plan's files: the calibration, and a
// model file (a llama.cpp or ollama model, or any .gguf), relative to the plan's directory as
// dataset(path=...) is. A calibrated server's model defaults to the calibration's.
func (a *serverArgs) spec(thread *starlark.Thread, engine string, gpus int) (Spec, error) {
	cal, err := calibrationArg(thread, a.calibration)
	if err != nil {
		return Spec{}, err
	}
	if cal != nil && !a.model.Set && engine != BackendExternal && cal.Cal.Model != "" {
		a.model = runtime.Opt[string]{V: cal.Cal.Model, Set: true}
	}
	if a.model.Set && engine != BackendExternal && !filepath.IsAbs(a.model.V) &&
		(slotEngine(engine) || strings.HasSuffix(strings.ToLower(a.model.V), ".gguf")) {
		a.model.V = planFile(thread, a.model.V)
	}
	launcher, err := launcherArg(a.launcher)
	if err != nil {
		return Spec{}, err
	}
	if a.name.Set {
		// The name becomes servers/NAME.log, a Slurm job name and a sweep's default name.
		if err := runtime.CheckFileName(a.name.V); err != nil {
			return Spec{}, paramerr.Wrap("name", err)
		}
	}
	spec := Spec{Launcher: launcher, Backend: engine, GPUs: gpus, DataParallel: a.dp, Model: a.model.V, Quantization: a.quant.V, URL: a.url.V,
		Name: a.name.V, SimGPU: a.simGPU.V, TensorParallel: a.tp.V, MaxNumSeqs: a.maxSeqs.V, MaxModelLen: a.maxLen.V,
		Port: a.port.V, GPUMemoryUtilization: a.gmu.V, ExtraArgs: a.extra, Env: a.env, ReadyTimeout: a.ready.Std(),
		AllowBusy: a.allowBusy, Calibration: cal}
	if a.prefixCaching.Set {
		on := a.prefixCaching.V
		spec.EnablePrefixCaching = &on
	}
	if spec.DataParallel < 1 { // Normalize takes 0 as "not set" from Go callers; a plan's 0 is a mistake
		return spec, paramerr.New("data_parallel", "want at least 1, got %d", spec.DataParallel)
	}
	return spec, nil
}

// planFile is a path relative to the plan's directory, made absolute.
func planFile(thread *starlark.Thread, rel string) string {
	p := filepath.Join(filepath.Dir(runtime.CallerFile(thread)), rel)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// calibrationArg resolves calibration=: a Calibration value (calibrate()), whose file calibrate()
// wrote into the run directory, or the path of a calibration file, relative to the plan's
// directory or, when it is not there, to the run directory ("calibrations/NAME.json").
func calibrationArg(thread *starlark.Thread, v starlark.Value) (*CalibrationRef, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	r := runtime.FromThread(thread)
	if s, ok := starlark.AsString(v); ok {
		if s == "" {
			return nil, paramerr.New("calibration", "want the path of a calibration file, got \"\"")
		}
		path := s
		if !filepath.IsAbs(s) {
			path = planFile(thread, s)
			if inRun := filepath.Join(r.Dir, s); !fileExists(path) && fileExists(inRun) {
				path = inRun
			}
		}
		ref, err := LoadCalibrationRef(path)
		if err != nil {
			return nil, err
		}
		return ref, keepInRun(r, ref)
	}
	c, ok := runtime.StateOf[*sim.Calibration](v, "Calibration")
	if !ok {
		return nil, paramerr.New("calibration", "got %s, want a Calibration (from calibrate()) or the path of a calibration file", v.Type())
	}
	rel, err := v.(starlark.HasAttrs).Attr("path")
	relPath, _ := starlark.AsString(rel)
	if err != nil || relPath == "" {
		return nil, paramerr.New("calibration", "calibration %s has no file", c.Name)
	}
	ref, err := LoadCalibrationRef(filepath.Join(r.Dir, relPath))
	if err != nil {
		return nil, err
	}
	if ref.SHA256 != calibrationHash(c) {
		return nil, paramerr.New("calibration", "%s is not calibration %s as calibrate() made it (was the file edited?)", ref.Path, c.Name)
	}
	return ref, nil
}

// keepInRun copies a calibration file from elsewhere into the run's calibrations/NAME.json, so the
// run holds everything its report reads (the twin's calibration, its fitted range). When the run
// already holds another calibration of that name (the file changed between a run and its
// resume), the copy is renamed NAME-<first 8 hex of its hash>, and so is the twin's calibration.
func keepInRun(r *runtime.Run, ref *CalibrationRef) error {
	dst := filepath.Join(r.Dir, "calibrations", ref.Name+".json")
	if dst == ref.Path {
		return nil
	}
	if have, err := sim.LoadCalibration(dst); err == nil {
		if calibrationHash(have) == ref.SHA256 {
			ref.Path = dst
			return nil
		}
		renamed := *ref.Cal
		renamed.Name = ref.Name + "-" + ref.SHA256[:8]
		ref.Cal, ref.Name = &renamed, renamed.Name
		ref.SHA256 = calibrationHash(&renamed)
		dst = filepath.Join(r.Dir, "calibrations", ref.Name+".json")
		if have, err := sim.LoadCalibration(dst); err == nil && calibrationHash(have) == ref.SHA256 {
			ref.Path = dst
			return nil
		}
	}
	data, err := json.MarshalIndent(ref.Cal, "", "  ")
	if err != nil {
		return err
	}
	path, err := r.Path(filepath.Join("calibrations", ref.Name+".json"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	ref.Path = path
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func startVLLM(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a := newServerArgs()
	gpus, backend := 1, BackendVLLM
	if err := runtime.UnpackArgs(thread, b, args, kwargs,
		"model?", &a.model, "gpus?", &gpus, "tensor_parallel?", &a.tp, "data_parallel?", &a.dp,
		"max_num_seqs?", &a.maxSeqs, "max_model_len?", &a.maxLen, "gpu_memory_utilization?", &a.gmu,
		"quantization?", &a.quant, "extra_args?", &a.extra, "env?", &a.env, "backend?", &backend, "url?", &a.url,
		"ready_timeout?", &a.ready, "name?", &a.name, "port?", &a.port, "allow_busy?", &a.allowBusy, "sim_gpu?", &a.simGPU,
		"launcher?", &a.launcher, "calibration?", &a.calibration, "enable_prefix_caching?", &a.prefixCaching,
	); err != nil {
		return nil, err
	}
	switch backend {
	case BackendVLLM, BackendSim, BackendExternal:
	default:
		return nil, paramerr.New("backend", "want \"vllm\", \"sim\" or \"external\", got %q (start_server starts the other engines)", backend)
	}
	spec, err := a.spec(thread, backend, gpus)
	if err != nil {
		return nil, err
	}
	return start(thread, b, args, kwargs, spec)
}

func startServer(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a := newServerArgs()
	var engine string
	var gpus, parallel runtime.Opt[int]
	if err := runtime.UnpackArgs(thread, b, args, kwargs,
		"engine", &engine, "model?", &a.model, "gpus?", &gpus, "tensor_parallel?", &a.tp, "data_parallel?", &a.dp,
		"max_num_seqs?", &a.maxSeqs, "max_model_len?", &a.maxLen, "gpu_memory_utilization?", &a.gmu,
		"quantization?", &a.quant, "extra_args?", &a.extra, "env?", &a.env, "url?", &a.url,
		"ready_timeout?", &a.ready, "name?", &a.name, "port?", &a.port, "allow_busy?", &a.allowBusy, "sim_gpu?", &a.simGPU,
		"parallel?", &parallel, "launcher?", &a.launcher, "calibration?", &a.calibration,
		"enable_prefix_caching?", &a.prefixCaching,
	); err != nil {
		return nil, err
	}
	if _, ok := engines[engine]; !ok {
		return nil, paramerr.New("engine", "want %s, got %q", engineChoices(EngineNames()), engine)
	}
	if parallel.Set {
		if a.maxSeqs.Set && a.maxSeqs.V != parallel.V {
			return nil, paramerr.New("parallel", "parallel=%d and max_num_seqs=%d are one setting: give one of them", parallel.V, a.maxSeqs.V)
		}
		if parallel.V < 1 {
			return nil, paramerr.New("parallel", "want at least 1, got %d", parallel.V)
		}
		a.maxSeqs = parallel
	}
	defaultGPUs := 1
	if slotEngine(engine) {
		defaultGPUs = 0
	}
	spec, err := a.spec(thread, engine, gpus.Or(defaultGPUs))
	if err != nil {
		return nil, err
	}
	return start(thread, b, args, kwargs, spec)
}

// start is the journaled start of a normalized spec, or the adoption of its recorded result. A
// calibrated start's step key holds the calibration's hash: after --resume with a changed
// calibration the server starts again instead of keeping the old twin's capacity.
func start(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, spec Spec) (starlark.Value, error) {
	if err := spec.Normalize(); err != nil {
		return nil, err
	}
	mgr := ManagerFor(runtime.FromThread(thread))
	var h *Handle
	key := runtime.CanonicalArgs(args, kwargs)
	if spec.Calibration != nil {
		key += ", calibration_sha256=" + spec.Calibration.SHA256
	}
	info, err := runtime.KeyedStep(thread, b.Name(), key, func(ctx context.Context) (Info, error) {
		var err error
		if h, err = mgr.Start(ctx, spec); err != nil {
			return Info{}, err
		}
		if !spec.Twin() {
			runtime.FromThread(thread).NoteRealTime("server starts", h.RealStartTime())
		}
		return h.Info(), nil
	})
	if err != nil {
		return nil, err
	}
	if h == nil {
		h = mgr.Adopt(spec, info)
	}
	return newServerValue(h), nil
}

func stopVLLM(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "server", &v); err != nil {
		return nil, err
	}
	h, ok := HandleOf(v)
	if !ok {
		return nil, paramerr.New("server", "got %s, want Server (from start_vllm or start_server)", v.Type())
	}
	return starlark.None, h.Stop()
}

// HandleOf returns the handle behind a Server value, for builtins that take a server (sweep).
func HandleOf(v starlark.Value) (*Handle, bool) { return runtime.StateOf[*Handle](v, "Server") }

// newServerValue is a Server as plans see it. Its attributes are read live: after --resume a
// server starts only when a step needs it, and only then has a URL. Its step key is its name and
// configuration, not its URL, which changes with the port from run to run.
func newServerValue(h *Handle) *runtime.Object {
	return runtime.NewLiveObject("Server", func() starlark.StringDict {
		info := h.Info()
		kv := starlark.Value(starlark.None)
		if c := info.KVCache; c != nil {
			kv = starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
				"memory_gib":         starlark.Float(c.MemoryGiB),
				"tokens":             starlark.MakeInt(c.Tokens),
				"max_concurrency":    starlark.Float(c.MaxConcurrency),
				"tokens_per_request": starlark.MakeInt(c.TokensPerRequest),
				"slots":              intOrNone(c.Slots),
				"slot_context":       intOrNone(c.SlotContext),
			})
		}
		return starlark.StringDict{
			"name":           starlark.String(info.Name),
			"url":            starlark.String(info.URL),
			"model":          starlark.String(info.Model),
			"gpus":           starlark.MakeInt(info.GPUs),
			"config":         configDict(info.Config),
			"kv_cache":       kv,
			"engine":         starlark.String(info.Backend),
			"engine_version": starlark.String(info.EngineVersion),
			"stop": runtime.Method("stop", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
				return starlark.None, h.Stop()
			}),
		}
	}).WithState(h).
		WithKey(func() string { return fmt.Sprintf("Server(%s@%s)", h.Name(), h.Key) }).
		WithString(func() string { info := h.Info(); return fmt.Sprintf("<Server %s %s>", info.Name, info.URL) })
}

// intOrNone is n, or None when the engine did not say (0).
func intOrNone(n int) starlark.Value {
	if n == 0 {
		return starlark.None
	}
	return starlark.MakeInt(n)
}

// configInts are the configuration fields that count things; the rest are floats or strings.
var configInts = map[string]bool{"gpus": true, "tensor_parallel": true, "data_parallel": true,
	"max_num_seqs": true, "max_model_len": true, "port": true, "parallel": true}

func configDict(c map[string]any) *starlark.Dict {
	d := runtime.FromJSON("", c, func(k string) bool { return configInts[k] }).(*starlark.Dict)
	d.Freeze()
	return d
}
