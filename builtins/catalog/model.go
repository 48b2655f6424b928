package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// Model is the shape of a decoder-only transformer: what sets its weight bytes, KV bytes per token
// and FLOPs per token.
type Model struct {
	Name         string
	Layers       int // num_hidden_layers
	Hidden       int // hidden_size
	Heads        int // num_attention_heads
	KVHeads      int // num_key_value_heads (grouped-query attention)
	HeadDim      int // head_dim (hidden/heads unless the config says otherwise)
	Intermediate int // intermediate_size
	Vocab        int // vocab_size
	// Params is the total parameter count (what must sit in GPU memory).
	Params int64
	// ActiveParams is the count used per token (differs from Params only for mixture-of-experts).
	ActiveParams int64
	// EmbeddingParams is the input embedding plus an untied lm_head: the part weight-only
	// quantizers (AWQ, GPTQ, bitsandbytes) leave in 16-bit.
	EmbeddingParams int64
	// MaxPositionEmbeddings is vLLM's default max_model_len.
	MaxPositionEmbeddings int
	// DTypeBytes is the bytes per weight of the checkpoint dtype (2 for bf16/fp16).
	DTypeBytes int
	// SlidingWindow, when > 0, is the attention window of the local layers; one layer in
	// SlidingWindowPattern is global (Gemma 3: window 1024, pattern 6). vLLM's hybrid KV cache
	// keeps only the window for local layers, which raises its "Maximum concurrency" line.
	SlidingWindow        int
	SlidingWindowPattern int
	// Quantization is the checkpoint's own quant_method (from config.json), "" if none.
	Quantization string
	// QuantSkipsVision is set when the checkpoint's quantization_config leaves the vision tower
	// in 16-bit (its llm_int8_skip_modules or modules_to_not_convert name it), as pre-quantized
	// bitsandbytes checkpoints of multimodal models do.
	QuantSkipsVision bool
	// RopeType, RopeFactor and RopeOriginalPositions are config.json's rope_scaling. vLLM
	// precomputes a cos/sin table of max_position_embeddings rows at load time; its linear and
	// dynamic embeddings make it factor times longer, YaRN factor times
	// original_max_position_embeddings (Llama 3's "llama3" scaling keeps it).
	RopeType              string
	RopeFactor            float64
	RopeOriginalPositions int
	// LocalRope: the sliding-window layers have a rotary embedding of their own (Gemma 3's
	// rope_local_base_freq, unscaled), a second table.
	LocalRope bool
	// Vision is a multimodal model's image encoder and projector; zero for text-only models.
	// Params includes it.
	Vision Tower
	// Aliases are extra names the lookup accepts.
	Aliases []string
}

// Tower is the non-language encoder of a multimodal model (a ViT such as SigLIP and its
// projector into the decoder's hidden size). vLLM loads it with the decoder, and its profiling
// run encodes a batch of dummy images before the decoder's dummy forward.
type Tower struct {
	// Params is the encoder plus projector; LinearParams the part in linear layers (attention
	// and MLP projections), the only part a weight quantizer can touch.
	Params       int64
	LinearParams int64
	// Hidden, Intermediate and Layers are the encoder's hidden_size, intermediate_size and
	// num_hidden_layers.
	Hidden, Intermediate, Layers int
	// ImageSize and PatchSize are the encoder's input side in pixels and its patch side:
	// (ImageSize/PatchSize)² positions per image.
	ImageSize, PatchSize int
	// EmbedsPerItem is the embeddings one image hands the decoder (Gemma 3: mm_tokens_per_image
	// = 256); TokensPerItem the prompt tokens its placeholder takes, the unit of vLLM's encoder
	// budget (Gemma 3 wraps the 256 soft tokens in begin/end-of-image and blank lines: 260).
	EmbedsPerItem, TokensPerItem int
}

// Patches is the encoder positions per image.
func (t Tower) Patches() int {
	if t.PatchSize <= 0 {
		return 0
	}
	n := t.ImageSize / t.PatchSize
	return n * n
}

// KVBytesPerToken is 2 (K and V) · layers · kv_heads · head_dim · bytes, over all layers.
func (m Model) KVBytesPerToken(kvDTypeBytes int) int64 {
	return 2 * int64(m.Layers) * int64(m.KVHeads) * int64(m.HeadDim) * int64(kvDTypeBytes)
}

// WeightBytes is Params at a uniform bytesPerParam.
func (m Model) WeightBytes(bytesPerParam float64) float64 {
	return float64(m.Params) * bytesPerParam
}

// GlobalLayers is the number of full-attention layers (all of them unless sliding-window).
func (m Model) GlobalLayers() int {
	if m.SlidingWindow <= 0 || m.SlidingWindowPattern <= 0 {
		return m.Layers
	}
	return m.Layers / m.SlidingWindowPattern
}

// RotaryCacheBytes is the cos/sin table of the rotary embeddings: vLLM builds it on the GPU
// while it constructs the model, in the model dtype (rotary_embedding/base.py, cos_sin_cache:
// one row of rotary_dim values per position), so "Model loading took" includes it. Rows are
// max_position_embeddings, times the factor for linear and dynamic scaling (linear_scaling_rope.py
// precomputes every scaled position), original_max_position_embeddings times it for YaRN; the layers share one table per
// distinct rope (get_rope caches them), so Gemma 3 holds a scaled global and an unscaled local
// one: 131072·8 + 131072 rows of 256 bf16 values, 0.56 GiB.
func (m Model) RotaryCacheBytes() float64 {
	dt := float64(m.DTypeBytes)
	if dt == 0 {
		dt = 2
	}
	pos := float64(m.MaxPositionEmbeddings)
	rows := pos
	if m.RopeFactor > 1 {
		switch strings.ToLower(m.RopeType) {
		case "linear", "dynamic":
			rows = pos * m.RopeFactor
		case "yarn", "deepseek_yarn":
			if m.RopeOriginalPositions > 0 {
				rows = float64(m.RopeOriginalPositions) * m.RopeFactor
			} else {
				rows = pos * m.RopeFactor
			}
		}
	}
	if m.LocalRope {
		rows += pos
	}
	return rows * float64(m.HeadDim) * dt
}

// models holds published config.json values (Hugging Face) and parameter counts from the model
// cards.
var models = []Model{
	{Name: "Llama-3.1-8B", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128, Intermediate: 14336,
		Vocab: 128256, Params: 8_030_261_248, EmbeddingParams: 2 * 128256 * 4096, MaxPositionEmbeddings: 131072, DTypeBytes: 2,
		RopeType: "llama3", RopeFactor: 8, Aliases: []string{"Meta-Llama-3.1-8B", "Llama-3-8B", "Meta-Llama-3-8B"}},
	{Name: "Llama-3.1-70B", Layers: 80, Hidden: 8192, Heads: 64, KVHeads: 8, HeadDim: 128, Intermediate: 28672,
		Vocab: 128256, Params: 70_553_706_496, EmbeddingParams: 2 * 128256 * 8192, MaxPositionEmbeddings: 131072, DTypeBytes: 2,
		RopeType: "llama3", RopeFactor: 8, Aliases: []string{"Meta-Llama-3.1-70B", "Llama-3.3-70B", "Llama-3-70B", "Meta-Llama-3-70B"}},
	{Name: "Llama-3.2-1B", Layers: 16, Hidden: 2048, Heads: 32, KVHeads: 8, HeadDim: 64, Intermediate: 8192,
		Vocab: 128256, Params: 1_235_814_400, EmbeddingParams: 128256 * 2048, MaxPositionEmbeddings: 131072, DTypeBytes: 2,
		RopeType: "llama3", RopeFactor: 32},
	{Name: "Llama-3.2-3B", Layers: 28, Hidden: 3072, Heads: 24, KVHeads: 8, HeadDim: 128, Intermediate: 8192,
		Vocab: 128256, Params: 3_212_749_824, EmbeddingParams: 128256 * 3072, MaxPositionEmbeddings: 131072, DTypeBytes: 2,
		RopeType: "llama3", RopeFactor: 32},
	{Name: "Qwen2.5-7B", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4, HeadDim: 128, Intermediate: 18944,
		Vocab: 152064, Params: 7_615_616_512, EmbeddingParams: 2 * 152064 * 3584, MaxPositionEmbeddings: 32768, DTypeBytes: 2},
	{Name: "Qwen2.5-14B", Layers: 48, Hidden: 5120, Heads: 40, KVHeads: 8, HeadDim: 128, Intermediate: 13824,
		Vocab: 152064, Params: 14_770_033_664, EmbeddingParams: 2 * 152064 * 5120, MaxPositionEmbeddings: 32768, DTypeBytes: 2},
	{Name: "Qwen2.5-32B", Layers: 64, Hidden: 5120, Heads: 40, KVHeads: 8, HeadDim: 128, Intermediate: 27648,
		Vocab: 152064, Params: 32_763_876_352, EmbeddingParams: 2 * 152064 * 5120, MaxPositionEmbeddings: 32768, DTypeBytes: 2},
	{Name: "Qwen3-8B", Layers: 36, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128, Intermediate: 12288,
		Vocab: 151936, Params: 8_190_735_360, EmbeddingParams: 2 * 151936 * 4096, MaxPositionEmbeddings: 40960, DTypeBytes: 2},
	{Name: "Mistral-7B", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128, Intermediate: 14336,
		Vocab: 32768, Params: 7_248_023_552, EmbeddingParams: 2 * 32768 * 4096, MaxPositionEmbeddings: 32768, DTypeBytes: 2,
		Aliases: []string{"Mistral-7B-v0.3", "Mistral-7B-Instruct-v0.3"}},
	// Gemma 3 12B: 11.77B text parameters plus a 0.42B SigLIP vision tower (27 layers of 1152,
	// MLP 4304, 896-pixel images in 14-pixel patches, projector 1152×3840), tied embeddings; its
	// global layers use linear rope scaling ×8, its local ones an unscaled rope of their own.
	{Name: "Gemma-3-12B", Layers: 48, Hidden: 3840, Heads: 16, KVHeads: 8, HeadDim: 256, Intermediate: 15360,
		Vocab: 262208, Params: 12_187_325_040, EmbeddingParams: 262208 * 3840, MaxPositionEmbeddings: 131072, DTypeBytes: 2,
		SlidingWindow: 1024, SlidingWindowPattern: 6, RopeType: "linear", RopeFactor: 8, LocalRope: true,
		Vision: Tower{Params: 421_290_864, LinearParams: 27 * (4*1152*1152 + 2*1152*4304), Hidden: 1152, Intermediate: 4304,
			Layers: 27, ImageSize: 896, PatchSize: 14, EmbedsPerItem: 256, TokensPerItem: 260},
		Aliases: []string{"gemma-3-12b-it", "gemma3-12b"}},
}

func init() {
	for i := range models {
		if models[i].ActiveParams == 0 {
			models[i].ActiveParams = models[i].Params
		}
	}
}

// modelKey strips an HF organisation prefix and the usual fine-tune and packaging suffixes, so
// "meta-llama/Llama-3.1-8B-Instruct" and "unsloth/gemma-3-12b-it-bnb-4bit" find their base model.
func modelKey(name string) string {
	s := strings.TrimSpace(name)
	s = strings.TrimRight(s, "/")
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	s = strings.ToLower(s)
	for changed := true; changed; {
		changed = false
		for _, suf := range []string{"-instruct", "-it", "-chat", "-hf", "-awq", "-gptq", "-int4", "-int8", "-fp8",
			"-bnb-4bit", "-unsloth", "-dynamic", "-w4a16", "-w8a8", "-4bit", "-8bit", "-v0.3", "-v0.1", "-v0.2", "-2507", "-2503"} {
			if strings.HasSuffix(s, suf) {
				s = strings.TrimSuffix(s, suf)
				changed = true
			}
		}
	}
	return normName(s)
}

// LookupModel finds a catalog model by name, alias or Hugging Face repo id, ignoring case and
// instruct/quantization suffixes.
func LookupModel(name string) (Model, error) {
	k := modelKey(name)
	for _, m := range models {
		if modelKey(m.Name) == k {
			return m, nil
		}
		for _, a := range m.Aliases {
			if modelKey(a) == k {
				return m, nil
			}
		}
	}
	return Model{}, fmt.Errorf("catalog: unknown model %q (known: %s; or give a config.json path)", name, strings.Join(ModelNames(), ", "))
}

// ModelNames lists the catalog's model names, sorted.
func ModelNames() []string {
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.Name
	}
	sort.Strings(out)
	return out
}

// Models returns a copy of the model table.
func Models() []Model { return append([]Model(nil), models...) }
