// Package sim is a discrete-step model of vLLM V1 continuous batching: one engine driven either by
// virtual time (deterministic, for --virtual runs and fast tests) or by the wall clock behind an
// OpenAI-compatible HTTP server with vLLM's /metrics and start-up log lines (`starlab sim serve`).
// It registers no builtin and imports nothing of Starlark; plans reach it through server's
// start_vllm(backend = "sim") and every --virtual run.
package sim
