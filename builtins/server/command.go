package server

import (
	"path/filepath"
	"strconv"
	"strings"
)

// VLLMCommand builds the command line that starts vLLM for spec on host:port. prefix is the
// executable and its leading words (--vllm-cmd / STARLAB_VLLM, default "vllm"): the `vllm` CLI
// takes `serve MODEL`, while the module entry point (`python -m vllm.entrypoints.openai.api_server`)
// takes `--model MODEL`.
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
	return append(argv, spec.ExtraArgs...)
}
