package sim

import (
	"fmt"
	"math"
	"time"
)

// CostModel holds the roofline's efficiency constants. The defaults put Llama-3.1-8B bf16 on one
// H100 at ≈ 6.5 ms per decode step and ≈ 15 ms for a 512-token prefill, as measured vLLM does.
type CostModel struct {
	// StepOverhead is c0: scheduling, sampling and launch time per step (default 0.5 ms).
	StepOverhead time.Duration
	// PerSeqOverhead is CPU-side work per scheduled sequence (default 4 µs).
	PerSeqOverhead time.Duration
	// BandwidthEfficiency is the achieved fraction of peak HBM bandwidth (default 0.8).
	BandwidthEfficiency float64
	// FLOPsEfficiency is the achieved fraction of dense bf16 peak (default 0.6).
	FLOPsEfficiency float64
	// AllReduceLatency is the fixed cost of one TP all-reduce (default 8 µs; two per layer).
	AllReduceLatency time.Duration
	// Linear, when set, replaces the roofline with a step time fitted to a real server
	// (calibrate): a calibrated twin. The efficiency constants above then only shape telemetry.
	Linear *LinearCost
}

// LinearCost is the calibrated step-time model: a step costs Fixed, plus PerPrefillToken for every
// prompt token it computes and PerPrefillSeq for every sequence whose prompt (or a chunk of it)
// it computes, PerDecodeSeq for every sequence it decodes one token of, and PerContextToken for
// every KV token those sequences attend to. A prompt's per-sequence cost is what does not grow
// with its length: setting up its sampling, and the logits of its last token, which on a small
// model with a large vocabulary outweigh the prompt itself. Times are in milliseconds, as
// floats: a context token costs nanoseconds. RequestOverhead is latency a request spends before
// it reaches the scheduler (HTTP, tokenisation), which occupies no engine time.
//
// A calibration fitted at tensor-parallel size CalibratedTP scales to another size tp: the
// prompt and context terms and the weight-streaming share of Fixed (WeightShare) divide by
// tp/CalibratedTP, and the roofline's all-reduce term is added.
type LinearCost struct {
	FixedMs           float64 `json:"fixed_ms"`
	PerPrefillTokenMs float64 `json:"per_prefill_token_ms"`
	PerPrefillSeqMs   float64 `json:"per_prefill_seq_ms"`
	PerDecodeSeqMs    float64 `json:"per_decode_seq_ms"`
	PerContextTokenMs float64 `json:"per_context_token_ms"`
	RequestOverheadMs float64 `json:"request_overhead_ms"`
	// WeightShare is the fraction of FixedMs that streams the weights (0 on a CPU engine).
	WeightShare  float64 `json:"weight_share,omitempty"`
	CalibratedTP int     `json:"calibrated_tp,omitempty"`
}

// LinearParams names LinearCost's fitted parameters in the order Values returns them.
var LinearParams = []string{"fixed_ms", "per_prefill_token_ms", "per_prefill_seq_ms", "per_decode_seq_ms", "per_context_token_ms", "request_overhead_ms"}

// Values is the fitted parameters in LinearParams order.
func (l LinearCost) Values() []float64 {
	return []float64{l.FixedMs, l.PerPrefillTokenMs, l.PerPrefillSeqMs, l.PerDecodeSeqMs, l.PerContextTokenMs, l.RequestOverheadMs}
}

// WithValues is l with its fitted parameters replaced (LinearParams order).
func (l LinearCost) WithValues(v []float64) LinearCost {
	l.FixedMs, l.PerPrefillTokenMs, l.PerPrefillSeqMs, l.PerDecodeSeqMs, l.PerContextTokenMs, l.RequestOverheadMs = v[0], v[1], v[2], v[3], v[4], v[5]
	return l
}

// Validate rejects negative or non-finite parameters.
func (l LinearCost) Validate() error {
	for i, v := range l.Values() {
		if !(v >= 0) || math.IsInf(v, 0) {
			return fmt.Errorf("%s must be a finite number >= 0, got %v", LinearParams[i], v)
		}
	}
	if l.FixedMs+l.PerDecodeSeqMs+l.PerPrefillTokenMs+l.PerPrefillSeqMs <= 0 {
		return fmt.Errorf("a step must cost something: fixed_ms, per_decode_seq_ms and the prefill costs are all 0")
	}
	if l.WeightShare < 0 || l.WeightShare > 1 {
		return fmt.Errorf("weight_share must be in [0, 1], got %v", l.WeightShare)
	}
	return nil
}

func (c CostModel) withDefaults() CostModel {
	if c.StepOverhead <= 0 {
		c.StepOverhead = 500 * time.Microsecond
	}
	if c.PerSeqOverhead <= 0 {
		c.PerSeqOverhead = 4 * time.Microsecond
	}
	if c.BandwidthEfficiency <= 0 {
		c.BandwidthEfficiency = 0.8
	}
	if c.FLOPsEfficiency <= 0 {
		c.FLOPsEfficiency = 0.6
	}
	if c.AllReduceLatency <= 0 {
		c.AllReduceLatency = 8 * time.Microsecond
	}
	return c
}

// batchShape is what one step's cost depends on.
type batchShape struct {
	seqs      int     // sequences scheduled
	tokens    int     // new tokens computed (decodes + prefill chunks)
	decodes   int     // sequences decoding one token (the rest compute prompt chunks)
	decodeCtx int     // KV tokens the decoding sequences attend to
	ctxTokens int     // KV tokens read (context of every scheduled sequence)
	attnFLOPs float64 // attention score/value FLOPs beyond the weight matmuls
}

// stepTime is the roofline of DESIGN.md: c0 + max(bytes/(BW·η_bw), FLOPs/(F·η_f)) + TP comm, with
// bytes = W/tp + ctx·kv_bytes_per_token/tp and FLOPs = 2·P_active·tokens/tp + attention.
// It also returns the compute-bound fraction, which drives the power model.
func (r *Resolved) stepTime(b batchShape) (time.Duration, float64) {
	if l := r.Cost.Linear; l != nil {
		return r.linearStepTime(*l, b)
	}
	tp := float64(r.TensorParallel)
	g := r.GPUInfo
	bytes := r.WeightBytes/tp + float64(b.ctxTokens)*r.KVBytesPerToken/tp
	memT := bytes / (g.BandwidthGBs * 1e9 * r.Cost.BandwidthEfficiency)
	flops := (2*float64(r.ModelInfo.ActiveParams)*float64(b.tokens) + b.attnFLOPs) / tp
	compT := flops / (g.BF16TFLOPs * 1e12 * r.Cost.FLOPsEfficiency)
	t := math.Max(memT, compT) + r.allReduceTime(b)
	d := r.Cost.StepOverhead + time.Duration(b.seqs)*r.Cost.PerSeqOverhead + time.Duration(t*1e9)
	frac := 0.0
	if memT+compT > 0 {
		frac = compT / (memT + compT)
	}
	return d, frac
}

// attnFLOPs is QKᵀ and AV for n new tokens appended to a context of c tokens, over all layers.
func (r *Resolved) attnFLOPs(n, c int) float64 {
	m := r.ModelInfo
	return 4 * float64(m.Layers) * float64(m.Heads*m.HeadDim) * float64(n) * (float64(c) + float64(n)/2)
}

// allReduceTime is the tensor-parallel communication of one step: two ring all-reduces of
// tokens·hidden 16-bit activations per layer.
func (r *Resolved) allReduceTime(b batchShape) float64 {
	if r.TensorParallel <= 1 {
		return 0
	}
	tp := float64(r.TensorParallel)
	msg := float64(b.tokens) * float64(r.ModelInfo.Hidden) * 2
	ar := r.Cost.AllReduceLatency.Seconds() + 2*(tp-1)/tp*msg/(r.GPUInfo.InterconnectGBs*1e9)
	return 2 * float64(r.ModelInfo.Layers) * ar
}

// linearStepTime is the calibrated step time (LinearCost). Prompt tokens are the step's tokens
// that are not decodes. The compute-bound fraction for telemetry is the prompt share.
func (r *Resolved) linearStepTime(l LinearCost, b batchShape) (time.Duration, float64) {
	scale := 1.0
	if from := max(l.CalibratedTP, 1); r.TensorParallel != from {
		scale = float64(from) / float64(r.TensorParallel)
	}
	prefill := float64(b.tokens - b.decodes)
	fixed := l.FixedMs * (1 - l.WeightShare + l.WeightShare*scale)
	prompt := prefill*l.PerPrefillTokenMs*scale + float64(b.seqs-b.decodes)*l.PerPrefillSeqMs
	ms := fixed + prompt + float64(b.decodes)*l.PerDecodeSeqMs + float64(b.decodeCtx)*l.PerContextTokenMs*scale
	if r.TensorParallel > max(l.CalibratedTP, 1) {
		ms += r.allReduceTime(b) * 1e3
	}
	frac := 0.0
	if ms > 0 {
		frac = prompt / ms
	}
	return time.Duration(ms * 1e6), frac
}

// requestOverhead is the calibrated latency before a request reaches the scheduler (0 without a
// calibration).
func (r *Resolved) requestOverhead() time.Duration {
	if r.Cost.Linear == nil {
		return 0
	}
	return time.Duration(r.Cost.Linear.RequestOverheadMs * 1e6)
}
