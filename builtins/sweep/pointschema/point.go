package pointschema

import (
	"encoding/json"

	"starlab/runtime/jsonnum"
)

// Float is jsonnum.Float: Inf survives as "inf", NaN as null.
type Float = jsonnum.Float

// Point is one load level, with `vllm bench serve`'s field names. Latencies are milliseconds,
// Duration is seconds, throughputs are per second of the measured window.
type Point struct {
	// Engine is the inference engine measured (server.Info's backend: vllm, sglang, llama.cpp,
	// ollama, sim or external) and EngineVersion what it reported about itself ("" when it did not
	// say). In a --virtual run the simulator stands in for the engine the plan asked for: Engine
	// names that engine, so a plan groups its points the same way in both runs, and EngineVersion
	// is "simulated".
	Engine        string `json:"engine"`
	EngineVersion string `json:"engine_version"`
	// Server is the name of the server measured; Calibration, for a calibrated twin, the name of
	// its calibration (calibrations/NAME.json names the real server it mirrors).
	Server      string `json:"server"`
	Calibration string `json:"calibration,omitempty"`

	RequestRate Float `json:"request_rate"` // offered rate; inf for a closed loop
	// MaxConcurrency bounds in-flight requests; 0 = unbounded. For a closed loop it is the number
	// of workers.
	MaxConcurrency int    `json:"max_concurrency"`
	Arrival        string `json:"arrival"` // poisson | gamma | constant | closed | trace | ramp
	Burstiness     Float  `json:"burstiness"`
	Duration       Float  `json:"duration"` // measured window, s

	Completed  int            `json:"completed"`
	Failed     int            `json:"failed"`
	Errors     map[string]int `json:"errors"`
	Incomplete int            `json:"incomplete"`

	TotalInputTokens  int `json:"total_input_tokens"`
	TotalOutputTokens int `json:"total_output_tokens"`
	// OutputTokensFromChunks counts completed requests whose output length had no usage and was
	// counted from content chunks.
	OutputTokensFromChunks int `json:"output_tokens_from_chunks"`

	RequestThroughput    Float `json:"request_throughput"`
	OutputThroughput     Float `json:"output_throughput"`
	TotalTokenThroughput Float `json:"total_token_throughput"`
	RequestGoodput       Float `json:"request_goodput"` // null without slo

	MeanTTFTMs   Float `json:"mean_ttft_ms"`
	MedianTTFTMs Float `json:"median_ttft_ms"`
	StdTTFTMs    Float `json:"std_ttft_ms"`
	P90TTFTMs    Float `json:"p90_ttft_ms"`
	P99TTFTMs    Float `json:"p99_ttft_ms"`

	MeanTPOTMs   Float `json:"mean_tpot_ms"`
	MedianTPOTMs Float `json:"median_tpot_ms"`
	StdTPOTMs    Float `json:"std_tpot_ms"`
	P90TPOTMs    Float `json:"p90_tpot_ms"`
	P99TPOTMs    Float `json:"p99_tpot_ms"`

	MeanITLMs   Float `json:"mean_itl_ms"`
	MedianITLMs Float `json:"median_itl_ms"`
	StdITLMs    Float `json:"std_itl_ms"`
	P90ITLMs    Float `json:"p90_itl_ms"`
	P99ITLMs    Float `json:"p99_itl_ms"`

	MeanE2ELMs   Float `json:"mean_e2el_ms"`
	MedianE2ELMs Float `json:"median_e2el_ms"`
	StdE2ELMs    Float `json:"std_e2el_ms"`
	P90E2ELMs    Float `json:"p90_e2el_ms"`
	P99E2ELMs    Float `json:"p99_e2el_ms"`

	Client        ClientStats    `json:"client"`
	ServerMetrics *ServerMetrics `json:"server_metrics"`
	// GPU is the GPU probe's summary (a gpu.PointTelemetry: per device, with J/token); null when the GPUs
	// were not sampled. It stays raw here so this package need not import gpu; sweep.PointFields
	// describes it.
	GPU json.RawMessage `json:"gpu"`

	StoppedEarly bool   `json:"stopped_early"`
	StopReason   string `json:"stop_reason,omitempty"`

	// Confidence is the level of every interval of the point: the run's --confidence.
	Confidence Float `json:"confidence"`
	// CI holds [lo, hi] at Confidence for each figure that has an interval, keyed by the figure's
	// field name (request_throughput, median_ttft_ms, ..., delivered). The README's metric table
	// says how each is computed.
	CI map[string][2]Float `json:"ci"`
	// Delivered is the fraction of the load sent inside the window that the server delivered
	// (output tokens when known, else requests); null in a closed loop. A point is saturated when
	// it is decidedly under 0.9, at Confidence.
	Delivered Float `json:"delivered"`
	// SteadyState compares the first and second halves of the window; a point whose halves
	// differ never settled, and its averages describe a transient.
	SteadyState *SteadyState `json:"steady_state"`
	// Checks are the consistency checks (Little's law, tokens, offered load) run on the point.
	Checks []Check `json:"checks"`

	// Trace is the replayed trace of a trace point (sweep's trace=), Ramp the rate ramp of a ramp
	// point (sweep's ramp=); absent otherwise.
	Trace *TraceInfo `json:"trace,omitempty"`
	Ramp  *RampInfo  `json:"ramp,omitempty"`
	// Slices cut a ramp's window into equal slices by intended send time, so that a knee can be
	// read from one ramp (find_knee takes them as points); absent for other points.
	Slices []Slice `json:"slices,omitempty"`
	// Sessions summarises a conversation workload by session and by turn; absent otherwise.
	Sessions *SessionStats `json:"sessions,omitempty"`

	// Repeat numbers this measurement among the repeats of its load (0 without repeats).
	Repeat int `json:"repeat"`
	// Repeats holds each repeat's own point when the sweep ran repeats >= 2; the point itself is
	// then their mean, and its CI spans the repeats.
	Repeats []Point `json:"repeats,omitempty"`
}

// TraceInfo describes a trace replay: the file, its format, the speed-up (time_scale 2 replays
// twice as fast) and what of the trace the point's window covered.
type TraceInfo struct {
	Path      string `json:"path"`
	Format    string `json:"format"`
	TimeScale Float  `json:"time_scale"`
	// Rows is the trace rows sent (warmup included); Skipped the rows left out (no output tokens).
	Rows    int `json:"rows"`
	Skipped int `json:"skipped"`
	// SpanS is the replayed span of trace time, in seconds of the trace (before scaling).
	SpanS Float `json:"span_s"`
}

// RampInfo is a rate ramp: from Start to End requests/s over OverS seconds after warmup,
// linear or exponential (vLLM bench's --ramp-up-strategy).
type RampInfo struct {
	Kind  string `json:"kind"`
	Start Float  `json:"start"`
	End   Float  `json:"end"`
	OverS Float  `json:"over_s"`
}

// Slice is one time slice of a ramp point, with a point's field names so that analysis reads
// slices as points. Requests belong to the slice of their intended send time; throughputs count
// the completions inside the slice.
type Slice struct {
	StartS            Float `json:"start_s"` // from the start of the window (the end of warmup)
	EndS              Float `json:"end_s"`
	RequestRate       Float `json:"request_rate"` // the ramp's mean target rate over the slice
	Sent              int   `json:"sent"`
	Completed         int   `json:"completed"`
	Failed            int   `json:"failed"`
	RequestThroughput Float `json:"request_throughput"`
	OutputThroughput  Float `json:"output_throughput"`
	MeanTTFTMs        Float `json:"mean_ttft_ms"`
	MedianTTFTMs      Float `json:"median_ttft_ms"`
	P99TTFTMs         Float `json:"p99_ttft_ms"`
	MeanTPOTMs        Float `json:"mean_tpot_ms"`
	MedianTPOTMs      Float `json:"median_tpot_ms"`
	MeanE2ELMs        Float `json:"mean_e2el_ms"`
	MedianE2ELMs      Float `json:"median_e2el_ms"`
	P99E2ELMs         Float `json:"p99_e2el_ms"`
	// Delivered is completions over sends in the slice (null when nothing was sent).
	Delivered Float `json:"delivered"`
}

// SessionStats is a conversation workload's view by session: sessions started in the window,
// those whose every turn finished, those cut off by the window's end, and per-turn figures.
type SessionStats struct {
	Started   int `json:"started"`
	Completed int `json:"completed"`
	Truncated int `json:"truncated"`
	// MeanTurns is the mean turns sent per started session; MeanSessionS the mean time from a
	// completed session's first intended send to its last turn's end.
	MeanTurns    Float       `json:"mean_turns"`
	MeanSessionS Float       `json:"mean_session_s"`
	Turns        []TurnStats `json:"turns"`
}

// TurnStats are the figures of every session's k-th turn (Turn counts from 1).
type TurnStats struct {
	Turn            int   `json:"turn"`
	Requests        int   `json:"requests"`
	Completed       int   `json:"completed"`
	MeanInputTokens Float `json:"mean_input_tokens"`
	MeanTTFTMs      Float `json:"mean_ttft_ms"`
	MedianTTFTMs    Float `json:"median_ttft_ms"`
	P99TTFTMs       Float `json:"p99_ttft_ms"`
	MeanE2ELMs      Float `json:"mean_e2el_ms"`
}

// SteadyState is the first-half versus second-half comparison of a point's window.
type SteadyState struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"` // what drifted, when not OK
	// The halves' request throughput (req/s), median TTFT (ms) and mean running requests from
	// the server's metrics (null where unknown).
	ThroughputHalves [2]Float `json:"throughput_halves"`
	MedianTTFTHalves [2]Float `json:"median_ttft_halves"`
	RunningHalves    [2]Float `json:"running_halves"`
}

// Check is one consistency check on a point.
type Check struct {
	Name   string `json:"name"` // littles_law | tokens | offered_load | per_request_throughput
	OK     bool   `json:"ok"`
	Detail string `json:"detail"` // the numbers compared, and what a failure means
}

// ClientStats says whether the load generator itself held the point back.
type ClientStats struct {
	SendLagP50Ms Float `json:"send_lag_p50_ms"`
	SendLagP99Ms Float `json:"send_lag_p99_ms"`
	SendLagMaxMs Float `json:"send_lag_max_ms"`
	Dropped      int   `json:"dropped"`
	Sent         int   `json:"sent"`
	// AchievedSendRate = measured sends / send window (s); compare with request_rate.
	AchievedSendRate Float `json:"achieved_send_rate"`
	// ScheduledSendRate is the schedule's own rate over the same sends; achieved below 99 % of it
	// means the client slipped (Poisson noise cancels out of the comparison).
	ScheduledSendRate Float  `json:"scheduled_send_rate"`
	Bottleneck        bool   `json:"bottleneck"`
	BottleneckReason  string `json:"bottleneck_reason,omitempty"`
	// Clients is the number of load-generator processes the point's schedule was split across
	// (sweep's clients); absent when one, in starlab itself, sent it all.
	Clients int `json:"clients,omitempty"`
	// Workers holds each worker process's own send figures (a list of sweep.WorkerStats) when
	// Clients > 1 on the wall clock. It stays raw here, as gpu does, so that this schema's
	// numbers are all reachable by field paths; sweep.PointFields describes its elements.
	Workers json.RawMessage `json:"workers,omitempty"`
}

// ServerMetrics summarises the server's /metrics (or virtual.Stats) sampled about once a second,
// with each engine's series mapped onto the same fields (vLLM's vllm:*, SGLang's sglang:*,
// llama.cpp's llamacpp:*). A field the engine does not export is null.
type ServerMetrics struct {
	Samples         int    `json:"samples"`
	ScrapeErrors    int    `json:"scrape_errors"`
	LastScrapeError string `json:"last_scrape_error,omitempty"`
	// Unavailable says why /metrics was not read at all: the server's answer before any scrape
	// succeeded ("no metrics endpoint (HTTP 404 Not Found)" from ollama, or 501 from llama-server
	// started without --metrics). The point then stopped scraping.
	Unavailable     string `json:"unavailable,omitempty"`
	MaxRunning      Float  `json:"max_running"`
	MaxWaiting      Float  `json:"max_waiting"`
	MaxKVCacheUsage Float  `json:"max_kv_cache_usage"` // 0..1
	Preemptions     Float  `json:"preemptions"`        // counter delta over the point
	// PrefixCacheQueries and PrefixCacheHits are the prompt tokens looked up in the prefix cache
	// and found there over the point (vLLM's vllm:prefix_cache_queries and
	// vllm:prefix_cache_hits counters); PrefixCacheHitRate is hits / queries. Null when the
	// server does not export them.
	PrefixCacheQueries Float `json:"prefix_cache_queries"`
	PrefixCacheHits    Float `json:"prefix_cache_hits"`
	PrefixCacheHitRate Float `json:"prefix_cache_hit_rate"`
}
