package catalog

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookupGPU(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"H100", "H100"}, {"h100-sxm", "H100"}, {"NVIDIA H100 80GB HBM3", "H100"},
		{"rtx4090", "RTX 4090"}, {"RTX-3090", "RTX 3090"}, {"NVIDIA GeForce RTX 3090", "RTX 3090"},
		{"a100_40g", "A100-40G"}, {"A100", "A100-80G"}, {"l40s", "L40S"}, {"RTX A6000", "A6000"}, {"h200", "H200"},
	} {
		g, err := LookupGPU(tc.in)
		if err != nil || g.Name != tc.want {
			t.Errorf("LookupGPU(%q) = %q, %v; want %q", tc.in, g.Name, err, tc.want)
		}
	}
	if _, err := LookupGPU("TPU v5"); err == nil || !strings.Contains(err.Error(), "H100") {
		t.Errorf("unknown GPU error should list known ones: %v", err)
	}
}

func TestLookupModel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B"}, {"llama-3.1-8b", "Llama-3.1-8B"},
		{"meta-llama/Meta-Llama-3.1-70B-Instruct", "Llama-3.1-70B"}, {"Qwen/Qwen2.5-7B-Instruct-AWQ", "Qwen2.5-7B"},
		{"mistralai/Mistral-7B-Instruct-v0.3", "Mistral-7B"}, {"google/gemma-3-12b-it", "Gemma-3-12B"},
		{"unsloth/gemma-3-12b-it-bnb-4bit", "Gemma-3-12B"},
	} {
		m, err := LookupModel(tc.in)
		if err != nil || m.Name != tc.want {
			t.Errorf("LookupModel(%q) = %q, %v; want %q", tc.in, m.Name, err, tc.want)
		}
	}
	if _, err := LookupModel("gpt-5"); err == nil {
		t.Error("unknown model: want error")
	}
}

func TestKVBytesPerToken(t *testing.T) {
	for _, tc := range []struct {
		model string
		bytes int
		want  int64
	}{
		{"Llama-3.1-8B", 2, 128 << 10}, {"Llama-3.1-70B", 2, 320 << 10}, {"Gemma-3-12B", 2, 384 << 10},
		{"Qwen2.5-7B", 2, 56 << 10}, {"Llama-3.1-8B", 1, 64 << 10},
	} {
		m, _ := LookupModel(tc.model)
		if got := m.KVBytesPerToken(tc.bytes); got != tc.want {
			t.Errorf("%s KVBytesPerToken(%d) = %d, want %d", tc.model, tc.bytes, got, tc.want)
		}
	}
}

// TestSeed004 checks the numbers vLLM 0.11.2 printed for Gemma-3-12B on an RTX 3090: 10.28 GiB of
// KV cache holds 28,064 tokens and 8.62 requests of 4,096 tokens (sliding-window layers).
func TestSeed004(t *testing.T) {
	m, _ := LookupModel("gemma-3-12b-it")
	blocks := int(10.28 * GiB / float64(m.KVBytesPerToken(2)*BlockSize))
	if got := blocks * BlockSize; got != 28064 {
		t.Errorf("tokens = %d, want 28064", got)
	}
	if got := MaxConcurrency(m, blocks, 4096, 2048); math.Abs(got-8.62) > 0.005 {
		t.Errorf("max concurrency = %.3f, want 8.62", got)
	}
}

func TestPlanMemory(t *testing.T) {
	llama, _ := LookupModel("Llama-3.1-8B")
	h100, _ := LookupGPU("H100")
	p, err := PlanMemory(MemoryConfig{Model: llama, GPU: h100, MaxNumBatchedTokens: 8192, MaxNumSeqs: 1024})
	if err != nil {
		t.Fatal(err)
	}
	// vLLM logs "Model loading took 14.99 GiB" (the bf16 weights and the 32 MiB rotary table).
	if w := p.WeightBytes / GiB; math.Abs(w-14.99) > 0.005 {
		t.Errorf("weights = %.3f GiB, want 14.99", w)
	}
	// The KV memory was pinned near 54 GiB before the profile counted the dummy sampler's sort:
	// at the H100's default 1024 sequences vLLM 0.11.2 sorts 1024 × 128,256 float32 logits,
	// a 4.6 GiB peak, which leaves ≈ 51.5 GiB (a vLLM 0.9 H100 log of this model, with an EAGLE
	// drafter's weights and KV besides, reported 51.63 GiB).
	if kv := p.KVBytes / GiB; kv < 51 || kv > 52.5 {
		t.Errorf("KV = %.2f GiB, want ≈ 51.5", kv)
	}
	if p.KVTokens%BlockSize != 0 || p.MaxConcurrency < 3 || p.MaxConcurrency > 3.6 {
		t.Errorf("tokens %d, concurrency %.2f", p.KVTokens, p.MaxConcurrency)
	}
	tp2, _ := PlanMemory(MemoryConfig{Model: llama, GPU: h100, TensorParallel: 2, MaxNumBatchedTokens: 8192, MaxNumSeqs: 1024})
	if tp2.KVTokens < 2*p.KVTokens {
		t.Errorf("TP=2 should more than double KV tokens: %d vs %d", tp2.KVTokens, p.KVTokens)
	}

	big, _ := LookupModel("Llama-3.1-70B")
	for _, tc := range []struct {
		name string
		cfg  MemoryConfig
		want string
	}{
		{"weights do not fit", MemoryConfig{Model: big, GPU: h100}, "CUDA out of memory"},
		{"no room for KV", MemoryConfig{Model: llama, GPU: h100, GPUMemoryUtilization: 0.18}, "No available memory for the cache blocks"},
		{"max_model_len too long", MemoryConfig{Model: llama, GPU: h100, GPUMemoryUtilization: 0.25}, "estimated maximum model length"},
		{"bad quantization", MemoryConfig{Model: llama, GPU: h100, Quantization: "int3"}, "unknown quantization"},
	} {
		if _, err := PlanMemory(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := PlanMemory(MemoryConfig{Model: big, GPU: h100, Quantization: "awq", MaxModelLen: 32768}); err != nil {
		t.Errorf("70B AWQ on one H100 should fit: %v", err)
	}
}

func TestParseHFConfig(t *testing.T) {
	llama := `{"architectures":["LlamaForCausalLM"],"hidden_size":4096,"intermediate_size":14336,
		"max_position_embeddings":131072,"model_type":"llama","num_attention_heads":32,"num_hidden_layers":32,
		"num_key_value_heads":8,"tie_word_embeddings":false,"torch_dtype":"bfloat16","vocab_size":128256}`
	gemma := `{"architectures":["Gemma3ForConditionalGeneration"],"model_type":"gemma3","torch_dtype":"bfloat16",
		"text_config":{"model_type":"gemma3_text","hidden_size":3840,"intermediate_size":15360,"num_attention_heads":16,
		"num_hidden_layers":48,"num_key_value_heads":8,"head_dim":256,"sliding_window":1024,"vocab_size":262208,
		"max_position_embeddings":131072},"quantization_config":{"quant_method":"bitsandbytes"}}`
	gemma3Full := `{"architectures":["Gemma3ForConditionalGeneration"],"model_type":"gemma3","torch_dtype":"bfloat16",
		"mm_tokens_per_image":256,"quantization_config":{"quant_method":"bitsandbytes"},
		"text_config":{"model_type":"gemma3_text","hidden_size":3840,"intermediate_size":15360,"num_attention_heads":16,
		"num_hidden_layers":48,"num_key_value_heads":8,"head_dim":256,"sliding_window":1024,"vocab_size":262208,
		"max_position_embeddings":131072,"rope_local_base_freq":10000.0,"rope_scaling":{"factor":8.0,"rope_type":"linear"},
		"rope_theta":1000000.0},
		"vision_config":{"model_type":"siglip_vision_model","hidden_size":1152,"intermediate_size":4304,"image_size":896,
		"num_attention_heads":16,"num_hidden_layers":27,"patch_size":14,"vision_use_head":false}}`
	for _, tc := range []struct {
		name, json string
		check      func(Model) bool
		err        string
	}{
		{"llama", llama, func(m Model) bool {
			return m.HeadDim == 128 && m.Params > 8.0e9 && m.Params < 8.06e9 && m.KVBytesPerToken(2) == 128<<10
		}, ""},
		{"gemma3 text_config", gemma, func(m Model) bool {
			return m.Layers == 48 && m.KVBytesPerToken(2) == 384<<10 && m.SlidingWindow == 1024 &&
				m.SlidingWindowPattern == 6 && m.Quantization == "bitsandbytes" && m.Params > 11.5e9 && m.Params < 12e9 &&
				m.Vision.Params == 0 && !m.QuantSkipsVision
		}, ""},
		// google/gemma-3-12b-it's config (plus a bitsandbytes quantization_config): rope scaling,
		// the local rope and a SigLIP tower, whose count must match the checkpoint's 421,290,864
		// tower and projector weights.
		{"gemma3 vision_config", gemma3Full, func(m Model) bool {
			want := catalogModel(t, "Gemma-3-12B")
			return m.RopeType == "linear" && m.RopeFactor == 8 && m.LocalRope && m.Vision == want.Vision &&
				m.RotaryCacheBytes() == want.RotaryCacheBytes() && m.Params-want.Params > -1e6 && m.Params-want.Params < 1e6
		}, ""},
		// unsloth/gemma-3-12b-it-bnb-4bit keeps the tower out of bitsandbytes.
		{"bnb checkpoint skipping the tower", strings.Replace(gemma3Full, `"quant_method":"bitsandbytes"`,
			`"quant_method":"bitsandbytes","llm_int8_skip_modules":["lm_head","multi_modal_projector","vision_tower"]`, 1),
			func(m Model) bool { return m.QuantSkipsVision }, ""},
		{"missing layers", `{"hidden_size":4096,"num_attention_heads":32}`, nil, `"num_hidden_layers"`},
		{"bad heads", `{"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":0}`, nil, `"num_attention_heads"`},
		{"bad dtype", `{"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":2,"intermediate_size":8,"vocab_size":10,"torch_dtype":"int3"}`, nil, "torch_dtype"},
		{"not json", `{`, nil, "invalid JSON"},
	} {
		m, err := ParseHFConfig([]byte(tc.json), tc.name)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !tc.check(m) {
			t.Errorf("%s: %+v, %v", tc.name, m, err)
		}
	}
}

func TestLoadHFConfigNamesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my-model")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"hidden_size":1}`), 0o644)
	_, err := ResolveModel(dir)
	if err == nil || !strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), "num_hidden_layers") {
		t.Errorf("err = %v, want file and field named", err)
	}
	if m, err := ResolveModel("Qwen2.5-7B"); err != nil || m.Name != "Qwen2.5-7B" {
		t.Errorf("ResolveModel by name: %v", err)
	}
}

func catalogModel(t *testing.T, name string) Model {
	t.Helper()
	m, err := LookupModel(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
