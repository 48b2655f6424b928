package server

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name: "start_vllm",
		Signature: `start_vllm(model=None, gpus=1, tensor_parallel=None, data_parallel=1, max_num_seqs=None,
           max_model_len=None, gpu_memory_utilization=None, quantization=None, extra_args=[],
           env={}, backend="vllm", url=None, ready_timeout="20m", name=None, port=None,
           allow_busy=False, sim_gpu=None)`,
		Doc: `Starts an inference server and returns a Server (.name .url .model .gpus .config .kv_cache .stop()).

model is required except with backend="external" (there it names the model to request, default
the one the server lists). backend="vllm" runs "vllm serve MODEL ..." (the executable from --vllm-cmd or STARLAB_VLLM,
default "vllm") on GPUs of its own (CUDA_VISIBLE_DEVICES; two servers of a plan never share a GPU)
and a free port, with its output in servers/<name>.log, and waits until /health and /v1/models
answer (ready_timeout). backend="sim" serves the built-in simulator in-process (sim_gpu picks the
simulated GPU, default H100); backend="external" attaches to url and never stops it. With --virtual
every server is the simulator in virtual time.

kv_cache is parsed from vLLM's start-up log: struct(memory_gib, tokens, max_concurrency,
tokens_per_request), or None. gpus = tensor_parallel x data_parallel (tensor_parallel defaults to
gpus / data_parallel). A server with the same configuration as a running one is reused. On real
GPUs, GPUs already holding other processes' memory are an error unless allow_busy=True. The start
is a journaled step: after --resume the server starts only when a step that needs it must run.
Every server stops when the plan ends, fails or is interrupted.`,
		Fn: startVLLM,
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
		m.VLLMCmd, m.Virtual = r.VLLMCmd, r.Virtual
		m.SeedFor = func(name string) uint64 { return r.DeriveSeed("server/" + name) }
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

func startVLLM(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	spec := Spec{GPUs: 1, DataParallel: 1, Backend: BackendVLLM}
	var model, quant, url, name, simGPU runtime.Opt[string]
	var tp, maxSeqs, maxLen, port runtime.Opt[int]
	var gmu runtime.Opt[float64]
	var extra runtime.Strings
	var env runtime.StringMap
	ready := runtime.Duration(20 * time.Minute)
	if err := runtime.UnpackArgs(thread, b, args, kwargs,
		"model?", &model, "gpus?", &spec.GPUs, "tensor_parallel?", &tp, "data_parallel?", &spec.DataParallel,
		"max_num_seqs?", &maxSeqs, "max_model_len?", &maxLen, "gpu_memory_utilization?", &gmu,
		"quantization?", &quant, "extra_args?", &extra, "env?", &env, "backend?", &spec.Backend, "url?", &url,
		"ready_timeout?", &ready, "name?", &name, "port?", &port, "allow_busy?", &spec.AllowBusy, "sim_gpu?", &simGPU,
	); err != nil {
		return nil, err
	}
	spec.Model, spec.Quantization, spec.URL, spec.Name, spec.SimGPU = model.V, quant.V, url.V, name.V, simGPU.V
	spec.TensorParallel, spec.MaxNumSeqs, spec.MaxModelLen, spec.Port = tp.V, maxSeqs.V, maxLen.V, port.V
	spec.GPUMemoryUtilization, spec.ExtraArgs, spec.Env, spec.ReadyTimeout = gmu.V, extra, env, ready.Std()
	if spec.DataParallel < 1 { // Normalize takes 0 as "not set" from Go callers; a plan's 0 is a mistake
		return nil, paramerr.New("data_parallel", "want at least 1, got %d", spec.DataParallel)
	}
	if err := spec.Normalize(); err != nil {
		return nil, err
	}
	mgr := ManagerFor(runtime.FromThread(thread))
	var h *Handle
	info, err := runtime.Step(thread, b, args, kwargs, func(ctx context.Context) (Info, error) {
		var err error
		if h, err = mgr.Start(ctx, spec); err != nil {
			return Info{}, err
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
		return nil, paramerr.New("server", "got %s, want Server (from start_vllm)", v.Type())
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
			})
		}
		return starlark.StringDict{
			"name":     starlark.String(info.Name),
			"url":      starlark.String(info.URL),
			"model":    starlark.String(info.Model),
			"gpus":     starlark.MakeInt(info.GPUs),
			"config":   configDict(info.Config),
			"kv_cache": kv,
			"stop": runtime.Method("stop", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
				return starlark.None, h.Stop()
			}),
		}
	}).WithState(h).
		WithKey(func() string { return fmt.Sprintf("Server(%s@%s)", h.Name(), h.Key) }).
		WithString(func() string { info := h.Info(); return fmt.Sprintf("<Server %s %s>", info.Name, info.URL) })
}

// configInts are the configuration fields that count things; the rest are floats or strings.
var configInts = map[string]bool{"gpus": true, "tensor_parallel": true, "data_parallel": true,
	"max_num_seqs": true, "max_model_len": true, "port": true}

func configDict(c map[string]any) *starlark.Dict {
	d := runtime.FromJSON("", c, func(k string) bool { return configInts[k] }).(*starlark.Dict)
	d.Freeze()
	return d
}
