package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name: "start_vllm",
		Signature: `start_vllm(model, gpus=1, tensor_parallel=None, data_parallel=1, max_num_seqs=None,
           max_model_len=None, gpu_memory_utilization=None, quantization=None, extra_args=[],
           env={}, backend="vllm", url=None, ready_timeout="20m", name=None, port=None,
           allow_busy=False, sim_gpu=None)`,
		Doc: `Starts an inference server and returns a Server (.name .url .model .gpus .config .kv_cache .stop()).

backend="vllm" runs "vllm serve MODEL ..." (the executable from --vllm-cmd or STARLAB_VLLM,
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
	var tp, maxSeqs, maxLen, gmu, quant, url, name, port, simGPU starlark.Value = starlark.None, starlark.None, starlark.None,
		starlark.None, starlark.None, starlark.None, starlark.None, starlark.None, starlark.None
	var extra *starlark.List
	var env *starlark.Dict
	ready := runtime.Duration(0)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"model?", &spec.Model, "gpus?", &spec.GPUs, "tensor_parallel?", &tp, "data_parallel?", &spec.DataParallel,
		"max_num_seqs?", &maxSeqs, "max_model_len?", &maxLen, "gpu_memory_utilization?", &gmu,
		"quantization?", &quant, "extra_args?", &extra, "env?", &env, "backend?", &spec.Backend, "url?", &url,
		"ready_timeout?", &ready, "name?", &name, "port?", &port, "allow_busy?", &spec.AllowBusy, "sim_gpu?", &simGPU,
	); err != nil {
		return nil, err
	}
	var err error
	opt := func(v starlark.Value, param string, dst *int) {
		if err == nil && v != starlark.None {
			if err = starlark.AsInt(v, dst); err != nil {
				err = runtime.ArgError(b, param, "got %s, want int or None", v.Type())
			}
		}
	}
	opt(tp, "tensor_parallel", &spec.TensorParallel)
	opt(maxSeqs, "max_num_seqs", &spec.MaxNumSeqs)
	opt(maxLen, "max_model_len", &spec.MaxModelLen)
	opt(port, "port", &spec.Port)
	optStr := func(v starlark.Value, param string, dst *string) {
		if err == nil && v != starlark.None {
			s, ok := starlark.AsString(v)
			if !ok {
				err = runtime.ArgError(b, param, "got %s, want string or None", v.Type())
			}
			*dst = s
		}
	}
	optStr(quant, "quantization", &spec.Quantization)
	optStr(url, "url", &spec.URL)
	optStr(name, "name", &spec.Name)
	optStr(simGPU, "sim_gpu", &spec.SimGPU)
	if err != nil {
		return nil, err
	}
	if gmu != starlark.None {
		f, ok := starlark.AsFloat(gmu)
		if !ok {
			return nil, runtime.ArgError(b, "gpu_memory_utilization", "got %s, want float or None", gmu.Type())
		}
		spec.GPUMemoryUtilization = f
	}
	if extra != nil {
		for i := 0; i < extra.Len(); i++ {
			s, ok := starlark.AsString(extra.Index(i))
			if !ok {
				return nil, runtime.ArgError(b, "extra_args", "element %d: got %s, want string", i, extra.Index(i).Type())
			}
			spec.ExtraArgs = append(spec.ExtraArgs, s)
		}
	}
	if env != nil {
		spec.Env = map[string]string{}
		for _, kv := range env.Items() {
			k, ok1 := starlark.AsString(kv[0])
			v, ok2 := starlark.AsString(kv[1])
			if !ok1 || !ok2 {
				return nil, runtime.ArgError(b, "env", "want a dict of strings, got %s: %s", kv[0].Type(), kv[1].Type())
			}
			spec.Env[k] = v
		}
	}
	spec.ReadyTimeout = ready.Std()
	if spec.DataParallel < 1 {
		return nil, runtime.ArgError(b, "data_parallel", "want at least 1, got %d", spec.DataParallel)
	}
	if err := spec.Normalize(); err != nil {
		return nil, qualify(b, err)
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
		return nil, qualify(b, err)
	}
	if h == nil {
		h = mgr.Adopt(spec, info)
	}
	return &Value{h: h}, nil
}

// qualify prefixes errors with the builtin and, for bad arguments, the parameter.
func qualify(b *starlark.Builtin, err error) error {
	var pe *ParamError
	if errors.As(err, &pe) {
		return runtime.ArgError(b, pe.Param, "%s", pe.Msg)
	}
	return fmt.Errorf("%s: %w", b.Name(), err)
}

func stopVLLM(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v *Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "server", &v); err != nil {
		return nil, err
	}
	return starlark.None, v.h.Stop()
}

// Value is a Server as plans see it.
type Value struct{ h *Handle }

var (
	_ starlark.HasAttrs = (*Value)(nil)
	_ runtime.Keyer     = (*Value)(nil)
)

// HandleOf returns the handle behind a Server value, for builtins that take a server (sweep).
func HandleOf(v starlark.Value) (*Handle, bool) {
	sv, ok := v.(*Value)
	if !ok {
		return nil, false
	}
	return sv.h, true
}

// Unpack lets UnpackArgs take a Server.
func (v *Value) Unpack(x starlark.Value) error {
	sv, ok := x.(*Value)
	if !ok {
		return fmt.Errorf("got %s, want Server (from start_vllm)", x.Type())
	}
	*v = *sv
	return nil
}

func (v *Value) String() string {
	info := v.h.Info()
	return fmt.Sprintf("<Server %s %s>", info.Name, info.URL)
}
func (v *Value) Type() string         { return "Server" }
func (v *Value) Freeze()              {}
func (v *Value) Truth() starlark.Bool { return true }
func (v *Value) Hash() (uint32, error) {
	return starlark.String(v.h.Key).Hash()
}

// StepKey identifies the server in the keys of steps that use it: its name and configuration,
// not its URL, which changes with the port from run to run.
func (v *Value) StepKey() string {
	return fmt.Sprintf("Server(%s@%s)", v.h.Name(), v.h.Key)
}

func (v *Value) AttrNames() []string {
	return []string{"config", "gpus", "kv_cache", "model", "name", "stop", "url"}
}

func (v *Value) Attr(name string) (starlark.Value, error) {
	info := v.h.Info()
	switch name {
	case "name":
		return starlark.String(info.Name), nil
	case "url":
		return starlark.String(info.URL), nil
	case "model":
		return starlark.String(info.Model), nil
	case "gpus":
		return starlark.MakeInt(info.GPUs), nil
	case "config":
		return configDict(info.Config), nil
	case "kv_cache":
		if info.KVCache == nil {
			return starlark.None, nil
		}
		kv := info.KVCache
		return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"memory_gib":         starlark.Float(kv.MemoryGiB),
			"tokens":             starlark.MakeInt(kv.Tokens),
			"max_concurrency":    starlark.Float(kv.MaxConcurrency),
			"tokens_per_request": starlark.MakeInt(kv.TokensPerRequest),
		}), nil
	case "stop":
		return starlark.NewBuiltin("stop", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.None, v.h.Stop()
		}), nil
	}
	return nil, nil
}

// configInts are the configuration fields that count things; the rest are floats or strings.
var configInts = map[string]bool{"gpus": true, "tensor_parallel": true, "data_parallel": true,
	"max_num_seqs": true, "max_model_len": true, "port": true}

func configDict(c map[string]any) *starlark.Dict {
	d := runtime.FromJSON("", c, func(k string) bool { return configInts[k] }).(*starlark.Dict)
	d.Freeze()
	return d
}
