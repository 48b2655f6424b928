package stats

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Stat names a statistic of a latency sample.
type Stat string

// Statistics the bootstrap estimates in one pass.
const (
	StatMean   Stat = "mean"
	StatMedian Stat = "median"
	StatP90    Stat = "p90"
	StatP99    Stat = "p99"
)

// Stats are the statistics Summary bounds, in its order.
var Stats = []Stat{StatMean, StatMedian, StatP90, StatP99}

// quantileOf is the percentile a Stat names (NaN for the mean).
func (s Stat) quantile() float64 {
	switch s {
	case StatMedian:
		return 0.5
	case StatP90:
		return 0.9
	case StatP99:
		return 0.99
	}
	return math.NaN()
}

// Valid reports whether s is one of Stats.
func (s Stat) Valid() bool {
	for _, k := range Stats {
		if s == k {
			return true
		}
	}
	return false
}

// Of computes s on a sample (sorted or not).
func (s Stat) Of(x []float64) float64 {
	if s == StatMean {
		m, _ := MeanSD(x)
		return m
	}
	return Quantile(sortedCopy(x), s.quantile())
}

// Bootstrap draws resamples of requests. Requests close in time share a queue, so their
// latencies are correlated; resampling blocks of consecutive requests (in send order) keeps that
// correlation, where resampling single requests would make intervals too narrow under load.
type Bootstrap struct {
	Level     float64 // confidence level, e.g. 0.95
	Resamples int     // 0 means 1000
	Seed      uint64  // derive it from the run seed and the point, so reruns agree
	// Block is the block length in requests; 0 means BlockLength(n).
	Block int
}

// BlockLength is the default block: the cube root of the sample size (the rate that balances a
// block bootstrap's bias and variance), at least 1.
func BlockLength(n int) int {
	return max(1, int(math.Round(math.Cbrt(float64(n)))))
}

// maxWork bounds resamples × sample size, so a point of 100,000 requests costs about as much as one
// of 20,000 (with fewer resamples, never under 200).
const maxWork = 20_000_000

// Summary bounds the mean, median, p90 and p99 of x, given in send order. It returns NoInterval
// for every statistic with fewer than 2 values. Cost: O(n log n) once, then O(n) per resample.
func (b Bootstrap) Summary(x []float64) map[Stat]Interval {
	out := map[Stat]Interval{}
	for _, s := range Stats {
		out[s] = NoInterval
	}
	n := len(x)
	if n < 2 {
		return out
	}
	reps := b.Resamples
	if reps <= 0 {
		reps = 1000
	}
	if reps*n > maxWork {
		reps = max(200, maxWork/n)
	}
	block := b.Block
	if block <= 0 {
		block = BlockLength(n)
	}
	block = min(block, n)
	// rank[i] is x[i]'s position in sorted order; a resample is a count per rank, so its order
	// statistics come from one walk over the counts instead of a sort.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, c int) bool { return x[order[a]] < x[order[c]] })
	sorted := make([]float64, n)
	rank := make([]int, n)
	for r, i := range order {
		sorted[r], rank[i] = x[i], r
	}
	rng := rand.New(rand.NewPCG(b.Seed, 0x5eed_b007))
	counts := make([]int32, n)
	draws := make(map[Stat][]float64, len(Stats))
	for range reps {
		clear(counts)
		var sum float64
		for filled := 0; filled < n; {
			start := rng.IntN(n - block + 1)
			for j := start; j < start+block && filled < n; j++ {
				counts[rank[j]]++
				sum += x[j]
				filled++
			}
		}
		draws[StatMean] = append(draws[StatMean], sum/float64(n))
		for _, s := range Stats[1:] {
			draws[s] = append(draws[s], quantileOfCounts(sorted, counts, s.quantile()))
		}
	}
	alpha := 1 - b.Level
	for _, s := range Stats {
		d := draws[s]
		sort.Float64s(d)
		out[s] = Interval{Quantile(d, alpha/2), Quantile(d, 1-alpha/2)}
	}
	return out
}

// quantileOfCounts is Quantile of the multiset that holds counts[r] copies of sorted[r].
func quantileOfCounts(sorted []float64, counts []int32, q float64) float64 {
	n := 0
	for _, c := range counts {
		n += int(c)
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	at := func(k int) float64 { // k-th order statistic of the resample
		seen := 0
		for r, c := range counts {
			seen += int(c)
			if seen > k {
				return sorted[r]
			}
		}
		return sorted[len(sorted)-1]
	}
	a := at(lo)
	if lo+1 >= n {
		return a
	}
	b := at(lo + 1)
	return a + (b-a)*(pos-float64(lo))
}

func sortedCopy(x []float64) []float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return s
}
