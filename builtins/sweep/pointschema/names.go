package pointschema

// The fields that analysis and report read by name. Code outside this package names a point field
// through these constants, and TestNamesAreInTheSchema checks each against the JSON tags (with its
// kind), so a renamed tag fails a test instead of silently emptying a report column.
const (
	Engine                 = "engine"
	EngineVersion          = "engine_version"
	Server                 = "server"
	Calibration            = "calibration"
	RequestRate            = "request_rate"
	MaxConcurrency         = "max_concurrency"
	Completed              = "completed"
	Failed                 = "failed"
	Errors                 = "errors"
	Incomplete             = "incomplete"
	TotalOutputTokens      = "total_output_tokens"
	OutputTokensFromChunks = "output_tokens_from_chunks"
	RequestThroughput      = "request_throughput"
	OutputThroughput       = "output_throughput"
	TotalTokenThroughput   = "total_token_throughput"
	MeanTTFTMs             = "mean_ttft_ms"
	MedianTTFTMs           = "median_ttft_ms"
	P99TTFTMs              = "p99_ttft_ms"
	MeanE2ELMs             = "mean_e2el_ms"
	MedianE2ELMs           = "median_e2el_ms"
	P99E2ELMs              = "p99_e2el_ms"
	StoppedEarly           = "stopped_early"
	StopReason             = "stop_reason"

	ClientAchievedSendRate = "client.achieved_send_rate"
	ClientBottleneck       = "client.bottleneck"
	ClientBottleneckReason = "client.bottleneck_reason"
	ServerMaxKVCacheUsage  = "server_metrics.max_kv_cache_usage"
	ServerScrapeErrors     = "server_metrics.scrape_errors"
	ServerUnavailable      = "server_metrics.unavailable"

	// gpu holds a gpu.PointTelemetry; sweep.PointFields describes what is below it.
	GPU                     = "gpu"
	GPUDevices              = "gpu.devices"
	GPUJoulesPerOutputToken = "gpu.joules_per_output_token"
	// DeviceMaxMemoryUsedBytes is a field of each element of gpu.devices.
	DeviceMaxMemoryUsedBytes = "max_memory_used_bytes"
)
