package analysis

import "math"

// Delivered is the fraction of the offered load a point's server delivered: 1 below saturation,
// less above it. Measured in tokens when the point has them (output tokens generated per second
// against the rate actually sent times the tokens each request asked for), because token
// generation is smooth where completions come in convoys (a batch admitted together finishes
// together, so a short point's request count jumps by a batch). Otherwise in requests: request
// throughput against the rate sent. ok is false for closed loops and points without the fields.
func Delivered(p LoadPoint) (fraction float64, ok bool) {
	offered, ok1 := p.Field("request_rate")
	if !ok1 || math.IsInf(offered, 0) || math.IsNaN(offered) || offered <= 0 {
		return 0, false
	}
	if sent, has := p.Field(SentRateField); has && sent > 0 && !math.IsInf(sent, 0) {
		offered = sent
	}
	out, hasOut := p.Field("output_throughput")
	tokens, hasTok := p.Field("total_output_tokens")
	done, hasDone := p.Field("completed")
	if hasOut && hasTok && hasDone && done > 0 && tokens > 0 && !math.IsNaN(out) {
		return out / (offered * tokens / done), true
	}
	got, ok2 := p.Field("request_throughput")
	if !ok2 || math.IsNaN(got) {
		return 0, false
	}
	return got / offered, true
}
