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

// Summary bounds the mean, median, p90 and p99 of x, given in send order: each interval is the
// wider of the block bootstrap's and, where the sample is large enough for the statistic,
// sectioning's (Sectioned). Requests sent close together share the server's state, but so do all
// requests of a stretch of high load: the bootstrap sees the first, sectioning also the second
// (without it, 95% intervals of the median TTFT held the long-run value in 89-91% of simulated
// Poisson points). NoInterval for fewer than 2 values. Cost: O(n log n) once, O(n) per resample.
func (b Bootstrap) Summary(x []float64) map[Stat]Interval {
	out := b.bootstrap(x)
	for s, ci := range out {
		if sec := Sectioned(x, s, b.Level); !sec.Unknown() && (ci.Unknown() || sec.Hi-sec.Lo > ci.Hi-ci.Lo) {
			out[s] = sec
		}
	}
	return out
}

// Sections is how many consecutive groups Sectioned cuts a sample into.
const Sections = 10

// minPerSection is the fewest values a section needs for a statistic to be estimated in it: a
// p99 of 20 values is their maximum, not a percentile.
func minPerSection(s Stat) int {
	switch s {
	case StatMean:
		return 2
	case StatMedian:
		return 5
	case StatP90:
		return 20
	}
	return 100
}

// Sectioned is the sectioning interval of a statistic (batch statistics of simulation output
// analysis): x, in send order, is cut into Sections consecutive groups; the statistic of each
// group varies with the load and the server state of its stretch of time, and the spread of the
// groups' values gives the overall statistic ± t(Sections−1)·sd/√Sections. NoInterval when a group
// would hold too few values for the statistic.
func Sectioned(x []float64, s Stat, level float64) Interval {
	n := len(x)
	if n < Sections*minPerSection(s) {
		return NoInterval
	}
	vals := make([]float64, Sections)
	for j := range Sections {
		vals[j] = s.Of(x[j*n/Sections : (j+1)*n/Sections])
	}
	_, sd := MeanSD(vals)
	h := T(level, Sections-1) * sd / math.Sqrt(Sections)
	c := s.Of(x)
	return Interval{c - h, c + h}
}

func (b Bootstrap) bootstrap(x []float64) map[Stat]Interval {
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
	qs := make([]float64, 0, len(Stats)-1) // the quantiles of Stats[1:], ascending
	for _, s := range Stats[1:] {
		qs = append(qs, s.quantile())
	}
	qv := make([]float64, len(qs))
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
		quantilesOfCounts(sorted, counts, n, qs, qv)
		for k, s := range Stats[1:] {
			draws[s] = append(draws[s], qv[k])
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

// quantilesOfCounts sets out[j] to quantileOfCounts(sorted, counts, qs[j]) for ascending qs
// and n = Σcounts, in one walk over the counts instead of two per quantile: a resample of 20,000
// requests costs O(n) once, not six times.
func quantilesOfCounts(sorted []float64, counts []int32, n int, qs, out []float64) {
	// walk moves a cursor (r, seen: the values of rank <= r) on to the k-th order statistic.
	walk := func(r, seen, k int) (int, int) {
		for seen <= k && r < len(counts)-1 {
			r++
			seen += int(counts[r])
		}
		return r, seen
	}
	// The cursor follows each quantile's lower order statistic, which never decreases; the upper
	// one is looked up from a copy, as the next quantile's lower one may lie below it.
	r, seen := 0, int(counts[0])
	for j, q := range qs {
		pos := q * float64(n-1)
		lo := int(math.Floor(pos))
		r, seen = walk(r, seen, lo)
		a := sorted[r]
		if lo+1 >= n {
			out[j] = a
			continue
		}
		r1, _ := walk(r, seen, lo+1)
		b := sorted[r1]
		out[j] = a + (b-a)*(pos-float64(lo))
	}
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
