// Package server starts, watches and stops the inference servers a plan measures: real vLLM
// processes, the simulator in-process, or an external OpenAI-compatible URL. The engine is plain
// Go; binding.go, the only file that imports Starlark, registers start_vllm and stop_vllm.
package server
