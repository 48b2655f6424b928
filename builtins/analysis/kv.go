package analysis

import (
	"fmt"
	"math"
	"strings"

	"starlab/builtins/catalog"
)

// KVOptions are kv_capacity's arguments.
type KVOptions struct {
	// Model is a catalog name, a Hugging Face repo id or a config.json path.
	Model string
	// GPU is a catalog GPU name; GiB is device memory per GPU instead. Give
	// one of them, or KVGiB alone.
	GPU string
	GiB float64
	// KVGiB, when > 0, is the KV cache memory per GPU as vLLM reported it
	// ("Available KV cache memory: X GiB"); the memory model is skipped.
	KVGiB float64
	// GPUs is the tensor-parallel size of one replica (default 1).
	GPUs int
	// TokensPerRequest is the context per request, vLLM's max_model_len in
	// its "Maximum concurrency for N tokens per request" line (default 4096).
	TokensPerRequest int
	// GPUMemoryUtilization is vLLM's --gpu-memory-utilization (default 0.9).
	GPUMemoryUtilization float64
	// Quantization is the weight format: "" (the checkpoint's own), "bf16",
	// "fp16", "fp8", "int8", "awq", "gptq", "bitsandbytes", ... (catalog).
	Quantization string
	// KVDType is the KV cache dtype: "auto"/"" (16-bit), "fp8", "fp8_e4m3",
	// "fp8_e5m2" (1 byte), "fp32" (4 bytes).
	KVDType string
	// OverheadGiB, when > 0, replaces the catalog's model of per-GPU memory
	// besides weights and KV (profiling activations, CUDA context), e.g. the
	// flat 3 GB of a back-of-envelope sizing.
	OverheadGiB float64
	// MaxNumBatchedTokens bounds a sliding-window layer's blocks per request
	// (window − 1 + this); default 2048, vLLM's for the OpenAI server on
	// GPUs under 70 GiB.
	MaxNumBatchedTokens int
	// DisableHybridKVCache counts every layer as full attention, as vLLM's
	// --disable-hybrid-kv-cache-manager and most hand sizings do.
	DisableHybridKVCache bool
	// TargetConcurrency, when > 0, asks how many GPUs serve that many
	// concurrent requests of TokensPerRequest tokens.
	TargetConcurrency int
	// CostPerGPUHour, when > 0, prices the configurations.
	CostPerGPUHour float64
}

// KVCapacity is what a GPU configuration holds in KV cache. Memory figures
// are per GPU, as vLLM logs them, unless named otherwise.
type KVCapacity struct {
	Model        string
	GPU          string  // catalog name, or "<GiB> GiB" for a bare size; "" with KVGiB alone
	GPUMemoryGiB float64 // device memory per GPU; 0 with KVGiB alone
	GPUs         int

	KVBytesPerToken  int64   // all layers: 2·layers·kv_heads·head_dim·kv_bytes
	WeightBytes      float64 // whole model under the chosen quantization
	WeightGiBPerGPU  float64
	OverheadGiB      float64 // per GPU, besides weights and KV
	KVGiB            float64 // KV cache memory per GPU
	NumBlocks        int     // blocks of catalog.BlockSize tokens
	KVTokens         int     // tokens the KV cache holds ("GPU KV cache size")
	TokensPerRequest int
	// RequestGiB is one request's KV over all GPUs: TokensPerRequest ×
	// KVBytesPerToken with full attention, less with sliding-window layers.
	RequestGiB float64
	// MaxConcurrency is vLLM's "Maximum concurrency for TokensPerRequest
	// tokens per request: Y x" (0 when the model does not fit).
	MaxConcurrency float64

	Fits   bool   // the weights leave room for at least one full request
	Reason string // why not, when !Fits

	// Sizing for TargetConcurrency (zero when no target or no GPU memory):
	// GPUsNeeded is the smallest tensor-parallel size (a power of two that
	// divides the attention heads, ≤ 64) whose MaxConcurrency reaches the
	// target, 0 if none does; ReplicasNeeded is how many copies of this
	// configuration (data parallel) reach it, 0 if it does not fit.
	TargetConcurrency int
	GPUsNeeded        int
	ReplicasNeeded    int

	CostPerGPUHour       float64
	CostPerHour          float64 // this configuration: GPUs × CostPerGPUHour
	CostPerHourForTarget float64 // GPUsNeeded × CostPerGPUHour
}

// KVBytesPerDType maps a KV cache dtype name to bytes per element.
func KVBytesPerDType(dtype string) (int, error) {
	switch strings.ToLower(strings.TrimSpace(dtype)) {
	case "", "auto", "bf16", "bfloat16", "fp16", "float16", "half":
		return 2, nil
	case "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "int8":
		return 1, nil
	case "fp32", "float32", "float":
		return 4, nil
	}
	return 0, fmt.Errorf("unknown kv dtype %q (want auto, bf16, fp16, fp8, fp8_e4m3, fp8_e5m2 or fp32)", dtype)
}

func (o KVOptions) withDefaults() KVOptions {
	if o.GPUs <= 0 {
		o.GPUs = 1
	}
	if o.TokensPerRequest <= 0 {
		o.TokensPerRequest = 4096
	}
	if o.GPUMemoryUtilization <= 0 {
		o.GPUMemoryUtilization = 0.9
	}
	if o.MaxNumBatchedTokens <= 0 {
		o.MaxNumBatchedTokens = 2048
	}
	return o
}

// KVCapacityOf computes the KV capacity of a model on a GPU configuration:
// KV memory per GPU = memory·utilization − weights/GPUs − overhead, split
// into 16-token blocks of KVBytesPerToken/GPUs each; max concurrency as
// vLLM computes it, sliding-window layers included.
func KVCapacityOf(opts KVOptions) (KVCapacity, error) {
	o := opts.withDefaults()
	m, err := catalog.ResolveModel(o.Model)
	if err != nil {
		return KVCapacity{}, err
	}
	if o.DisableHybridKVCache {
		m.SlidingWindow, m.SlidingWindowPattern = 0, 0
	}
	kvb, err := KVBytesPerDType(o.KVDType)
	if err != nil {
		return KVCapacity{}, err
	}
	gpu, err := resolveGPU(o)
	if err != nil {
		return KVCapacity{}, err
	}
	c, err := capacityAt(m, gpu, o, o.GPUs, kvb)
	if err != nil {
		return c, err
	}
	if o.TargetConcurrency > 0 {
		c.TargetConcurrency = o.TargetConcurrency
		if c.MaxConcurrency >= 1 {
			c.ReplicasNeeded = int(math.Ceil(float64(o.TargetConcurrency) / c.MaxConcurrency))
		}
		if gpu.MemoryGiB > 0 && o.KVGiB <= 0 {
			for tp := 1; tp <= 64; tp *= 2 {
				if m.Heads > 0 && m.Heads%tp != 0 {
					continue
				}
				at, err := capacityAt(m, gpu, o, tp, kvb)
				if err == nil && at.MaxConcurrency >= float64(o.TargetConcurrency) {
					c.GPUsNeeded = tp
					break
				}
			}
		}
	}
	if o.CostPerGPUHour > 0 {
		c.CostPerGPUHour = o.CostPerGPUHour
		c.CostPerHour = float64(c.GPUs) * o.CostPerGPUHour
		c.CostPerHourForTarget = float64(c.GPUsNeeded) * o.CostPerGPUHour
	}
	return c, nil
}

func resolveGPU(o KVOptions) (catalog.GPU, error) {
	switch {
	case o.GPU != "" && o.GiB > 0:
		return catalog.GPU{}, fmt.Errorf("give gpu or gib, not both")
	case o.GPU != "":
		g, err := catalog.LookupGPU(o.GPU)
		if err != nil {
			return g, err
		}
		return g, nil
	case o.GiB > 0:
		return catalog.GPU{Name: num(o.GiB) + " GiB", MemoryGiB: o.GiB}, nil
	case o.KVGiB > 0:
		return catalog.GPU{}, nil
	}
	return catalog.GPU{}, fmt.Errorf("give gpu (a name), gib (memory per GPU) or kv_gib (vLLM's reported KV cache memory)")
}

// capacityAt is the capacity of one replica of tp GPUs.
func capacityAt(m catalog.Model, gpu catalog.GPU, o KVOptions, tp, kvb int) (KVCapacity, error) {
	c := KVCapacity{Model: m.Name, GPU: gpu.Name, GPUMemoryGiB: gpu.MemoryGiB, GPUs: tp, TokensPerRequest: o.TokensPerRequest,
		KVBytesPerToken: m.KVBytesPerToken(kvb)}
	// What vLLM's "Model loading took" counts: the weights and the rotary tables built with them.
	w, err := m.LoadedBytes(o.Quantization)
	if o.Quantization == "" {
		w, err = m.LoadedBytes(m.Quantization)
	}
	if err != nil {
		return c, err
	}
	c.WeightBytes = w
	c.WeightGiBPerGPU = w / float64(tp) / catalog.GiB
	perTokenPerGPU := float64(c.KVBytesPerToken) / float64(tp)
	c.RequestGiB = float64(catalog.LayerBlocks(m, o.TokensPerRequest, o.MaxNumBatchedTokens)) * catalog.BlockSize *
		float64(c.KVBytesPerToken) / float64(m.Layers) / catalog.GiB

	kvBytes := o.KVGiB * catalog.GiB
	if o.KVGiB <= 0 {
		if c.OverheadGiB, err = overheadGiB(m, gpu, o, tp, kvb); err != nil {
			return c, err
		}
		usable := gpu.MemoryGiB * o.GPUMemoryUtilization
		kvBytes = (usable - c.WeightGiBPerGPU - c.OverheadGiB) * catalog.GiB
		if kvBytes <= 0 {
			c.Reason = fmt.Sprintf("weights %s GiB + overhead %s GiB per GPU exceed the %s GiB usable (%s × %s) on %d× %s",
				num(c.WeightGiBPerGPU), num(c.OverheadGiB), num(usable), num(gpu.MemoryGiB), num(o.GPUMemoryUtilization), tp, gpu.Name)
			return c, nil
		}
	}
	c.KVGiB = kvBytes / catalog.GiB
	c.NumBlocks = int(kvBytes / (perTokenPerGPU * catalog.BlockSize))
	c.KVTokens = c.NumBlocks * catalog.BlockSize
	c.MaxConcurrency = catalog.MaxConcurrency(m, c.NumBlocks, o.TokensPerRequest, o.MaxNumBatchedTokens)
	c.Fits = c.MaxConcurrency >= 1
	if !c.Fits {
		c.Reason = fmt.Sprintf("KV cache of %s tokens holds %s of one %d-token request", num(float64(c.KVTokens)), num(c.MaxConcurrency), o.TokensPerRequest)
	}
	return c, nil
}

// overheadGiB is per-GPU memory besides weights and KV: OverheadGiB when
// given, else the catalog's model of vLLM's profiling run (activations,
// sampler, CUDA context).
func overheadGiB(m catalog.Model, gpu catalog.GPU, o KVOptions, tp, kvb int) (float64, error) {
	if o.OverheadGiB > 0 {
		return o.OverheadGiB, nil
	}
	quant := o.Quantization
	if quant == "" {
		quant = m.Quantization
	}
	// PlanMemory fills the overhead terms before it judges the fit, which
	// this function reports itself.
	p, err := catalog.PlanMemory(catalog.MemoryConfig{Model: m, GPU: gpu, TensorParallel: tp,
		GPUMemoryUtilization: o.GPUMemoryUtilization, Quantization: quant, KVCacheDTypeBytes: kvb,
		MaxNumBatchedTokens: o.MaxNumBatchedTokens, MaxModelLen: o.TokensPerRequest})
	if p.ActivationBytes <= 0 {
		return 0, err
	}
	return (p.ActivationBytes + p.NonTorchBytes) / catalog.GiB, nil
}
