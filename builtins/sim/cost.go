package sim

import (
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
	ctxTokens int     // KV tokens read (context of every scheduled sequence)
	attnFLOPs float64 // attention score/value FLOPs beyond the weight matmuls
}

// stepTime is the roofline of DESIGN.md: c0 + max(bytes/(BW·η_bw), FLOPs/(F·η_f)) + TP comm, with
// bytes = W/tp + ctx·kv_bytes_per_token/tp and FLOPs = 2·P_active·tokens/tp + attention.
// It also returns the compute-bound fraction, which drives the power model.
func (r *Resolved) stepTime(b batchShape) (time.Duration, float64) {
	tp := float64(r.TensorParallel)
	g := r.GPUInfo
	bytes := r.WeightBytes/tp + float64(b.ctxTokens)*r.KVBytesPerToken/tp
	memT := bytes / (g.BandwidthGBs * 1e9 * r.Cost.BandwidthEfficiency)
	flops := (2*float64(r.ModelInfo.ActiveParams)*float64(b.tokens) + b.attnFLOPs) / tp
	compT := flops / (g.BF16TFLOPs * 1e12 * r.Cost.FLOPsEfficiency)
	t := math.Max(memT, compT)
	if r.TensorParallel > 1 {
		// Two ring all-reduces of tokens·hidden 16-bit activations per layer.
		msg := float64(b.tokens) * float64(r.ModelInfo.Hidden) * 2
		ar := r.Cost.AllReduceLatency.Seconds() + 2*(tp-1)/tp*msg/(g.InterconnectGBs*1e9)
		t += 2 * float64(r.ModelInfo.Layers) * ar
	}
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
