package server

import (
	"reflect"
	"starlab/runtime/paramerr"
	"testing"
)

func TestParseKVCache(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want *KVCache
	}{
		{"vLLM 0.11 V1 with engine-core prefixes", `
INFO 11-22 16:59:01 [__init__.py:216] Automatically detected platform cuda.
(EngineCore_DP0 pid=4242) INFO 11-22 16:59:30 [gpu_worker.py:298] Available KV cache memory: 10.28 GiB
(EngineCore_DP0 pid=4242) INFO 11-22 16:59:30 [kv_cache_utils.py:1087] GPU KV cache size: 28,064 tokens
(EngineCore_DP0 pid=4242) INFO 11-22 16:59:30 [kv_cache_utils.py:1091] Maximum concurrency for 4,096 tokens per request: 8.62x
`, &KVCache{MemoryGiB: 10.28, Tokens: 28064, MaxConcurrency: 8.62, TokensPerRequest: 4096}},
		{"one copy per tensor-parallel rank", `
(VllmWorker TP0 pid=1) INFO [gpu_worker.py:298] Available KV cache memory: 61.5 GiB
(VllmWorker TP1 pid=2) INFO [gpu_worker.py:298] Available KV cache memory: 61.5 GiB
INFO [kv_cache_utils.py:1087] GPU KV cache size: 1,007,616 tokens
INFO [kv_cache_utils.py:1091] Maximum concurrency for 131,072 tokens per request: 7.69x
`, &KVCache{MemoryGiB: 61.5, Tokens: 1007616, MaxConcurrency: 7.69, TokensPerRequest: 131072}},
		{"older vLLM without thousands separators", `INFO GPU KV cache size: 28064 tokens`, &KVCache{Tokens: 28064}},
		{"nothing", "INFO Started server process\n", nil},
	}
	for _, tt := range tests {
		if got := ParseKVCache(tt.log); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestVLLMCommand(t *testing.T) {
	spec := Spec{Model: "meta-llama/Llama-3.1-8B-Instruct", GPUs: 4, TensorParallel: 2, DataParallel: 2, MaxNumSeqs: 64,
		GPUMemoryUtilization: 0.85, Quantization: "fp8", ExtraArgs: []string{"--enable-prefix-caching"}}
	got := VLLMCommand("", spec, "127.0.0.1", 8123)
	want := []string{"vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--host", "127.0.0.1", "--port", "8123",
		"--tensor-parallel-size", "2", "--data-parallel-size", "2", "--max-num-seqs", "64",
		"--gpu-memory-utilization", "0.85", "--quantization", "fp8", "--enable-prefix-caching"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	mod := VLLMCommand("python -m vllm.entrypoints.openai.api_server", Spec{Model: "m", GPUs: 1, TensorParallel: 1, DataParallel: 1}, "h", 1)
	if want := []string{"python", "-m", "vllm.entrypoints.openai.api_server", "--model", "m", "--host", "h", "--port", "1"}; !reflect.DeepEqual(mod, want) {
		t.Fatalf("module entry point: got %q", mod)
	}
}

func TestSpecNormalize(t *testing.T) {
	tests := []struct {
		spec  Spec
		param string
	}{
		{Spec{Model: "m", GPUs: -1, DataParallel: 1}, "gpus"},
		{Spec{Model: "m", GPUs: 4, DataParallel: 3}, "data_parallel"},
		{Spec{Model: "m", GPUs: 4, TensorParallel: 2, DataParallel: 1}, "gpus"},
		{Spec{Model: "", GPUs: 1, DataParallel: 1}, "model"},
		{Spec{Model: "m", GPUs: 1, DataParallel: 1, Backend: "docker"}, "backend"},
		{Spec{Backend: "external"}, "url"},
		{Spec{Model: "m", GPUs: 1, DataParallel: 1, URL: "http://x"}, "url"},
		{Spec{Model: "m", GPUs: 1, DataParallel: 1, GPUMemoryUtilization: 1.5}, "gpu_memory_utilization"},
	}
	for _, tt := range tests {
		err := tt.spec.Normalize()
		pe, ok := err.(*paramerr.Error)
		if !ok || pe.Param != tt.param {
			t.Errorf("%+v: got %v, want an error for parameter %s", tt.spec, err, tt.param)
		}
	}
	s := Spec{Model: "m", GPUs: 4, DataParallel: 4}
	if err := s.Normalize(); err != nil || s.TensorParallel != 1 || s.Backend != BackendVLLM {
		t.Fatalf("defaults: %+v %v", s, err)
	}
}
