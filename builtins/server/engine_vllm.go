package server

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// vllmEngine is vLLM (`vllm serve`): flags from vllm/engine/arg_utils.py, readiness, /version and
// start-up lines from vllm/entrypoints/openai/api_server.py and vllm/v1/core/kv_cache_utils.py.
type vllmEngine struct{}

func (vllmEngine) Name() string { return EngineVLLM }

func (vllmEngine) Executable() Executable {
	return Executable{Default: "vllm", Env: "STARLAB_VLLM",
		Install: `install vLLM (pip install vllm), point --engine-cmd vllm=CMD (or --vllm-cmd, or STARLAB_VLLM) at it, or use backend="sim"`}
}

func (vllmEngine) Check(s *Spec) error { return checkGPUEngine(s) }

func (vllmEngine) Command(prefix []string, spec Spec, host string, port int, _ string) Command {
	return Command{Argv: VLLMCommand(strings.Join(prefix, " "), spec, host, port)}
}

// VLLMCommand builds the command line that starts vLLM for spec on host:port. prefix is the
// executable and its leading words (--engine-cmd vllm=CMD / STARLAB_VLLM, default "vllm"): the
// `vllm` CLI takes `serve MODEL`, while the module entry point
// (`python -m vllm.entrypoints.openai.api_server`) takes `--model MODEL`.
func VLLMCommand(prefix string, spec Spec, host string, port int) []string {
	argv := strings.Fields(prefix)
	if len(argv) == 0 {
		argv = []string{"vllm"}
	}
	if filepath.Base(argv[len(argv)-1]) == "vllm" {
		argv = append(argv, "serve", spec.Model)
	} else {
		argv = append(argv, "--model", spec.Model)
	}
	argv = append(argv, "--host", host, "--port", strconv.Itoa(port))
	if spec.TensorParallel > 1 {
		argv = append(argv, "--tensor-parallel-size", strconv.Itoa(spec.TensorParallel))
	}
	if spec.DataParallel > 1 {
		argv = append(argv, "--data-parallel-size", strconv.Itoa(spec.DataParallel))
	}
	if spec.MaxNumSeqs > 0 {
		argv = append(argv, "--max-num-seqs", strconv.Itoa(spec.MaxNumSeqs))
	}
	if spec.MaxModelLen > 0 {
		argv = append(argv, "--max-model-len", strconv.Itoa(spec.MaxModelLen))
	}
	if spec.GPUMemoryUtilization > 0 {
		argv = append(argv, "--gpu-memory-utilization", strconv.FormatFloat(spec.GPUMemoryUtilization, 'g', -1, 64))
	}
	if spec.Quantization != "" {
		argv = append(argv, "--quantization", spec.Quantization)
	}
	if p := spec.EnablePrefixCaching; p != nil {
		// vLLM's BooleanOptionalAction pair; without either, V1 caches.
		if *p {
			argv = append(argv, "--enable-prefix-caching")
		} else {
			argv = append(argv, "--no-enable-prefix-caching")
		}
	}
	return append(argv, spec.ExtraArgs...)
}

func (vllmEngine) ServedName(spec Spec) string { return spec.Model }

func (vllmEngine) PostStart(context.Context, *Started) error { return nil }

// Ready: uvicorn listens only after the engine has loaded the model, then /health answers 200.
func (vllmEngine) Ready(ctx context.Context, hc *http.Client, url string) error {
	return readyModels(ctx, hc, url)
}

var reVLLMVersion = regexp.MustCompile(`vLLM API server version\s+(\S+)`)

// Version: GET /version answers {"version": "0.11.0"}; the start-up line says it too.
func (vllmEngine) Version(ctx context.Context, hc *http.Client, url, log string) string {
	if v := versionField(ctx, hc, url+"/version", "version"); v != "" {
		return v
	}
	return lastMatch(reVLLMVersion, log)
}

func (vllmEngine) Capacity(log string) *KVCache { return ParseKVCache(log) }

func (vllmEngine) Metrics() MetricNames { return vllmMetrics }

// vllmMetrics are vLLM's series (vllm/v1/metrics/loggers.py); gpu_cache_usage_perc is the name
// kv_cache_usage_perc had before 0.9.
var vllmMetrics = MetricNames{Path: "/metrics", Running: "vllm:num_requests_running", Waiting: "vllm:num_requests_waiting",
	KVUsage: []string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}, Preemptions: "vllm:num_preemptions_total"}

// vLLM's log lines, matched anywhere in a line so prefixes such as "(EngineCore_DP0 pid=123)
// INFO 11-22 16:59:06 [gpu_worker.py:298]" do not matter.
var (
	reKVMemory      = regexp.MustCompile(`Available KV cache memory:\s*([0-9.]+)\s*GiB`)
	reKVTokens      = regexp.MustCompile(`GPU KV cache size:\s*([0-9,]+)\s*tokens`)
	reMaxConcurrent = regexp.MustCompile(`Maximum concurrency for\s*([0-9,]+)\s*tokens per request:\s*([0-9.]+)\s*x`)
)

// ParseKVCache reads vLLM's KV cache figures from a start-up log. It returns nil when the log has
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
			if v, ok := atoi(m[1]); ok {
				kv.Tokens, found = v, true
			}
		}
		if m := reMaxConcurrent.FindStringSubmatch(line); m != nil {
			n, ok := atoi(m[1])
			c, err := strconv.ParseFloat(m[2], 64)
			if ok && err == nil {
				kv.TokensPerRequest, kv.MaxConcurrency, found = n, c, true
			}
		}
	}
	if !found {
		return nil
	}
	return &kv
}
