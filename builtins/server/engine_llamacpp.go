package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// llamaCppEngine is llama.cpp's llama-server: flags from common/arg.cpp, readiness from the
// server's state middleware, start-up lines from src/llama-context.cpp, src/llama-kv-cache.cpp
// and tools/server (formerly examples/server).
type llamaCppEngine struct{}

func (llamaCppEngine) Name() string { return EngineLlamaCpp }

func (llamaCppEngine) Executable() Executable {
	return Executable{Default: "llama-server", Env: "STARLAB_LLAMA_CPP",
		Install: "build llama.cpp (cmake -B build && cmake --build build --target llama-server) and put build/bin/llama-server on PATH, or point --engine-cmd llama.cpp=PATH (or STARLAB_LLAMA_CPP) at it"}
}

func (llamaCppEngine) Check(s *Spec) error { return checkSlotEngine(s, EngineLlamaCpp) }

// Command maps max_num_seqs (parallel) to --parallel and max_model_len to --ctx-size
// max_model_len × parallel: llama-server splits n_ctx across its slots, so each slot holds
// max_model_len tokens. --alias names the model in /v1/models (by default it is the file path);
// --metrics turns on /metrics, which is off by default.
func (llamaCppEngine) Command(prefix []string, spec Spec, host string, port int, _ string) Command {
	argv := append(append([]string(nil), prefix...), "--model", spec.Model, "--host", host, "--port", strconv.Itoa(port),
		"--parallel", strconv.Itoa(spec.MaxNumSeqs))
	if spec.MaxModelLen > 0 {
		argv = append(argv, "--ctx-size", strconv.Itoa(spec.MaxModelLen*spec.MaxNumSeqs))
	}
	argv = append(argv, "--alias", ggufName(spec.Model), "--metrics")
	return Command{Argv: append(argv, spec.ExtraArgs...)}
}

// ggufName is a model file's name without directory and extension: "tiny" for /x/tiny.gguf.
func ggufName(path string) string {
	base := filepath.Base(path)
	if ext := filepath.Ext(base); strings.EqualFold(ext, ".gguf") {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

func (llamaCppEngine) ServedName(spec Spec) string { return ggufName(spec.Model) }

func (llamaCppEngine) PostStart(context.Context, *Started) error { return nil }

// Ready: GET /health answers 503 {"error":{"message":"Loading model",...}} while the model loads
// and 200 {"status":"ok"} after. /v1/models is no signal: newer builds answer it while loading.
func (llamaCppEngine) Ready(ctx context.Context, hc *http.Client, url string) error {
	return get(ctx, hc, url+"/health")
}

var (
	reLlamaBuild     = regexp.MustCompile(`(?m)^(?:.*\s)?build: (\d+) \(([0-9a-f]+)\)`)
	reLlamaBuildInfo = regexp.MustCompile(`build_info: (\S+)`)
)

// Version: /props carries "build_info" ("b4524-6171c9d2"); older builds only print
// "build: 4524 (6171c9d2) with cc ... for x86_64-linux-gnu", newer ones "build_info: b9026-a817a22bc".
func (llamaCppEngine) Version(ctx context.Context, hc *http.Client, url, log string) string {
	if v := versionField(ctx, hc, url+"/props", "build_info"); v != "" {
		return v
	}
	return llamaBuildFromLog(log)
}

func llamaBuildFromLog(log string) string {
	if v := lastMatch(reLlamaBuildInfo, log); v != "" {
		return v
	}
	if all := reLlamaBuild.FindAllStringSubmatch(log, -1); len(all) > 0 {
		m := all[len(all)-1]
		return fmt.Sprintf("b%s-%s", m[1], m[2])
	}
	return ""
}

func (llamaCppEngine) Capacity(log string) *KVCache { return parseLlamaCpp(log) }

func (llamaCppEngine) Metrics() MetricNames { return llamaCppMetrics }

// llamaCppMetrics are the server's llamacpp:* series (with --metrics). kv_cache_usage_ratio was
// dropped in May 2025 (PR #13660): only older builds report KV usage. There are no preemptions.
var llamaCppMetrics = MetricNames{Path: "/metrics", Running: "llamacpp:requests_processing", Waiting: "llamacpp:requests_deferred",
	KVUsage: []string{"llamacpp:kv_cache_usage_ratio"}}

// llama.cpp's start-up lines, across the generations of its context code
// (llama_new_context_with_model in 2024, llama_init_from_model in early 2025 — what ollama 0.6.5
// vendors —, llama_context since) and of its server's slot lines.
var (
	reLlamaNCtx    = regexp.MustCompile(`(?:llama_new_context_with_model|llama_init_from_model|llama_context):\s+n_ctx\s*=\s*(\d+)`)
	reLlamaSeqCtx  = regexp.MustCompile(`(?:llama_init_from_model|llama_context):\s+n_ctx_(?:per_)?seq\s*=\s*(\d+)`)
	reLlamaSeqMax  = regexp.MustCompile(`(?:llama_init_from_model|llama_context):\s+n_seq_max\s*=\s*(\d+)`)
	reLlamaSlots   = regexp.MustCompile(`initializing slots, n_slots = (\d+)`)
	reLlamaAuto    = regexp.MustCompile(`using n_parallel = (\d+) and kv_unified = (true|false)`)
	reLlamaSlotCtx = regexp.MustCompile(`new slot,? n_ctx(?:_slot)?\s*=\s*(\d+)`)
	reLlamaKVSize  = regexp.MustCompile(`llama_kv_cache\w*: size =\s*([0-9.]+) MiB \(\s*(\d+) cells,\s*\d+ layers,\s*(\d+)(?:/\d+)? seqs\)`)
	reLlamaKVSelf  = regexp.MustCompile(`KV self size\s*=\s*([0-9.]+) MiB`)
	reLlamaKVInit  = regexp.MustCompile(`llama_kv_cache_init: kv_size = (\d+)`)
	// ollama logs the runner's command line: --ctx-size is num_ctx × parallel.
	reOllamaRunner = regexp.MustCompile(`msg="starting llama server".*?--ctx-size (\d+).*?--parallel (\d+)`)
)

// parseLlamaCpp reads llama.cpp's context, slot and KV lines (llama-server's, or ollama's runner's,
// which ollama prints among its own). Later lines win: ollama may load the model more than once.
func parseLlamaCpp(log string) *KVCache {
	var kv KVCache
	kv.Tokens = lastInt(reLlamaNCtx, log)
	if n := lastInt(reLlamaKVInit, log); n > 0 {
		kv.Tokens = n
	}
	if v := lastMatch(reLlamaKVSelf, log); v != "" {
		mib, _ := strconv.ParseFloat(v, 64)
		kv.MemoryGiB = mib / 1024
	}
	if all := reLlamaKVSize.FindAllStringSubmatch(log, -1); len(all) > 0 {
		m := all[len(all)-1]
		mib, _ := strconv.ParseFloat(m[1], 64)
		kv.MemoryGiB = mib / 1024
		kv.Tokens, _ = atoi(m[2])
	}
	kv.Slots = lastInt(reLlamaSeqMax, log)
	if n := lastInt(reLlamaAuto, log); n > 0 {
		kv.Slots = n
	}
	if n := lastInt(reLlamaSlots, log); n > 0 {
		kv.Slots = n
	}
	kv.SlotContext = lastInt(reLlamaSlotCtx, log)
	if n := lastInt(reLlamaSeqCtx, log); n > 0 {
		kv.SlotContext = n
	}
	if all := reOllamaRunner.FindAllStringSubmatch(log, -1); len(all) > 0 && kv.Tokens == 0 {
		// Only ollama's own line: the runner's context is split evenly across its slots.
		m := all[len(all)-1]
		kv.Tokens, _ = atoi(m[1])
		kv.Slots, _ = atoi(m[2])
		if kv.Slots > 0 && kv.SlotContext == 0 {
			kv.SlotContext = kv.Tokens / kv.Slots
		}
	}
	if kv == (KVCache{}) {
		return nil
	}
	kv.TokensPerRequest = kv.SlotContext
	kv.perRequest()
	return &kv
}
