package sweep

import "time"

// RequestRecord is one request's timeline. All times are offsets from the point's origin (the instant the
// schedule's offset 0 refers to), so HTTP and virtual-time runs produce identical records.
type RequestRecord struct {
	Index    int           `json:"index"`
	Intended time.Duration `json:"-"` // scheduled send time
	Sent     time.Duration `json:"-"` // actual send time (>= Intended); lag = Sent − Intended
	// First and Last are the arrival times of the first and last content chunks (0 if none).
	First time.Duration `json:"-"`
	Last  time.Duration `json:"-"`
	// Done is when the request ended (stream closed, error, or cancellation).
	Done time.Duration `json:"-"`
	// Chunks holds the content-chunk arrival times while the request runs; the aggregator pools
	// their gaps into the ITL histogram and then drops them, so memory stays bounded.
	Chunks []time.Duration `json:"-"`

	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// ChunkCount is the number of content chunks received.
	ChunkCount int `json:"chunks"`
	// UsageReported is false when OutputTokens was counted from chunks.
	UsageReported bool `json:"usage_reported"`

	// Err is the failure reason key ("" = success), Detail the raw error text.
	Err    string `json:"error,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Incomplete: still running when the grace period ended (or the point was cancelled).
	Incomplete bool `json:"incomplete,omitempty"`
	// Warmup: sent before the measured window; excluded from every metric.
	Warmup bool `json:"warmup,omitempty"`
	// Session and Turn place a conversation's request: session numbers count from 1 in the
	// order sessions started, turns from 1 within the session (both 0 outside conversations).
	Session int `json:"session,omitempty"`
	Turn    int `json:"turn,omitempty"`
}

// TTFT is First − Intended.
func (r *RequestRecord) TTFT() time.Duration { return r.First - r.Intended }

// E2EL is Last − Intended.
func (r *RequestRecord) E2EL() time.Duration { return r.Last - r.Intended }

// Lag is Sent − Intended.
func (r *RequestRecord) Lag() time.Duration { return r.Sent - r.Intended }

// OK reports a completed request with at least one content chunk.
func (r *RequestRecord) OK() bool { return r.Err == "" && !r.Incomplete && r.ChunkCount > 0 }

// TPOT is (E2EL − TTFT)/(out − 1); ok is false for one-token outputs.
func (r *RequestRecord) TPOT() (time.Duration, bool) {
	if r.OutputTokens <= 1 {
		return 0, false
	}
	return (r.E2EL() - r.TTFT()) / time.Duration(r.OutputTokens-1), true
}

// noteUsage takes a usage block from the stream. The last block that counts anything is the
// request's: ollama (completions) and llama-server put an all-zero block on every chunk and the
// real one last, with no choices, so zeros are no report and cannot hide a missing final usage.
func (r *RequestRecord) noteUsage(prompt, completion int) {
	if prompt == 0 && completion == 0 {
		return
	}
	r.UsageReported, r.OutputTokens = true, completion
	if prompt > 0 {
		r.InputTokens = prompt
	}
}

// finish fills OutputTokens from the chunk count when the server sent no usage.
func (r *RequestRecord) finish() {
	if !r.UsageReported {
		r.OutputTokens = r.ChunkCount
	}
}
