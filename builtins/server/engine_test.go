package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"starlab/runtime/paramerr"
)

// normalized is spec after Normalize, failing the test on an error.
func normalized(t *testing.T, s Spec) Spec {
	t.Helper()
	if err := s.Normalize(); err != nil {
		t.Fatalf("%+v: %v", s, err)
	}
	return s
}

func TestEngineCommands(t *testing.T) {
	tests := []struct {
		name   string
		spec   Spec
		prefix string
		want   []string
		env    []string
	}{
		{"vllm", Spec{Backend: "vllm", Model: "meta-llama/Llama-3.1-8B-Instruct", GPUs: 4, TensorParallel: 2, DataParallel: 2,
			MaxNumSeqs: 64, MaxModelLen: 8192, GPUMemoryUtilization: 0.85, Quantization: "fp8", ExtraArgs: []string{"--enable-prefix-caching"}},
			"vllm", []string{"vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--host", "127.0.0.1", "--port", "8123",
				"--tensor-parallel-size", "2", "--data-parallel-size", "2", "--max-num-seqs", "64", "--max-model-len", "8192",
				"--gpu-memory-utilization", "0.85", "--quantization", "fp8", "--enable-prefix-caching"}, nil},
		{"sglang, all settings", Spec{Backend: "sglang", Model: "meta-llama/Llama-3.1-8B-Instruct", GPUs: 4, TensorParallel: 2, DataParallel: 2,
			MaxNumSeqs: 48, MaxModelLen: 16384, GPUMemoryUtilization: 0.8, Quantization: "fp8", ExtraArgs: []string{"--disable-radix-cache"}},
			"python3 -m sglang.launch_server", []string{"python3", "-m", "sglang.launch_server", "--model-path", "meta-llama/Llama-3.1-8B-Instruct",
				"--host", "127.0.0.1", "--port", "8123", "--tensor-parallel-size", "2", "--data-parallel-size", "2",
				"--max-running-requests", "48", "--context-length", "16384", "--mem-fraction-static", "0.8", "--quantization", "fp8",
				"--enable-metrics", "--disable-radix-cache"}, nil},
		{"sglang, defaults", Spec{Backend: "sglang", Model: "Qwen/Qwen2.5-7B", GPUs: 1},
			"/venv/bin/python -m sglang.launch_server", []string{"/venv/bin/python", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen2.5-7B",
				"--host", "127.0.0.1", "--port", "8123", "--enable-metrics"}, nil},
		{"llama.cpp: ctx-size is max_model_len per slot", Spec{Backend: "llama.cpp", Model: "/m/Tiny-Llama.gguf", MaxNumSeqs: 8, MaxModelLen: 16384,
			ExtraArgs: []string{"-ngl", "99"}},
			"llama-server", []string{"llama-server", "--model", "/m/Tiny-Llama.gguf", "--host", "127.0.0.1", "--port", "8123",
				"--parallel", "8", "--ctx-size", "131072", "--alias", "Tiny-Llama", "--metrics", "-ngl", "99"}, nil},
		{"llama.cpp: default slots, the model's context", Spec{Backend: "llama.cpp", Model: "/m/tiny.gguf"},
			"/opt/llama.cpp/build/bin/llama-server", []string{"/opt/llama.cpp/build/bin/llama-server", "--model", "/m/tiny.gguf", "--host", "127.0.0.1",
				"--port", "8123", "--parallel", "4", "--alias", "tiny", "--metrics"}, nil},
		{"ollama: serve, configured by its environment", Spec{Backend: "ollama", Model: "/m/tiny.gguf", MaxNumSeqs: 2},
			"/cache/ollama", []string{"/cache/ollama", "serve"},
			[]string{"HOME=/run/servers/t.ollama", "OLLAMA_HOST=127.0.0.1:8123", "OLLAMA_KEEP_ALIVE=-1", "OLLAMA_MODELS=/run/servers/t.ollama/models",
				"OLLAMA_NOPRUNE=1", "OLLAMA_NUM_PARALLEL=2"}},
	}
	for _, tt := range tests {
		spec := normalized(t, tt.spec)
		e := engines[spec.Backend].(ProcessEngine)
		cmd := e.Command(strings.Fields(tt.prefix), spec, "127.0.0.1", 8123, "/run/servers/t.ollama")
		if !reflect.DeepEqual(cmd.Argv, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, cmd.Argv, tt.want)
		}
		if !reflect.DeepEqual(cmd.Env, tt.env) {
			t.Errorf("%s: env\n got %q\nwant %q", tt.name, cmd.Env, tt.env)
		}
	}
	mod := VLLMCommand("python -m vllm.entrypoints.openai.api_server", Spec{Model: "m", GPUs: 1, TensorParallel: 1, DataParallel: 1}, "h", 1)
	if want := []string{"python", "-m", "vllm.entrypoints.openai.api_server", "--model", "m", "--host", "h", "--port", "1"}; !reflect.DeepEqual(mod, want) {
		t.Fatalf("vLLM's module entry point: got %q", mod)
	}
}

func TestOllamaModelfile(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Model: "/m/tiny.gguf", MaxModelLen: 4096}, "FROM /m/tiny.gguf\nTEMPLATE {{ .Prompt }}\nPARAMETER num_ctx 4096\n"},
		{Spec{Model: "/m/tiny.gguf"}, "FROM /m/tiny.gguf\nTEMPLATE {{ .Prompt }}\nPARAMETER num_ctx 2048\n"},
		{Spec{Model: "/m/tiny.gguf", Env: map[string]string{"OLLAMA_CONTEXT_LENGTH": "8192"}}, "FROM /m/tiny.gguf\nTEMPLATE {{ .Prompt }}\n"},
	}
	for _, tt := range tests {
		if got := Modelfile(tt.spec); got != tt.want {
			t.Errorf("%+v:\n got %q\nwant %q", tt.spec, got, tt.want)
		}
	}
	for in, want := range map[string]string{"/m/tiny.gguf": "tiny", "/m/Llama 3.2 (1B).GGUF": "llama-3.2--1b-", "/m/_x.gguf": "x", "/m/.gguf": "model"} {
		if got := ollamaName(in); got != want {
			t.Errorf("ollamaName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Capacity lines as engines.md quotes them from each engine's source and logs.
func TestEngineCapacity(t *testing.T) {
	tests := []struct {
		name   string
		engine string
		log    string
		want   *KVCache
	}{
		{"vLLM 0.11 merged line", "vllm", `
(EngineCore_DP0 pid=77) INFO 01-15 10:00:00 [gpu_worker.py:298] Available KV cache memory: 10.28 GiB
(EngineCore_DP0 pid=77) INFO 01-15 10:00:00 [kv_cache_utils.py:1234] GPU KV cache size: 34,952 tokens, Maximum concurrency for 8,192 tokens per request: 4.27x
`, &KVCache{MemoryGiB: 10.28, Tokens: 34952, MaxConcurrency: 4.27, TokensPerRequest: 8192}},
		{"vLLM V0 blocks and a raw int", "vllm", `
INFO 03-01 12:00:00 executor_base.py:111] # cuda blocks: 1754, # CPU blocks: 2048
INFO 03-01 12:00:00 executor_base.py:116] Maximum concurrency for 4096 tokens per request: 6.85x
`, &KVCache{MaxConcurrency: 6.85, TokensPerRequest: 4096}},
		{"SGLang, TP 2: a pool line per rank, the scheduler's on rank 0", "sglang", `
[2025-03-08 12:29:21 TP0] KV Cache is allocated. #tokens: 46611, K size: 1.42 GB, V size: 1.42 GB
[2025-03-08 12:29:21 TP1] KV Cache is allocated. #tokens: 46611, K size: 1.42 GB, V size: 1.42 GB
[2025-03-08 12:29:21 TP0] Memory pool end. avail mem=2.09 GB
[2025-03-08 12:29:22 TP0] max_total_num_tokens=46611, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=2048, context_len=131072
[2025-07-18 15:32:54 TP0] Decode batch. #running-req: 1, #token: 2266, token usage: 0.00, cuda graph: True, gen throughput (token/s): 75.25, #queue-req: 0, timestamp: 2025-07-18T15:32:54.159394
`, &KVCache{MemoryGiB: 2.84, Tokens: 46611, MaxConcurrency: 0.36, TokensPerRequest: 131072, Slots: 2048, SlotContext: 131072}},
		{"SGLang, newer scheduler line with available_gpu_mem", "sglang", `
[2026-09-09 11:57:27] max_total_num_tokens=2618868, chunked_prefill_size=-1, max_prefill_tokens=16384, max_running_requests=48, context_len=16384, available_gpu_mem=13.38 GB
`, &KVCache{Tokens: 2618868, MaxConcurrency: 159.84, TokensPerRequest: 16384, Slots: 48, SlotContext: 16384}},
		{"SGLang MLA pool", "sglang", `[2025-03-08 12:29:21 TP0] KV Cache is allocated. #tokens: 100000, KV size: 3.50 GB`,
			&KVCache{MemoryGiB: 3.5, Tokens: 100000}},
		{"llama-server 2024: n_ctx, slots, KV self size", "llama.cpp", `
build: 4524 (6171c9d2) with cc (Debian 12.2.0-14) 12.2.0 for x86_64-linux-gnu
llama_new_context_with_model: n_ctx      = 2048
llama_kv_cache_init:        CPU KV buffer size =     9.00 MiB
llama_new_context_with_model: KV self size  =    9.00 MiB, K (f16):    4.50 MiB, V (f16):    4.50 MiB
srv          init: initializing slots, n_slots = 1
slot         init: id  0 | task -1 | new slot n_ctx_slot = 2048
main: server is listening on http://127.0.0.1:8080 - starting the main loop
`, &KVCache{MemoryGiB: 9.0 / 1024, Tokens: 2048, MaxConcurrency: 1, TokensPerRequest: 2048, Slots: 1, SlotContext: 2048}},
		{"llama-server mid 2025: llama_context, unified KV size line", "llama.cpp", `
llama_context: n_ctx         = 4096
llama_context: n_ctx_per_seq = 1024
llama_kv_cache_unified:        CPU KV buffer size =  1536.00 MiB
llama_kv_cache_unified: size = 1536.00 MiB (  4096 cells,  32 layers,  4/4 seqs), K (f16):  768.00 MiB, V (f16):  768.00 MiB
srv    load_model: initializing slots, n_slots = 4
slot   load_model: id  0 | task -1 | new slot, n_ctx = 1024
`, &KVCache{MemoryGiB: 1.5, Tokens: 4096, MaxConcurrency: 4, TokensPerRequest: 1024, Slots: 4, SlotContext: 1024}},
		{"llama-server now: -np auto, a unified KV cache every slot sees whole", "llama.cpp", `
0.00.023.352 I srv  llama_server: n_parallel is set to auto, using n_parallel = 4 and kv_unified = true
0.09.633.800 I llama_context: n_ctx_seq     = 262144
0.09.633.874 W llama_context: n_ctx_seq (262144) < n_ctx_train (1048576) -- the full capacity of the model will not be utilized
llama_kv_cache: size = 4352.00 MiB (262144 cells, 8 layers, 1/1 seqs), K (q8_0): 2176.00 MiB, V (q8_0): 2176.00 MiB
`, &KVCache{MemoryGiB: 4.25, Tokens: 262144, MaxConcurrency: 1, TokensPerRequest: 262144, Slots: 4, SlotContext: 262144}},
		{"ollama 0.6.5: its runner's llama.cpp lines among its own", "ollama", `
time=2025-04-10T12:00:00.000Z level=INFO source=server.go:138 msg=offload library=cpu layers.requested=-1 layers.model=3 layers.offload=0 layers.split="" memory.available="[7.2 GiB]" memory.gpu_overhead="0 B" memory.required.full="45.6 MiB" memory.required.partial="0 B" memory.required.kv="2.0 MiB" memory.required.allocations="[45.6 MiB]" memory.weights.total="33.4 MiB" memory.weights.repeating="0.3 MiB" memory.weights.nonrepeating="33.1 MiB" memory.graph.full="16.0 MiB" memory.graph.partial="16.3 MiB"
time=2025-04-10T12:00:00.001Z level=INFO source=server.go:405 msg="starting llama server" cmd="/root/go/bin/ollama runner --model /tmp/om/models/blobs/sha256-0123abcd --ctx-size 8192 --batch-size 512 --threads 2 --no-mmap --parallel 4 --port 41235"
time=2025-04-10T12:00:01.500Z level=INFO source=server.go:619 msg="llama runner started in 1.50 seconds"
llama_init_from_model: n_seq_max     = 4
llama_init_from_model: n_ctx         = 8192
llama_init_from_model: n_ctx_per_seq = 2048
llama_kv_cache_init: kv_size = 8192, offload = 1, type_k = 'f16', type_v = 'f16', n_layer = 2, can_shift = 1
llama_kv_cache_init:        CPU KV buffer size =     2.00 MiB
llama_init_from_model: KV self size  =    2.00 MiB, K (f16):    1.00 MiB, V (f16):    1.00 MiB
`, &KVCache{MemoryGiB: 2.0 / 1024, Tokens: 8192, MaxConcurrency: 4, TokensPerRequest: 2048, Slots: 4, SlotContext: 2048}},
		{"ollama, only its own command line", "ollama", `time=2025-04-10T12:00:00.001Z level=INFO source=server.go:405 msg="starting llama server" cmd="/root/go/bin/ollama runner --model /b --ctx-size 8192 --batch-size 512 --threads 2 --no-mmap --parallel 4 --port 41235"`,
			&KVCache{Tokens: 8192, MaxConcurrency: 4, TokensPerRequest: 2048, Slots: 4, SlotContext: 2048}},
		{"nothing said", "llama.cpp", "main: server is listening on http://127.0.0.1:8080 - starting the main loop\n", nil},
		{"nothing said", "sglang", "The server is fired up and ready to roll!\n", nil},
	}
	for _, tt := range tests {
		if got := engines[tt.engine].Capacity(tt.log); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s (%s):\n got %+v\nwant %+v", tt.name, tt.engine, got, tt.want)
		}
	}
}

func TestVersionFromLog(t *testing.T) {
	none := httptest.NewServer(http.NotFoundHandler())
	defer none.Close()
	tests := []struct {
		engine, log, want string
	}{
		{"vllm", "INFO 11-22 16:59:01 [api_server.py:1839] vLLM API server version 0.11.0\n", "0.11.0"},
		{"llama.cpp", "build: 4524 (6171c9d2) with cc (Debian 12.2.0-14) 12.2.0 for x86_64-linux-gnu\n", "b4524-6171c9d2"},
		{"llama.cpp", "0.00.000.100 I build_info: b9026-a817a22bc\n", "b9026-a817a22bc"},
		{"sglang", "nothing\n", ""},
	}
	for _, tt := range tests {
		if got := engines[tt.engine].Version(context.Background(), http.DefaultClient, none.URL, tt.log); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.engine, got, tt.want)
		}
	}
}

func TestMatchModel(t *testing.T) {
	tests := []struct {
		served []string
		want   string
		got    string
		ok     bool
	}{
		{[]string{"tiny:latest"}, "tiny", "tiny:latest", true},
		{[]string{"tiny"}, "tiny:latest", "tiny", true},
		{[]string{"tiny:latest", "tiny"}, "tiny", "tiny", true},
		{[]string{"tiny:q8"}, "tiny", "", false},
		{[]string{"meta-llama/Llama-3.1-8B"}, "meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B", true},
	}
	for _, tt := range tests {
		if got, ok := matchModel(tt.served, tt.want); got != tt.got || ok != tt.ok {
			t.Errorf("matchModel(%q, %q) = %q, %v", tt.served, tt.want, got, ok)
		}
	}
}

func TestEngineSpecErrors(t *testing.T) {
	tests := []struct {
		spec  Spec
		param string
	}{
		{Spec{Backend: "llama.cpp", Model: "/m/t.gguf", TensorParallel: 2}, "tensor_parallel"},
		{Spec{Backend: "llama.cpp", Model: "/m/t.gguf", DataParallel: 2}, "data_parallel"},
		{Spec{Backend: "llama.cpp", Model: "/m/t.gguf", GPUMemoryUtilization: 0.9}, "gpu_memory_utilization"},
		{Spec{Backend: "ollama", Model: "/m/t.gguf", Quantization: "q4_K_M"}, "quantization"},
		{Spec{Backend: "ollama", Model: "/m/t.gguf", ExtraArgs: []string{"--verbose"}}, "extra_args"},
		{Spec{Backend: "ollama", Model: "/m/t.gguf", GPUs: -1}, "gpus"},
		{Spec{Backend: "llama.cpp", Model: "meta-llama/Llama-3.1-8B"}, "model"},
		{Spec{Backend: "sglang", Model: "m", GPUs: 0}, "gpus"},
		{Spec{Backend: "sglang", Model: "m", GPUs: 4, DataParallel: 3}, "data_parallel"},
		{Spec{Backend: "tgi", Model: "m", GPUs: 1}, "backend"},
	}
	for _, tt := range tests {
		err := tt.spec.Normalize()
		var pe *paramerr.Error
		if !errors.As(err, &pe) || pe.Param != tt.param {
			t.Errorf("%+v: got %v, want an error for parameter %s", tt.spec, err, tt.param)
		}
	}
	s := normalized(t, Spec{Backend: "ollama", Model: "/m/tiny.gguf"})
	if s.MaxNumSeqs != DefaultSlots || s.GPUs != 0 || s.TensorParallel != 1 || s.DataParallel != 1 || s.DefaultName() != "tiny-ollama-cpu" {
		t.Errorf("ollama defaults: %+v %s", s, s.DefaultName())
	}
	if n := normalized(t, Spec{Backend: "sglang", Model: "org/M-7B", GPUs: 2, DataParallel: 2}).DefaultName(); n != "M-7B-sglang-2gpu-dp2" {
		t.Errorf("sglang name %q", n)
	}
	if n := normalized(t, Spec{Backend: "llama.cpp", Model: "/m/tiny.gguf", GPUs: 1}).DefaultName(); n != "tiny-llamacpp-1gpu" {
		t.Errorf("llama.cpp name %q", n)
	}
}

func TestResolveCommand(t *testing.T) {
	e := engines[EngineOllama].(ProcessEngine)
	t.Setenv("STARLAB_OLLAMA", "")
	if got := resolveCommand(e, nil); !reflect.DeepEqual(got, []string{"ollama"}) {
		t.Errorf("default: %q", got)
	}
	t.Setenv("STARLAB_OLLAMA", "/cache/ollama")
	if got := resolveCommand(e, nil); !reflect.DeepEqual(got, []string{"/cache/ollama"}) {
		t.Errorf("environment: %q", got)
	}
	if got := resolveCommand(e, map[string]string{"ollama": "/opt/ollama --x"}); !reflect.DeepEqual(got, []string{"/opt/ollama", "--x"}) {
		t.Errorf("--engine-cmd: %q", got)
	}
	t.Setenv("STARLAB_SGLANG", "")
	if got := resolveCommand(engines[EngineSGLang].(ProcessEngine), nil); strings.Join(got, " ") != "python3 -m sglang.launch_server" {
		t.Errorf("sglang default: %q", got)
	}
	envs := ExecutableEnvs()
	want := map[string]string{"vllm": "STARLAB_VLLM", "sglang": "STARLAB_SGLANG", "llama.cpp": "STARLAB_LLAMA_CPP", "ollama": "STARLAB_OLLAMA"}
	if !reflect.DeepEqual(envs, want) {
		t.Errorf("ExecutableEnvs: %v", envs)
	}
}

// Readiness as each engine signals it, against servers that answer the engine's way.
func TestEngineReadiness(t *testing.T) {
	var loaded atomic.Bool
	llama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/models": // answers while loading: no signal
			writeJSONReply(w, 200, map[string]any{"data": []map[string]string{{"id": "tiny"}}})
		case r.URL.Path == "/health" && !loaded.Load():
			writeJSONReply(w, 503, map[string]any{"error": map[string]any{"code": 503, "message": "Loading model", "type": "unavailable_error"}})
		case r.URL.Path == "/health":
			writeJSONReply(w, 200, map[string]string{"status": "ok"})
		default:
			http.NotFound(w, r)
		}
	}))
	defer llama.Close()
	ctx, hc := context.Background(), &http.Client{Timeout: time.Second}
	if err := (llamaCppEngine{}).Ready(ctx, hc, llama.URL); err == nil {
		t.Error("llama.cpp is ready while /health says Loading model")
	}
	loaded.Store(true)
	if err := (llamaCppEngine{}).Ready(ctx, hc, llama.URL); err != nil {
		t.Errorf("llama.cpp after loading: %v", err)
	}

	ollama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Write([]byte("Ollama is running"))
		case "/api/version":
			writeJSONReply(w, 200, map[string]string{"version": "0.6.5"})
		case "/v1/models":
			writeJSONReply(w, 200, map[string]any{"object": "list", "data": []map[string]string{{"id": "tiny:latest"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer ollama.Close()
	if err := (ollamaEngine{}).Ready(ctx, hc, ollama.URL); err != nil {
		t.Errorf("ollama: %v", err)
	}
	if err := (ollamaEngine{}).Ready(ctx, hc, llama.URL); err == nil {
		t.Error("ollama's readiness passed on a server that is not ollama")
	}
	if err := (vllmEngine{}).Ready(ctx, hc, ollama.URL); err == nil {
		t.Error("vLLM's readiness passed without /health")
	}

	// Attaching: ollama lists tiny:latest and accepts tiny; the served name is recorded, and the
	// engine behind the URL is found by its own version endpoint.
	m := newTestManager(t)
	h, err := m.Start(ctx, Spec{Backend: BackendExternal, URL: ollama.URL, Model: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	if info := h.Info(); info.Model != "tiny:latest" || info.EngineVersion != "ollama 0.6.5" {
		t.Errorf("attached: model %q, version %q", info.Model, info.EngineVersion)
	}
	_, err = m.Start(ctx, Spec{Backend: BackendExternal, URL: ollama.URL, Model: "llama3"})
	var pe *paramerr.Error
	if !errors.As(err, &pe) || pe.Param != "model" || !strings.Contains(err.Error(), `serves tiny:latest, not "llama3"`) {
		t.Errorf("a model the server lacks: %v", err)
	}
	ext, err := m.Start(ctx, Spec{Backend: BackendExternal, URL: llama.URL})
	if err != nil || ext.Info().Model != "tiny" || ext.Info().EngineVersion != "" {
		t.Errorf("attached without a model: %+v %v", ext.Info(), err)
	}
}

// Without a calibration the simulator has no step time for a CPU engine (see
// TestVirtualSlotEngineNeedsCalibration for the twin it runs with one).
func TestVirtualRunsRefuseGGUFModels(t *testing.T) {
	m := newTestManager(t)
	m.Virtual = true
	_, err := m.Start(context.Background(), Spec{Backend: EngineOllama, Model: "/m/tiny.gguf"})
	var pe *paramerr.Error
	if !errors.As(err, &pe) || pe.Param != "calibration" || !strings.Contains(err.Error(), "no step time for ollama: give calibration=") {
		t.Fatalf("got %v", err)
	}
}
