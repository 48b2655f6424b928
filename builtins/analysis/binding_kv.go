package analysis

import (
	"go.starlark.net/starlark"

	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name: "kv_capacity",
		Signature: `kv_capacity(model, gpu=None, gib=None, gpus=1, tokens_per_request=4096, gpu_memory_utilization=0.9, ` +
			`quantization=None, kv_dtype="auto", target_concurrency=None, cost_per_gpu_hour=None, kv_gib=None, ` +
			`overhead_gib=None, disable_hybrid_kv_cache=False)`,
		Doc: `Computes what a GPU configuration holds in KV cache, as vLLM would report it.

model is a catalog name, Hugging Face repo id or config.json path; give gpu (a catalog name), gib
(memory per GPU) or kv_gib (vLLM's "Available KV cache memory"). gpus is the tensor-parallel size.
Returns a struct: model, gpu, gpu_memory_gib, gpus, kv_bytes_per_token, weight_bytes,
weight_gib_per_gpu, overhead_gib, kv_gib, num_blocks, kv_tokens, tokens_per_request, request_gib,
max_concurrency, fits, reason, target_concurrency, gpus_needed, replicas_needed, cost_per_gpu_hour,
cost_per_hour, cost_per_hour_for_target.`,
		Fn: kvCapacityFn,
	})
}

func kvCapacityFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	o := KVOptions{GPUs: 1, TokensPerRequest: 4096, GPUMemoryUtilization: 0.9, KVDType: "auto"}
	var gpu, quant runtime.Opt[string]
	var gib, cost, kvGiB, overhead runtime.Opt[float64]
	var target runtime.Opt[int]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "model", &o.Model, "gpu?", &gpu, "gib?", &gib, "gpus?", &o.GPUs,
		"tokens_per_request?", &o.TokensPerRequest, "gpu_memory_utilization?", &o.GPUMemoryUtilization,
		"quantization?", &quant, "kv_dtype?", &o.KVDType, "target_concurrency?", &target,
		"cost_per_gpu_hour?", &cost, "kv_gib?", &kvGiB, "overhead_gib?", &overhead,
		"disable_hybrid_kv_cache?", &o.DisableHybridKVCache); err != nil {
		return nil, err
	}
	o.GPU, o.Quantization, o.TargetConcurrency = gpu.V, quant.V, target.V
	o.GiB, o.CostPerGPUHour, o.KVGiB, o.OverheadGiB = gib.V, cost.V, kvGiB.V, overhead.V
	c, err := KVCapacityOf(o)
	if err != nil {
		return nil, err
	}
	return mkStruct(starlark.StringDict{
		"model": starlark.String(c.Model), "gpu": starlark.String(c.GPU),
		"gpu_memory_gib": starlark.Float(c.GPUMemoryGiB), "gpus": starlark.MakeInt(c.GPUs),
		"kv_bytes_per_token": starlark.MakeInt64(c.KVBytesPerToken), "weight_bytes": starlark.Float(c.WeightBytes),
		"weight_gib_per_gpu": starlark.Float(c.WeightGiBPerGPU), "overhead_gib": starlark.Float(c.OverheadGiB),
		"kv_gib": starlark.Float(c.KVGiB), "num_blocks": starlark.MakeInt(c.NumBlocks),
		"kv_tokens": starlark.MakeInt(c.KVTokens), "tokens_per_request": starlark.MakeInt(c.TokensPerRequest),
		"request_gib": starlark.Float(c.RequestGiB), "max_concurrency": starlark.Float(c.MaxConcurrency),
		"fits": starlark.Bool(c.Fits), "reason": starlark.String(c.Reason),
		"target_concurrency": starlark.MakeInt(c.TargetConcurrency), "gpus_needed": starlark.MakeInt(c.GPUsNeeded),
		"replicas_needed": starlark.MakeInt(c.ReplicasNeeded), "cost_per_gpu_hour": starlark.Float(c.CostPerGPUHour),
		"cost_per_hour": starlark.Float(c.CostPerHour), "cost_per_hour_for_target": starlark.Float(c.CostPerHourForTarget),
	}), nil
}
