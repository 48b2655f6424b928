// Package server starts, watches and stops the inference servers a plan measures: engine
// processes (vLLM, SGLang, llama.cpp's llama-server, ollama; one adapter per engine in
// engine_*.go behind the Engine interface of engine.go), the simulator in-process, or an external
// OpenAI-compatible URL. An engine process runs on a launcher: this machine (process.go) or a
// Slurm batch job (launcher.go, slurm.go, slurm_script.go). The engine is plain Go; binding.go
// and binding_slurm.go, the only files that import Starlark, register start_vllm, start_server,
// stop_vllm and slurm.
package server
