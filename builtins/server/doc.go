// Package server starts, watches and stops the inference servers a plan measures: engine
// processes (vLLM, SGLang, llama.cpp's llama-server, ollama; one adapter per engine in
// engine_*.go behind the Engine interface of engine.go), the simulator in-process, or an external
// OpenAI-compatible URL. The engine is plain Go; binding.go, the only file that imports Starlark,
// registers start_vllm, start_server and stop_vllm.
package server
