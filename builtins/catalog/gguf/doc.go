// Package gguf reads and writes GGUF v3 files, the model format of llama.cpp and ollama, and makes
// the real engine of starlab's tests runnable without downloading a model: TinyLlama writes a
// llama-architecture GGUF with random weights, deterministic from a seed, and the real Llama-3
// vocabulary that ships inside ollama's Go module, so the engine tokenises, batches and samples
// for real while the text it produces is gibberish (the idea of vLLM's --load-format dummy).
//
// The reader returns metadata and tensor infos only (never tensor data), enough to check a
// written file and to read a model's shape. The package is an engine: it imports nothing of
// Starlark.
package gguf
