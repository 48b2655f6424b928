// Package sweep is starlab's load generator: arrival schedules, a streaming OpenAI-compatible
// client, per-request records and the point metrics that `vllm bench serve` reports.
//
// It exists so that an experiment measures the server, not the client: every request is sent at
// its absolute scheduled time, latency is measured from that intended time (coordinated-omission
// safe), and when the client cannot keep up the point says so in client.bottleneck.
//
// Definitions (the same code serves HTTP and virtual-time runs):
//   - TTFT = first chunk with non-empty content − intended send time. Send lag = actual − intended
//     send time, reported separately in client.
//   - E2EL = last chunk − intended send time. TPOT = (E2EL − TTFT)/(output_tokens − 1) for requests
//     with more than one output token.
//   - ITL = gap between consecutive content chunks, pooled over requests in a fixed-memory
//     log-bucketed histogram: mean and std are exact, percentiles are within HistRelErr (0.5 %)
//     relative error.
//   - Output tokens come from the server's usage (stream_options.include_usage); when usage is
//     missing the content chunks are counted and the point's output_tokens_from_chunks says how
//     many requests needed that fallback.
//   - The measured window starts at warmup and ends at the later of the end of sending and the last
//     completion of a measured request (vLLM bench's benchmark_duration). A request is measured
//     when its intended send time falls after warmup. Throughputs and goodput divide by the window.
//   - Requests still running after the grace period are cancelled and counted as incomplete;
//     failures are counted by reason in errors, never dropped.
//
// max_concurrency follows vLLM bench: a send that finds every slot taken waits for one and its lag
// is reported; with OnFull = FullDrop it is skipped instead and counted in client.dropped.
//
// The engine files import nothing of Starlark; the Starlark bindings are binding.go, which
// registers the sweep builtin, and binding_dataset.go, which registers dataset.
package sweep
