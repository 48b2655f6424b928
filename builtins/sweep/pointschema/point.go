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
	Arrival        string `json:"arrival"` // poisson | gamma | constant | closed
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

	// Repeat numbers this measurement among the repeats of its load (0 without repeats).
	Repeat int `json:"repeat"`
	// Repeats holds each repeat's own point when the sweep ran repeats >= 2; the point itself is
	// then their mean, and its CI spans the repeats.
	Repeats []Point `json:"repeats,omitempty"`
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
}
