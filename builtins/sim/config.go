package sim

import (
	"fmt"
	"strings"

	"starlab/builtins/catalog"
)

// Config describes one simulated `vllm serve`. Zero values take vLLM's defaults.
type Config struct {
	// Model is a catalog name, a Hugging Face repo id ("meta-llama/Llama-3.1-8B-Instruct") or a
	// path to a config.json; ModelSpec, when its Layers > 0, is used instead of a lookup.
	Model     string
	ModelSpec catalog.Model
	// ServedModelName is the name /v1/models reports and requests must use (default: Model).
	ServedModelName string
	// GPU is a catalog GPU name (default "H100").
	GPU string
	// TensorParallel GPUs per replica; DataParallel replicas behind the balancer (default 1, 1).
	TensorParallel int
	DataParallel   int
	// MaxNumSeqs, MaxNumBatchedTokens: 0 takes vLLM V1's serving defaults for the GPU (see
	// defaultLimits). MaxModelLen: 0 takes the model's max_position_embeddings.
	MaxNumSeqs          int
	MaxNumBatchedTokens int
	MaxModelLen         int
	// GPUMemoryUtilization is the fraction of device memory vLLM may use (default 0.9).
	GPUMemoryUtilization float64
	// Quantization as vLLM's --quantization (awq, gptq, bitsandbytes, fp8, ...).
	Quantization string
	// KVCacheDType is "auto" (the model dtype) or "fp8".
	KVCacheDType string
	// NumGPUBlocksOverride replaces the profiled block count (vLLM's --num-gpu-blocks-override);
	// tests use it for a tiny cache.
	NumGPUBlocksOverride int
	// Balancer spreads requests over data-parallel replicas: "least-loaded" (default; fewest
	// running + waiting, ties to the lowest index) or "round-robin".
	Balancer string
	// MeanOutputTokens is the mean of the geometric output length drawn for requests without
	// ignore_eos (default 256); max_tokens and min_tokens clamp it.
	MeanOutputTokens float64
	// Cost overrides the roofline's efficiency constants (zero fields take defaults).
	Cost CostModel
	// Faults injects failures (zero value: none).
	Faults Faults
	// NoPrefixCaching turns automatic prefix caching off (vLLM's --no-enable-prefix-caching); the
	// zero value caches, as vLLM V1 does by default. See prefixcache.go.
	NoPrefixCaching bool
	// Calibration, when set, makes the simulator a fitted real server's twin (see Calibration.Apply):
	// its step time replaces the roofline and its limits fill what is not set here.
	Calibration *Calibration
}

// Resolved is a Config with every default applied and the memory profile computed: what the
// start-up log lines print.
type Resolved struct {
	Config
	ModelInfo catalog.Model
	GPUInfo   catalog.GPU
	// Memory is one GPU's profile (each of a replica's TP ranks holds the same).
	Memory catalog.MemoryPlan
	// NumBlocks is the KV blocks per replica (after NumGPUBlocksOverride).
	NumBlocks int
	// KVTokens is NumBlocks·16 ("GPU KV cache size"); MaxConcurrency is for MaxModelLen tokens.
	KVTokens       int
	MaxConcurrency float64
	// WeightBytes is the whole model's weight bytes (all TP ranks).
	WeightBytes float64
	// KVBytesPerToken over all layers, at the KV cache dtype.
	KVBytesPerToken float64
}

// defaultLimits follows vLLM V1's EngineArgs._set_default_args_v1 (vllm/engine/arg_utils.py):
// for the OpenAI API server, max_num_batched_tokens 2048 and max_num_seqs 256, raised to 8192 and
// 1024 on GPUs with at least 70 GiB that are not A100s (H100, H200).
func defaultLimits(g catalog.GPU) (seqs, tokens int) {
	if g.MemoryGiB >= 70 && !strings.HasPrefix(strings.ToUpper(g.Name), "A100") {
		return 1024, 8192
	}
	return 256, 2048
}

// Resolve applies defaults, looks the model and GPU up and runs the memory profile. Its errors
// are those vLLM would fail to start with (unknown model, out of memory, max_model_len too long).
func Resolve(c Config) (*Resolved, error) {
	if c.Calibration != nil {
		if err := c.Calibration.Validate(); err != nil {
			return nil, fmt.Errorf("sim: calibration %s: %v", c.Calibration.Name, err)
		}
		c.Calibration.Apply(&c)
	}
	r := &Resolved{Config: c}
	var err error
	if c.ModelSpec.Layers > 0 {
		r.ModelInfo = c.ModelSpec
		if r.Model == "" {
			r.Model = c.ModelSpec.Name
		}
	} else {
		if c.Model == "" {
			return nil, fmt.Errorf("sim: no model given")
		}
		if r.ModelInfo, err = catalog.ResolveModel(c.Model); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
	}
	if r.ServedModelName == "" {
		r.ServedModelName = r.Model
	}
	if r.GPU == "" {
		r.GPU = "H100"
	}
	if r.GPUInfo, err = catalog.LookupGPU(r.GPU); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if r.TensorParallel <= 0 {
		r.TensorParallel = 1
	}
	if r.DataParallel <= 0 {
		r.DataParallel = 1
	}
	seqs, toks := defaultLimits(r.GPUInfo)
	if r.MaxNumSeqs <= 0 {
		r.MaxNumSeqs = seqs
	}
	if r.MaxModelLen <= 0 {
		r.MaxModelLen = r.ModelInfo.MaxPositionEmbeddings
	}
	if r.MaxNumBatchedTokens <= 0 {
		r.MaxNumBatchedTokens = toks
	}
	if r.GPUMemoryUtilization <= 0 {
		r.GPUMemoryUtilization = 0.9
	}
	if r.GPUMemoryUtilization > 1 {
		return nil, fmt.Errorf("sim: gpu_memory_utilization %.2f is above 1", r.GPUMemoryUtilization)
	}
	kvBytes := 2
	switch strings.ToLower(r.KVCacheDType) {
	case "", "auto", "bfloat16", "float16":
	case "fp8", "fp8_e4m3", "fp8_e5m2":
		kvBytes = 1
	default:
		return nil, fmt.Errorf("sim: unknown kv_cache_dtype %q", r.KVCacheDType)
	}
	switch r.Balancer {
	case "", "least-loaded", "round-robin":
	default:
		return nil, fmt.Errorf("sim: unknown balancer %q (least-loaded, round-robin)", r.Balancer)
	}
	if r.MeanOutputTokens <= 0 {
		r.MeanOutputTokens = 256
	}
	r.Cost = r.Cost.withDefaults()
	if r.WeightBytes, err = r.ModelInfo.QuantizedWeightBytes(firstNonEmpty(r.Quantization, r.ModelInfo.Quantization)); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	r.KVBytesPerToken = float64(r.ModelInfo.KVBytesPerToken(kvBytes))
	mc := catalog.MemoryConfig{Model: r.ModelInfo, GPU: r.GPUInfo, TensorParallel: r.TensorParallel,
		GPUMemoryUtilization: r.GPUMemoryUtilization, Quantization: r.Quantization, KVCacheDTypeBytes: kvBytes,
		MaxNumBatchedTokens: r.MaxNumBatchedTokens, MaxNumSeqs: r.MaxNumSeqs, MaxModelLen: r.MaxModelLen}
	r.Memory, err = catalog.PlanMemory(mc)
	if err != nil && (r.NumGPUBlocksOverride <= 0 || r.Memory.KVBytes <= 0) {
		return nil, err
	}
	r.NumBlocks = r.Memory.NumBlocks
	if r.NumGPUBlocksOverride > 0 {
		r.NumBlocks = r.NumGPUBlocksOverride
	}
	r.KVTokens = r.NumBlocks * catalog.BlockSize
	r.MaxConcurrency = catalog.MaxConcurrency(r.ModelInfo, r.NumBlocks, r.MaxModelLen, r.MaxNumBatchedTokens)
	return r, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// KVCacheGiB is the KV cache memory of one GPU, as vLLM logs "Available KV cache memory".
func (r *Resolved) KVCacheGiB() float64 {
	return float64(r.NumBlocks) * 16 * r.KVBytesPerToken / float64(r.TensorParallel) / (1 << 30)
}
