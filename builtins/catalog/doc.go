// Package catalog holds the hardware and model numbers the simulator and the analysis builtins
// share: GPU specs (memory, HBM bandwidth, dense bf16 FLOP/s, power), decoder-only transformer
// shapes from a built-in table or a Hugging Face config.json, and vLLM's memory profile. It is an
// engine only: it registers no builtin and imports nothing of Starlark.
package catalog
