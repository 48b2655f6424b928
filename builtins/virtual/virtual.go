package virtual

import "time"

// Request is one completion request as the load generator sends it.
type Request struct {
	// PromptTokens is the prompt length in the server's tokens.
	PromptTokens int
	// MaxTokens caps the output (max_tokens).
	MaxTokens int
	// MinTokens is the least output before a stop may end the request (min_tokens).
	MinTokens int
	// IgnoreEOS makes the request generate exactly MaxTokens tokens (ignore_eos).
	IgnoreEOS bool
	// Blocks are the chained hashes of the prompt's full blocks of PrefixBlockSize tokens
	// (PromptBlocks), what a prefix cache looks up; nil when the prompt's content is unknown,
	// which caches nothing.
	Blocks []uint64
}

// Usage is what the server reports at the end of a request (stream_options.include_usage).
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// Events receives a request's progress. All times are offsets from the server's time origin.
// Callbacks run synchronously inside RunUntil; they may call Submit (a closed-loop driver submits
// the next request from Done).
type Events struct {
	// Chunk is called for every streamed content chunk; tokens is how many tokens it carries (>= 1).
	Chunk func(at time.Duration, tokens int)
	// Done is called exactly once, when the request finishes (err == nil) or fails.
	Done func(at time.Duration, usage Usage, err error)
}

// Stats is the server's state at the current time, as vLLM's /metrics would report it.
type Stats struct {
	Running          int     // vllm:num_requests_running
	Waiting          int     // vllm:num_requests_waiting
	KVCacheUsage     float64 // vllm:kv_cache_usage_perc, 0..1
	Preemptions      int64   // vllm:num_preemptions_total
	PromptTokens     int64   // vllm:prompt_tokens_total
	GenerationTokens int64   // vllm:generation_tokens_total
	// PrefixCacheQueries and PrefixCacheHits count prompt tokens looked up in the prefix cache
	// and found (vllm:prefix_cache_queries_total, vllm:prefix_cache_hits_total); both stay 0 with
	// caching off.
	PrefixCacheQueries int64
	PrefixCacheHits    int64
	// PrefixCaching says whether the server caches prefixes at all.
	PrefixCaching bool
}

// Server is a server in virtual time. It is not safe for concurrent use: one driver owns it.
type Server interface {
	// Now is the current virtual time.
	Now() time.Duration
	// Submit enqueues req arriving at time at (at >= Now()).
	Submit(at time.Duration, req Request, ev Events)
	// RunUntil processes every event up to and including t, then sets Now to t.
	RunUntil(t time.Duration)
	// NextEvent returns the time of the next pending event; ok is false when nothing is pending.
	NextEvent() (at time.Duration, ok bool)
	// Stats reports the server's counters and gauges at Now.
	Stats() Stats
}
