package stats

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Comparison is B against A on one statistic: the difference B−A and the ratio B/A, each with
// an interval, a two-sided p-value for "no difference", an effect size and the method that gave
// them.
type Comparison struct {
	A, B         float64
	Difference   float64
	DifferenceCI Interval
	Ratio        float64
	RatioCI      Interval
	PValue       float64
	// Method says how the intervals and the p-value were computed, in words for the report.
	Method string
	// EffectSize is Cliff's delta for samples (P(b > a) − P(b < a), in [−1, 1]) or the
	// standardised difference (B−A)/se for estimates; EffectName says which.
	EffectSize float64
	EffectName string
	// NA and NB are the sample sizes (requests, or repeats); 0 for estimates given as intervals.
	NA, NB int
}

// Significant reports whether the p-value is below 1 − level.
func (c Comparison) Significant(level float64) bool { return c.PValue < 1-level }

// CompareSamples compares a statistic of two independent samples of requests. Intervals come
// from a seeded bootstrap of each sample (resamples of both, percentile intervals of the
// difference and the ratio). The p-value is Welch's t test for the mean, the Mann–Whitney U test
// (normal approximation with tie correction) for the median, and the bootstrap's own two-sided
// p-value for the tail percentiles, where neither test applies.
func CompareSamples(a, b []float64, s Stat, level float64, seed uint64) Comparison {
	c := Comparison{A: s.Of(a), B: s.Of(b), NA: len(a), NB: len(b), DifferenceCI: NoInterval, RatioCI: NoInterval,
		PValue: math.NaN(), EffectSize: CliffsDelta(a, b), EffectName: "cliffs_delta"}
	c.Difference, c.Ratio = c.B-c.A, c.B/c.A
	if len(a) < 2 || len(b) < 2 {
		c.Method = "too few requests for an interval"
		return c
	}
	const reps = 2000
	rng := rand.New(rand.NewPCG(seed, 0xc0ba_4e5))
	diffs := make([]float64, 0, reps)
	ratios := make([]float64, 0, reps)
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	for range reps {
		for i := range ra {
			ra[i] = a[rng.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[rng.IntN(len(b))]
		}
		x, y := s.Of(ra), s.Of(rb)
		diffs = append(diffs, y-x)
		ratios = append(ratios, y/x)
	}
	sort.Float64s(diffs)
	sort.Float64s(ratios)
	alpha := 1 - level
	c.DifferenceCI = Interval{Quantile(diffs, alpha/2), Quantile(diffs, 1-alpha/2)}
	c.RatioCI = Interval{Quantile(ratios, alpha/2), Quantile(ratios, 1-alpha/2)}
	switch s {
	case StatMean:
		_, _, c.PValue = WelchT(a, b)
		c.Method = "bootstrap over requests (2000 resamples); p-value: Welch's t test"
	case StatMedian:
		_, c.PValue = MannWhitney(a, b)
		c.Method = "bootstrap over requests (2000 resamples); p-value: Mann–Whitney U test"
	default:
		below := sort.SearchFloat64s(diffs, 0)
		above := len(diffs) - sort.Search(len(diffs), func(i int) bool { return diffs[i] > 0 })
		c.PValue = math.Min(1, 2*float64(min(below, above)+1)/float64(reps+1))
		c.Method = "bootstrap over requests (2000 resamples); p-value: bootstrap"
	}
	return c
}

// CompareEstimates compares two independent estimates given only as values and intervals (a
// point's throughput with its batch-means interval, a row of a table): normal standard errors from
// the half-widths, the difference's interval directly and the ratio's on the log scale, and a z
// test. EffectSize is the z statistic.
func CompareEstimates(a float64, ai Interval, b float64, bi Interval, level float64) Comparison {
	c := Comparison{A: a, B: b, Difference: b - a, Ratio: b / a, DifferenceCI: NoInterval, RatioCI: NoInterval,
		PValue: math.NaN(), EffectSize: math.NaN(), EffectName: "z",
		Method: "normal approximation from the two intervals"}
	if ai.Unknown() || bi.Unknown() {
		c.Method = "no interval on one side: difference not tested"
		return c
	}
	z := Z(level)
	sa, sb := ai.HalfWidth()/z, bi.HalfWidth()/z
	se := math.Hypot(sa, sb)
	c.DifferenceCI = Interval{c.Difference - z*se, c.Difference + z*se}
	c.RatioCI = RatioOf(b, bi, a, ai, level)
	if se > 0 {
		c.EffectSize = c.Difference / se
		c.PValue = 2 * distuv.UnitNormal.Survival(math.Abs(c.EffectSize))
	} else if c.Difference == 0 {
		c.PValue = 1
	} else {
		c.PValue = 0
	}
	return c
}

// CompareReplicates compares the means of independent replicates (the repeats of a point):
// Welch's t interval for the difference, the delta method for the ratio, Welch's p-value.
func CompareReplicates(a, b []float64, level float64) Comparison {
	ma, sa := MeanSD(a)
	mb, sb := MeanSD(b)
	c := Comparison{A: ma, B: mb, Difference: mb - ma, Ratio: mb / ma, NA: len(a), NB: len(b),
		DifferenceCI: NoInterval, RatioCI: NoInterval, PValue: math.NaN(), EffectSize: math.NaN(),
		EffectName: "hedges_g", Method: "Welch's t test across repeats"}
	if len(a) < 2 || len(b) < 2 {
		c.Method = "too few repeats for Welch's t test"
		return c
	}
	va, vb := sa*sa/float64(len(a)), sb*sb/float64(len(b))
	t, df, p := WelchT(a, b)
	_ = t
	h := T(level, df) * math.Sqrt(va+vb)
	c.DifferenceCI = Interval{c.Difference - h, c.Difference + h}
	if ma > 0 && mb > 0 {
		hl := T(level, df) * math.Sqrt(va/(ma*ma)+vb/(mb*mb))
		c.RatioCI = Interval{c.Ratio * math.Exp(-hl), c.Ratio * math.Exp(hl)}
	}
	c.PValue = p
	na, nb := float64(len(a)), float64(len(b))
	pooled := math.Sqrt(((na-1)*sa*sa + (nb-1)*sb*sb) / (na + nb - 2))
	if pooled > 0 {
		c.EffectSize = (mb - ma) / pooled * (1 - 3/(4*(na+nb)-9))
	}
	return c
}

// WelchT is Welch's unequal-variance t test of mean(b) − mean(a): the statistic, its
// Welch–Satterthwaite degrees of freedom and the two-sided p-value.
func WelchT(a, b []float64) (t, df, p float64) {
	ma, sa := MeanSD(a)
	mb, sb := MeanSD(b)
	va, vb := sa*sa/float64(len(a)), sb*sb/float64(len(b))
	se := math.Sqrt(va + vb)
	if !(se > 0) {
		if ma == mb {
			return 0, math.Inf(1), 1
		}
		return math.Inf(1), math.Inf(1), 0
	}
	t = (mb - ma) / se
	df = (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	p = 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(math.Abs(t))
	return t, df, p
}

// MannWhitney is the Mann–Whitney U test of b against a: U for b, and the two-sided p-value from
// the normal approximation with the tie correction (exact enough from about 10 per side).
func MannWhitney(a, b []float64) (u, p float64) {
	type obs struct {
		v   float64
		inB bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, false})
	}
	for _, v := range b {
		all = append(all, obs{v, true})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	n := float64(len(all))
	var rankB, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		r := float64(i+j+1) / 2 // mean rank of the tie group, ranks from 1
		for k := i; k < j; k++ {
			if all[k].inB {
				rankB += r
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	na, nb := float64(len(a)), float64(len(b))
	u = rankB - nb*(nb+1)/2
	mu := na * nb / 2
	sigma := math.Sqrt(na * nb / 12 * ((n + 1) - ties/(n*(n-1))))
	if !(sigma > 0) {
		return u, 1
	}
	z := (math.Abs(u-mu) - 0.5) / sigma
	return u, math.Min(1, 2*distuv.UnitNormal.Survival(math.Max(z, 0)))
}

// CliffsDelta is P(b > a) − P(b < a) over all pairs: −1..1, 0 when neither side tends higher.
// O((n+m) log(n+m)).
func CliffsDelta(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return math.NaN()
	}
	sa := sortedCopy(a)
	var greater, less float64
	for _, v := range b {
		lo := sort.SearchFloat64s(sa, v) // a values < v
		hi := sort.Search(len(sa), func(i int) bool { return sa[i] > v })
		less += float64(len(sa) - hi)
		greater += float64(lo)
	}
	return (greater - less) / float64(len(a)*len(b))
}

// MoreData is the factor by which the data behind an interval of half-width hw must grow for it to
// exclude a value at distance d from the estimate (intervals narrow as 1/√n): (hw/d)². It is 1
// or less when the interval already decides, +Inf when d is 0.
func MoreData(hw, d float64) float64 {
	d = math.Abs(d)
	if math.IsNaN(hw) {
		return math.NaN()
	}
	if d == 0 {
		return math.Inf(1)
	}
	return (hw / d) * (hw / d)
}
