package server

import (
	"context"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// sglangEngine is SGLang (`python3 -m sglang.launch_server`): flags from
// docs/advanced_features/server_arguments.md, start-up lines from srt/mem_cache/memory_pool.py and
// srt/managers/scheduler.py, the version from /get_server_info (srt/entrypoints/http_server.py).
type sglangEngine struct{}

func (sglangEngine) Name() string { return EngineSGLang }

func (sglangEngine) Executable() Executable {
	return Executable{Default: "python3 -m sglang.launch_server", Env: "STARLAB_SGLANG",
		Install: `install SGLang (pip install "sglang[all]") for python3, or point --engine-cmd sglang=CMD (or STARLAB_SGLANG) at a launcher such as "/venv/bin/python -m sglang.launch_server"`}
}

func (sglangEngine) Check(s *Spec) error { return checkGPUEngine(s) }

// Command maps max_num_seqs to --max-running-requests, max_model_len to --context-length,
// gpu_memory_utilization to --mem-fraction-static and enable_prefix_caching=False to
// --disable-radix-cache (the radix cache is on by default); --enable-metrics always, so sweeps
// can read sglang:* series.
func (sglangEngine) Command(prefix []string, spec Spec, host string, port int, _ string) Command {
	argv := append(append([]string(nil), prefix...), "--model-path", spec.Model, "--host", host, "--port", strconv.Itoa(port))
	if spec.TensorParallel > 1 {
		argv = append(argv, "--tensor-parallel-size", strconv.Itoa(spec.TensorParallel))
	}
	if spec.DataParallel > 1 {
		argv = append(argv, "--data-parallel-size", strconv.Itoa(spec.DataParallel))
	}
	if spec.MaxNumSeqs > 0 {
		argv = append(argv, "--max-running-requests", strconv.Itoa(spec.MaxNumSeqs))
	}
	if spec.MaxModelLen > 0 {
		argv = append(argv, "--context-length", strconv.Itoa(spec.MaxModelLen))
	}
	if spec.GPUMemoryUtilization > 0 {
		argv = append(argv, "--mem-fraction-static", strconv.FormatFloat(spec.GPUMemoryUtilization, 'g', -1, 64))
	}
	if spec.Quantization != "" {
		argv = append(argv, "--quantization", spec.Quantization)
	}
	if p := spec.EnablePrefixCaching; p != nil && !*p {
		argv = append(argv, "--disable-radix-cache")
	}
	argv = append(argv, "--enable-metrics")
	return Command{Argv: append(argv, spec.ExtraArgs...)}
}

func (sglangEngine) ServedName(spec Spec) string { return spec.Model }

func (sglangEngine) PostStart(context.Context, *Started) error { return nil }

// Ready: /health answers 200 once the server is up, and /v1/models lists the model.
func (sglangEngine) Ready(ctx context.Context, hc *http.Client, url string) error {
	return readyModels(ctx, hc, url)
}

// Version: /get_server_info carries "version" (newer releases call it /server_info and keep the
// old path as an alias).
func (sglangEngine) Version(ctx context.Context, hc *http.Client, url, _ string) string {
	for _, p := range []string{"/get_server_info", "/server_info"} {
		if v := versionField(ctx, hc, url+p, "version"); v != "" {
			return v
		}
	}
	return ""
}

func (sglangEngine) Metrics() MetricNames { return sglangMetrics }

// sglangMetrics are srt/metrics/collector.py's gauges; SGLang counts no preemptions there.
var sglangMetrics = MetricNames{Path: "/metrics", Running: "sglang:num_running_reqs", Waiting: "sglang:num_queue_reqs",
	KVUsage: []string{"sglang:token_usage"}}

// SGLang's start-up lines. The pool line is printed once per tensor-parallel rank, the scheduler
// line by rank 0 only; MLA models print "KV size" instead of "K size ..., V size".
var (
	reSGLangPool  = regexp.MustCompile(`KV Cache is allocated\. #tokens: (\d+), (?:K size: ([0-9.]+) GB, V size: ([0-9.]+) GB|KV size: ([0-9.]+) GB)`)
	reSGLangSched = regexp.MustCompile(`max_total_num_tokens=(\d+),.*max_running_requests=(\d+), context_len=(\d+)`)
)

// Capacity: tokens from "KV Cache is allocated. #tokens: N" (its sizes are GiB: SGLang's GB is
// 1024**3), refined by the scheduler's max_total_num_tokens, max_running_requests and context_len.
func (sglangEngine) Capacity(log string) *KVCache {
	return parseSGLang(log)
}

func parseSGLang(log string) *KVCache {
	var kv KVCache
	found := false
	for _, line := range strings.Split(log, "\n") {
		if m := reSGLangPool.FindStringSubmatch(line); m != nil {
			kv.Tokens, _ = atoi(m[1])
			k, _ := strconv.ParseFloat(m[2], 64)
			v, _ := strconv.ParseFloat(m[3], 64)
			kvs, _ := strconv.ParseFloat(m[4], 64)
			kv.MemoryGiB, found = math.Round((k+v+kvs)*100)/100, true
		}
		if m := reSGLangSched.FindStringSubmatch(line); m != nil {
			kv.Tokens, _ = atoi(m[1])
			kv.Slots, _ = atoi(m[2])
			kv.SlotContext, _ = atoi(m[3])
			kv.TokensPerRequest, found = kv.SlotContext, true
		}
	}
	if !found {
		return nil
	}
	kv.perRequest()
	return &kv
}
