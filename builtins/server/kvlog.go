package server

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// KVCache is what an engine reports about its KV cache and slots at start-up.
type KVCache struct {
	// MemoryGiB is the KV cache's memory: vLLM's "Available KV cache memory" per GPU (the last
	// rank's report), SGLang's K + V sizes, llama.cpp's KV buffer size.
	MemoryGiB float64 `json:"memory_gib"`
	// Tokens is how many tokens the cache holds (per engine; data-parallel engines each log their
	// own): vLLM's "GPU KV cache size", SGLang's max_total_num_tokens, llama.cpp's n_ctx (cells).
	Tokens int `json:"tokens"`
	// MaxConcurrency is how many requests of TokensPerRequest tokens fit at once.
	MaxConcurrency   float64 `json:"max_concurrency"`
	TokensPerRequest int     `json:"tokens_per_request"`
	// Slots is how many sequences the engine decodes together when it says so (llama.cpp's
	// n_seq_max / n_slots, SGLang's max_running_requests); 0 when it does not.
	Slots int `json:"slots,omitempty"`
	// SlotContext is the context one slot holds (llama.cpp's n_ctx_per_seq, SGLang's context_len).
	SlotContext int `json:"slot_context,omitempty"`
}

// atoi reads an integer that may carry thousands separators ("28,064").
func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	return n, err == nil
}

// lastMatch is the first group of re's last match in log ("" when none).
func lastMatch(re *regexp.Regexp, log string) string {
	all := re.FindAllStringSubmatch(log, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1][1]
}

// lastInt is lastMatch as an integer (0 when none).
func lastInt(re *regexp.Regexp, log string) int {
	n, _ := atoi(lastMatch(re, log))
	return n
}

// perRequest fills MaxConcurrency from Tokens and TokensPerRequest, as vLLM defines it.
func (kv *KVCache) perRequest() {
	if kv.Tokens > 0 && kv.TokensPerRequest > 0 && kv.MaxConcurrency == 0 {
		kv.MaxConcurrency = math.Round(float64(kv.Tokens)/float64(kv.TokensPerRequest)*100) / 100 // vLLM prints %.2f
	}
}
