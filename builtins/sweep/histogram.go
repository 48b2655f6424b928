package sweep

import "math"

// HistRelErr is the relative error of a Histogram percentile: the reported value is within
// ±0.5 % of a sample at the requested rank (values between HistMin and HistMax).
const HistRelErr = 0.005

// Histogram range in milliseconds: 1 µs to about 28 hours; values outside are clamped.
const (
	HistMin = 1e-3
	HistMax = 1e8
)

var (
	histGamma   = (1 + HistRelErr) / (1 - HistRelErr)
	histLogG    = math.Log(histGamma)
	histOffset  = int(math.Floor(math.Log(HistMin) / histLogG))
	histBuckets = int(math.Ceil(math.Log(HistMax)/histLogG)) - histOffset + 1
)

// Histogram pools a metric over any number of requests in fixed memory (about 4,000 counters):
// log buckets with ratio (1+e)/(1−e) as in DDSketch. Mean and std are exact (Welford).
type Histogram struct {
	counts     []uint64
	n          uint64
	mean, m2   float64
	minV, maxV float64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]uint64, histBuckets), minV: math.Inf(1), maxV: math.Inf(-1)}
}

// Add records one value (milliseconds).
func (h *Histogram) Add(v float64) {
	if math.IsNaN(v) {
		return
	}
	h.n++
	d := v - h.mean
	h.mean += d / float64(h.n)
	h.m2 += d * (v - h.mean)
	h.minV = math.Min(h.minV, v)
	h.maxV = math.Max(h.maxV, v)
	h.counts[histIndex(v)]++
}

func histIndex(v float64) int {
	if v < HistMin {
		v = HistMin
	}
	if v > HistMax {
		v = HistMax
	}
	i := int(math.Ceil(math.Log(v)/histLogG)) - histOffset
	return min(max(i, 0), histBuckets-1)
}

// Count is the number of values added.
func (h *Histogram) Count() uint64 { return h.n }

// Mean is exact; NaN when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return math.NaN()
	}
	return h.mean
}

// Std is the exact population standard deviation (numpy's default, as vLLM bench uses).
func (h *Histogram) Std() float64 {
	if h.n == 0 {
		return math.NaN()
	}
	return math.Sqrt(h.m2 / float64(h.n))
}

// Quantile returns the q-quantile (0..1) within HistRelErr, clamped to the observed min and max.
func (h *Histogram) Quantile(q float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := 2 * math.Pow(histGamma, float64(i+histOffset)) / (histGamma + 1)
			return math.Min(math.Max(v, h.minV), h.maxV)
		}
	}
	return h.maxV
}
