package catalog

import (
	"fmt"
	"math"
)

// BlockSize is vLLM's default KV-cache block (page) size in tokens.
const BlockSize = 16

// MemoryConfig is what vLLM's start-up memory profile depends on.
type MemoryConfig struct {
	Model Model
	GPU   GPU
	// TensorParallel splits weights and KV heads over this many GPUs (default 1).
	TensorParallel int
	// GPUMemoryUtilization is vLLM's --gpu-memory-utilization (default 0.9).
	GPUMemoryUtilization float64
	// Quantization is vLLM's --quantization ("" = the checkpoint's own, else 16-bit).
	Quantization string
	// KVCacheDTypeBytes is 2 for the default kv-cache dtype, 1 for fp8 (default 2).
	KVCacheDTypeBytes int
	// MaxNumBatchedTokens and MaxNumSeqs size the profiling run: the dummy forward covers
	// max_num_batched_tokens tokens, the dummy sampler min(max_num_seqs, that) requests.
	MaxNumBatchedTokens int
	MaxNumSeqs          int
	// MaxModelLen is the longest request (default: the model's max_position_embeddings).
	MaxModelLen int
}

// MemoryPlan is one GPU's share of vLLM's memory profile: the figures behind its start-up lines.
type MemoryPlan struct {
	TotalBytes     float64 // device memory as CUDA reports it
	RequestedBytes float64 // total · gpu_memory_utilization
	// WeightBytes is "Model loading took X GiB": this rank's parameters (ParamBytes) plus the
	// buffers built with the model (BufferBytes: the rotary cos/sin table, on every rank).
	WeightBytes float64
	ParamBytes  float64
	BufferBytes float64
	// ActivationBytes is the profiling run's torch peak increase: the largest of its stages
	// (vision encoder, decoder forward, sampler), each with what is still alive around it.
	ActivationBytes  float64
	EncoderPeakBytes float64 // the dummy image batch through the vision tower (0 if none)
	EncoderItems     int     // images in that batch
	ForwardPeakBytes float64 // the decoder's dummy forward over max_num_batched_tokens
	SamplerPeakBytes float64 // the dummy sampler's logits and top-k/top-p temporaries
	NonTorchBytes    float64 // memory the profiling run took outside PyTorch's allocator
	KVBytes          float64 // "Available KV cache memory: X GiB"
	// KVBytesPerTokenPerGPU is this rank's KV bytes per token over all layers.
	KVBytesPerTokenPerGPU float64
	// NumBlocks is the pool in blocks of BlockSize tokens over all layers (vLLM's num_blocks
	// over its layer groups), KVTokens the "GPU KV cache size: N tokens" they hold.
	NumBlocks   int
	KVTokens    int
	MaxModelLen int
	// MaxConcurrency is "Maximum concurrency for MaxModelLen tokens per request: Y x".
	MaxConcurrency float64
}

func (c *MemoryConfig) defaults() {
	if c.TensorParallel <= 0 {
		c.TensorParallel = 1
	}
	if c.GPUMemoryUtilization <= 0 {
		c.GPUMemoryUtilization = 0.9
	}
	if c.KVCacheDTypeBytes <= 0 {
		c.KVCacheDTypeBytes = 2
	}
	if c.MaxNumBatchedTokens <= 0 {
		c.MaxNumBatchedTokens = 2048
	}
	if c.MaxNumSeqs <= 0 {
		c.MaxNumSeqs = 256
	}
	if c.MaxModelLen <= 0 {
		c.MaxModelLen = c.Model.MaxPositionEmbeddings
	}
	if c.Quantization == "" {
		c.Quantization = c.Model.Quantization
	}
}

// Non-torch memory the profiling run adds after vLLM's start-up snapshot. The CUDA context and,
// since vLLM 0.11, NCCL's communicators exist before the snapshot, so they come out of the
// (1 − utilization) headroom, not the KV cache. What is left is small on one GPU (library
// handles, lazily loaded kernels): a vLLM 0.10/0.11 profile on a 24 GiB card logged
// "non-torch forward increase memory: 0.02GiB". Tensor-parallel ranks add the buffers their
// first collectives set up; multi-GPU logs show 0.25–0.6 GiB.
const (
	nonTorchBytes   = 0.02 * GiB
	nonTorchTPBytes = 0.3 * GiB
)

// PlanMemory reproduces vLLM 0.11's memory profile (v1/worker/gpu_worker.py,
// determine_available_memory, and memory_profiling in vllm/utils): KV memory = total ·
// utilization − (weights + torch peak increase + non-torch increase). Weights are what the model
// runner measured while loading (parameters by quantization method plus the rotary table). The
// torch peak is the largest allocation of profile_run above the loaded state: for a multimodal
// model, first a batch of dummy images of the maximum size through the vision tower (as many as
// the encoder budget, max(max_num_batched_tokens, tokens per image), holds); then the decoder's
// dummy forward over max_num_batched_tokens; then _dummy_sampler_run over min(max_num_seqs,
// max_num_batched_tokens) requests with top-k and top-p set, which on vLLM 0.11.1+ (FlashInfer's
// sampler is off by default there) sorts the float32 logits of the whole vocabulary — the
// largest stage for big vocabularies. CUDA-graph memory is not subtracted: vLLM 0.11 captures
// graphs after the KV cache is allocated and only logs a --kv-cache-memory suggestion that
// would account for them. The error texts are vLLM's own.
func PlanMemory(c MemoryConfig) (MemoryPlan, error) {
	c.defaults()
	m, tp := c.Model, float64(c.TensorParallel)
	if m.Layers <= 0 || m.KVHeads <= 0 || m.HeadDim <= 0 {
		return MemoryPlan{}, fmt.Errorf("catalog: model %q has no shape", m.Name)
	}
	if c.GPU.MemoryGiB <= 0 {
		return MemoryPlan{}, fmt.Errorf("catalog: GPU %q has no memory size", c.GPU.Name)
	}
	params, err := m.QuantizedWeightBytes(c.Quantization)
	if err != nil {
		return MemoryPlan{}, err
	}
	q, _ := lookupQuant(c.Quantization)
	dt := float64(m.DTypeBytes)
	if dt == 0 {
		dt = 2
	}
	p := MemoryPlan{TotalBytes: c.GPU.MemoryBytes(), MaxModelLen: c.MaxModelLen}
	p.RequestedBytes = p.TotalBytes * c.GPUMemoryUtilization
	p.ParamBytes = params / tp
	p.BufferBytes = m.RotaryCacheBytes()
	p.WeightBytes = p.ParamBytes + p.BufferBytes

	tokens := c.MaxNumBatchedTokens
	rows := min(c.MaxNumSeqs, tokens)
	var encoderOut float64
	p.EncoderItems, p.EncoderPeakBytes, encoderOut = encoderProfile(m, tokens, c.TensorParallel, dt)
	p.ForwardPeakBytes = forwardPeak(m, tokens, c.TensorParallel, dt, q.dequantizes)
	p.SamplerPeakBytes = samplerPeak(rows, m.Vocab, dt)
	// While the sampler runs, the dummy forward's hidden states, the rows picked from them and
	// the random stand-in for those rows are still referenced, and so are the encoder outputs
	// (cached until the end of the profiling run).
	hidden := float64(tokens+2*rows) * float64(m.Hidden) * dt
	p.ActivationBytes = math.Max(p.EncoderPeakBytes,
		math.Max(p.ForwardPeakBytes+encoderOut, p.SamplerPeakBytes+hidden+encoderOut))
	p.NonTorchBytes = nonTorchBytes
	if c.TensorParallel > 1 {
		p.NonTorchBytes += nonTorchTPBytes
	}
	if p.WeightBytes > p.TotalBytes {
		return p, fmt.Errorf("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate %.2f GiB. GPU 0 has a total capacity of %.2f GiB of which %.2f GiB is free.",
			(p.WeightBytes-p.TotalBytes*0.95)/GiB+0.5, p.TotalBytes/GiB, p.TotalBytes*0.05/GiB)
	}
	p.KVBytes = p.RequestedBytes - p.WeightBytes - p.ActivationBytes - p.NonTorchBytes
	perLayer := kvBytesPerTokenPerLayer(m, c.KVCacheDTypeBytes, c.TensorParallel)
	p.KVBytesPerTokenPerGPU = perLayer * float64(m.Layers)
	if p.KVBytes <= 0 {
		return p, fmt.Errorf("ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.")
	}
	p.NumBlocks = PoolBlocks(m, p.KVBytes, c.KVCacheDTypeBytes, c.TensorParallel)
	p.KVTokens = p.NumBlocks * BlockSize
	p.MaxConcurrency = MaxConcurrency(m, p.NumBlocks, c.MaxModelLen, c.MaxNumBatchedTokens)
	if p.MaxConcurrency < 1 {
		need := p.KVBytesPerTokenPerGPU * float64(c.MaxModelLen)
		est := int(math.Floor(p.MaxConcurrency*float64(c.MaxModelLen)/BlockSize)) * BlockSize
		return p, fmt.Errorf("ValueError: To serve at least one request with the models's max seq len (%d), (%.2f GiB KV cache is needed, which is larger than the available KV cache memory (%.2f GiB). Based on the available memory, the estimated maximum model length is %d. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
			c.MaxModelLen, need/GiB, p.KVBytes/GiB, est)
	}
	return p, nil
}

// PoolBlocks is the KV pool that kvBytes of one rank's memory hold, in blocks of BlockSize
// tokens over all layers: vLLM splits the memory into one tensor per layer slot of a group, each
// of num_blocks pages (kv_cache_utils.py get_num_blocks: memory // page // layers per group), and
// reports num_blocks // groups · 16 as "GPU KV cache size"; padding layers of a hybrid model take
// their share.
func PoolBlocks(m Model, kvBytes float64, kvDTypeBytes, tp int) int {
	if kvBytes <= 0 || m.Layers <= 0 {
		return 0
	}
	if kvDTypeBytes <= 0 {
		kvDTypeBytes = 2
	}
	g := kvGroupsOf(m)
	page := float64(BlockSize) * kvBytesPerTokenPerLayer(m, kvDTypeBytes, tp)
	return int(kvBytes/(page*float64(g.size))) / (g.full + g.sliding)
}

// kvBytesPerTokenPerLayer is one layer's K and V for one token on one rank: vLLM splits the KV
// heads over the tensor-parallel ranks and replicates them when there are fewer heads than ranks.
func kvBytesPerTokenPerLayer(m Model, kvDTypeBytes, tp int) float64 {
	heads := m.KVHeads / max(tp, 1)
	if heads < 1 {
		heads = 1
	}
	return 2 * float64(heads) * float64(m.HeadDim) * float64(kvDTypeBytes)
}

// encoderProfile is the vision-tower stage of the profiling run: how many dummy images vLLM
// encodes at once (the encoder budget, max(max_num_batched_tokens, one image's placeholder
// tokens), over one image's placeholder tokens: "Encoder cache will be initialized with a budget
// of N tokens, and profiled with K image items"), the torch memory at the stage's peak, and the
// encoder outputs, which stay cached for the rest of the profiling run. The peak is the batch's
// MLP block in the tower dtype (the residual stream, the normalised input, fc1's output and its
// GELU; attention runs in a fused kernel that does not materialise the score matrix), the pixel
// batch (float32 from the processor plus its cast to the tower dtype) and the outputs.
func encoderProfile(m Model, tokens, tp int, dt float64) (items int, peak, out float64) {
	v := m.Vision
	if v.Hidden <= 0 || v.TokensPerItem <= 0 || v.Patches() <= 0 {
		return 0, 0, 0
	}
	items = max(tokens, v.TokensPerItem) / v.TokensPerItem
	n := float64(items * v.Patches())
	act := n * (2*float64(v.Hidden) + 2*float64(v.Intermediate)/float64(max(tp, 1))) * dt
	pixels := float64(items) * 3 * float64(v.ImageSize*v.ImageSize) * (4 + dt)
	out = float64(items*v.EmbedsPerItem) * float64(m.Hidden) * dt
	return items, act + pixels + out, out
}

// forwardPeak is the decoder's dummy forward over max_num_batched_tokens tokens: at the MLP of a
// layer, the hidden-sized residual, normalised input, attention output and its projection
// (4·hidden), and the gate/up output and its activation (3·intermediate, split over TP ranks).
// Attention itself is skipped in the profiling run (no attention metadata). bitsandbytes
// multiplies by a 16-bit copy of each weight shard it dequantizes for the batch, one MLP
// projection at most.
func forwardPeak(m Model, tokens, tp int, dt float64, dequantizes bool) float64 {
	h := float64(m.Hidden)
	i := float64(m.Intermediate) / float64(max(tp, 1))
	b := float64(tokens) * (4*h + 3*i) * dt
	if dequantizes {
		b += i * h * dt
	}
	return b
}

// samplerPeak is the dummy sampler run of vLLM 0.11 (gpu_model_runner.py _dummy_sampler_run):
// logits for `rows` requests in the model dtype (vocabulary padded to 64), their float32 copy
// (sampler.py), and — because the dummy requests set top_k = vocab − 1 and top_p = 0.9 — the
// PyTorch top-k/top-p path (ops/topk_topp_sampler.py apply_top_k_top_p), which sorts the whole
// float32 row: sorted values (4 bytes) and int64 indices (8 bytes) per logit, then masks, a
// softmax and the scattered result (10 more). The sort itself needs scratch that is freed before
// those, so the peak is whichever is larger. PyTorch's stable CUDA sort (SortStable.cu) picks its
// path by the number of rows in a batch of at most INT_MAX elements: 128 rows or more go to
// cub's segmented radix sort, which takes an int64 iota of the indices (8 bytes per logit) and
// cub's alternate key and value buffers (12); fewer rows are sorted as one array of
// (index, segment) pairs, two int2 buffers (16), the keys' output copy (4) and cub's alternates
// (12); one row, or a vocabulary of a million, is sorted row by row with 20 bytes per entry of
// one row. For Gemma 3 (262,208 tokens) and 256 requests that is 38 bytes per logit, 2.4 GiB;
// a vLLM 0.10 profile of Qwen3-8B (256 requests) logged a 1.40 GiB torch peak, 38 bytes per
// logit of its vocabulary plus the hidden states.
func samplerPeak(rows, vocab int, dt float64) float64 {
	if rows <= 0 || vocab <= 0 {
		return 0
	}
	n := float64(rows) * float64(vocab)
	logits := float64(rows) * float64((vocab+63)/64*64) * dt
	f32 := 4 * n
	if dt >= 4 {
		f32 = 0 // float32 models: the cast returns the same tensor
	}
	seg := min(rows, math.MaxInt32/vocab)
	var scratch float64
	switch {
	case seg <= 1 || vocab >= 1_000_000:
		scratch = 20 * float64(vocab)
	case seg < 128:
		scratch = 32 * float64(seg) * float64(vocab)
	default:
		scratch = 20 * float64(seg) * float64(vocab)
	}
	return logits + f32 + 12*n + math.Max(scratch, 10*n)
}

// kvGroups is vLLM's grouping of layers for its hybrid KV-cache manager (kv_cache_utils.py):
// layers of one attention type go into groups of `size` layers, size being the smaller type's
// count (the larger one's when they are within 1.5× of each other); a type whose count is not a
// multiple of size is padded with layers that take memory too. Each group owns a block table;
// every group's layer slot i shares one KV tensor of num_blocks pages.
type kvGroups struct {
	size          int // layers per group
	full, sliding int // groups of full-attention and of sliding-window layers
}

func kvGroupsOf(m Model) kvGroups {
	g := m.GlobalLayers()
	s := m.Layers - g
	if s <= 0 || g <= 0 {
		return kvGroups{size: m.Layers, full: 1}
	}
	lo, hi := min(g, s), max(g, s)
	size := lo
	if float64(hi) < 1.5*float64(lo) {
		size = hi
	}
	return kvGroups{size: size, full: (g + size - 1) / size, sliding: (s + size - 1) / size}
}

// LayerBlocks is how many per-layer KV blocks a request with ctx tokens holds: every global
// layer keeps all its blocks; a sliding-window layer keeps at most the window plus one block.
func LayerBlocks(m Model, ctx, maxNumBatchedTokens int) int {
	full := (ctx + BlockSize - 1) / BlockSize
	g := m.GlobalLayers()
	if g == m.Layers {
		return full * m.Layers
	}
	win := ctx
	if lim := m.SlidingWindow - 1 + maxNumBatchedTokens; win > lim {
		win = lim
	}
	local := (win+BlockSize-1)/BlockSize + 1
	if local > full {
		local = full
	}
	return full*g + local*(m.Layers-g)
}

// MaxConcurrency is vLLM's "Maximum concurrency for N tokens per request"
// (kv_cache_utils.py get_max_concurrency_for_kv_cache_config): the pool's blocks per group-layer
// slot over the blocks one request of maxModelLen tokens needs summed over the groups — a
// full-attention group every block of the request, a sliding-window group
// cdiv(min(window − 1 + max_num_batched_tokens, maxModelLen), 16) + 1. numBlocks is the pool
// in blocks over all layers (KVTokens / 16), so the slots hold numBlocks × groups blocks each.
func MaxConcurrency(m Model, numBlocks, maxModelLen, maxNumBatchedTokens int) float64 {
	if maxModelLen <= 0 {
		return 0
	}
	g := kvGroupsOf(m)
	need := g.full * ((maxModelLen + BlockSize - 1) / BlockSize)
	if g.sliding > 0 {
		win := min(m.SlidingWindow-1+maxNumBatchedTokens, maxModelLen)
		need += g.sliding * ((win+BlockSize-1)/BlockSize + 1)
	}
	return float64(numBlocks) * float64(g.full+g.sliding) / float64(need)
}
