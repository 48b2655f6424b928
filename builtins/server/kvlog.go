package server

import (
	"regexp"
	"strconv"
	"strings"
)

// KVCache is what vLLM reports about its KV cache at start-up.
type KVCache struct {
	// MemoryGiB is "Available KV cache memory" per GPU (the last rank's report).
	MemoryGiB float64 `json:"memory_gib"`
	// Tokens is "GPU KV cache size" (per engine; data-parallel engines each log their own).
	Tokens int `json:"tokens"`
	// MaxConcurrency is "Maximum concurrency for TokensPerRequest tokens per request".
	MaxConcurrency   float64 `json:"max_concurrency"`
	TokensPerRequest int     `json:"tokens_per_request"`
}

// vLLM's log lines, matched anywhere in a line so prefixes such as "(EngineCore_DP0 pid=123)
// INFO 11-22 16:59:06 [gpu_worker.py:298]" do not matter.
var (
	reKVMemory      = regexp.MustCompile(`Available KV cache memory:\s*([0-9.]+)\s*GiB`)
	reKVTokens      = regexp.MustCompile(`GPU KV cache size:\s*([0-9,]+)\s*tokens`)
	reMaxConcurrent = regexp.MustCompile(`Maximum concurrency for\s*([0-9,]+)\s*tokens per request:\s*([0-9.]+)\s*x`)
)

// ParseKVCache reads the KV cache figures from a start-up log. It returns nil when the log has
// none of them (an external server, or a vLLM that logs differently).
func ParseKVCache(log string) *KVCache {
	var kv KVCache
	found := false
	for _, line := range strings.Split(log, "\n") {
		if m := reKVMemory.FindStringSubmatch(line); m != nil {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil {
				kv.MemoryGiB, found = v, true
			}
		}
		if m := reKVTokens.FindStringSubmatch(line); m != nil {
			if v, err := strconv.Atoi(strings.ReplaceAll(m[1], ",", "")); err == nil {
				kv.Tokens, found = v, true
			}
		}
		if m := reMaxConcurrent.FindStringSubmatch(line); m != nil {
			n, err1 := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
			c, err2 := strconv.ParseFloat(m[2], 64)
			if err1 == nil && err2 == nil {
				kv.TokensPerRequest, kv.MaxConcurrency, found = n, c, true
			}
		}
	}
	if !found {
		return nil
	}
	return &kv
}
