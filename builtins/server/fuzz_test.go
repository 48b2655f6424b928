package server

// FuzzEngineLog: what every engine reads from a server's start-up output (KV cache, slots,
// version), on any text. scripts/fuzz.sh runs it.

import (
	"math"
	"strings"
	"testing"
)

// engineLogSeeds are start-up lines as each engine prints them (see TestEngineCapacity).
var engineLogSeeds = []string{
	"(EngineCore_DP0 pid=4242) INFO 11-22 16:59:30 [gpu_worker.py:298] Available KV cache memory: 10.28 GiB\n" +
		"(EngineCore_DP0 pid=4242) INFO 11-22 16:59:30 [kv_cache_utils.py:1087] GPU KV cache size: 28,064 tokens\n" +
		"(EngineCore_DP0 pid=4242) INFO 11-22 16:59:30 [kv_cache_utils.py:1091] Maximum concurrency for 4,096 tokens per request: 8.62x\n",
	"INFO [kv_cache_utils.py:1234] GPU KV cache size: 34,952 tokens, Maximum concurrency for 8,192 tokens per request: 4.27x\n",
	"INFO 11-22 16:59:01 [api_server.py:1839] vLLM API server version 0.11.0\n",
	"[2025-03-08 12:29:21 TP0] KV Cache is allocated. #tokens: 46611, K size: 1.42 GB, V size: 1.42 GB\n" +
		"[2025-03-08 12:29:22 TP0] max_total_num_tokens=46611, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=2048, context_len=131072\n",
	"[2025-03-08 12:29:21 TP0] KV Cache is allocated. #tokens: 100000, KV size: 3.50 GB",
	"build: 4524 (6171c9d2) with cc (Debian 12.2.0-14) 12.2.0 for x86_64-linux-gnu\n" +
		"llama_new_context_with_model: n_ctx      = 2048\n" +
		"llama_new_context_with_model: KV self size  =    9.00 MiB, K (f16):    4.50 MiB, V (f16):    4.50 MiB\n" +
		"srv          init: initializing slots, n_slots = 1\nslot         init: id  0 | task -1 | new slot n_ctx_slot = 2048\n",
	"llama_context: n_ctx         = 4096\r\nllama_context: n_ctx_per_seq = 1024\r\n" +
		"llama_kv_cache_unified: size = 1536.00 MiB (  4096 cells,  32 layers,  4/4 seqs), K (f16):  768.00 MiB, V (f16):  768.00 MiB\r\n",
	"0.00.023.352 I srv  llama_server: n_parallel is set to auto, using n_parallel = 4 and kv_unified = true\n" +
		"0.00.000.100 I build_info: b9026-a817a22bc\n",
	`time=2025-04-10T12:00:00.001Z level=INFO source=server.go:405 msg="starting llama server" cmd="/root/go/bin/ollama runner --model /b --ctx-size 8192 --batch-size 512 --threads 2 --no-mmap --parallel 4 --port 41235"` + "\n" +
		"llama_init_from_model: n_seq_max     = 4\nllama_kv_cache_init: kv_size = 8192, offload = 1, type_k = 'f16'\n",
	"llama_kv_cache_init:        CPU KV buffer size =     9.00 MiB\nKV self size  = 99999999999999999999.5 MiB\n",
}

// FuzzEngineLog: every engine's Capacity reads any log without panicking, and what it reports is
// finite and not negative (it goes into the journal as JSON, which has no Inf or NaN); the
// version read from the log is a plain token; the tail keeps the lines as they were printed,
// however the output was cut into writes.
func FuzzEngineLog(f *testing.F) {
	for i, s := range engineLogSeeds {
		f.Add(s, []byte{byte(i + 1), 3, 200})
	}
	f.Fuzz(func(t *testing.T, log string, cuts []byte) {
		for _, name := range EngineNames() {
			kv := engines[name].Capacity(log)
			if kv == nil {
				continue
			}
			for _, v := range []float64{kv.MemoryGiB, kv.MaxConcurrency, float64(kv.Tokens), float64(kv.TokensPerRequest),
				float64(kv.Slots), float64(kv.SlotContext)} {
				if math.IsInf(v, 0) || math.IsNaN(v) || v < 0 {
					t.Fatalf("%s: %+v", name, *kv)
				}
			}
		}
		for _, v := range []string{llamaBuildFromLog(log), lastMatch(reVLLMVersion, log)} {
			if strings.ContainsAny(v, " \t\r\n") {
				t.Fatalf("version %q", v)
			}
		}

		// The tail: the log written in pieces whose sizes cycle through cuts.
		tb := newTailBuffer(5)
		rest := log
		for i := 0; rest != ""; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, int(cuts[i%len(cuts)])+1)
			}
			tb.Write([]byte(rest[:n]))
			rest = rest[n:]
		}
		lines := strings.Split(log, "\n")
		for i := range lines[:len(lines)-1] {
			lines[i] = strings.TrimRight(lines[i], "\r")
		}
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		if got, want := tb.Tail(5), strings.Join(lines, "\n"); got != want {
			t.Fatalf("tail %q, want %q", got, want)
		}
		if got := tb.Startup(); got != log {
			t.Fatalf("start-up output %q, want %q", got, log)
		}
	})
}
