package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultLevel is the confidence level of a run that does not choose one.
const DefaultLevel = 0.95

// Interval is a two-sided confidence interval [Lo, Hi]. Both ends are NaN when the data cannot
// give one (too few samples); Unknown says so.
type Interval struct {
	Lo, Hi float64
}

// NoInterval is the interval of a quantity the data cannot bound.
var NoInterval = Interval{math.NaN(), math.NaN()}

// Exact is the zero-width interval of a quantity known without error.
func Exact(v float64) Interval { return Interval{v, v} }

// Unknown reports whether either end is missing.
func (i Interval) Unknown() bool { return math.IsNaN(i.Lo) || math.IsNaN(i.Hi) }

// HalfWidth is half the interval's width (NaN when unknown).
func (i Interval) HalfWidth() float64 { return (i.Hi - i.Lo) / 2 }

// Contains reports whether x lies in the closed interval.
func (i Interval) Contains(x float64) bool { return !i.Unknown() && i.Lo <= x && x <= i.Hi }

// Scale multiplies both ends by a non-negative factor.
func (i Interval) Scale(f float64) Interval { return Interval{i.Lo * f, i.Hi * f} }

// ValidLevel reports whether level is a usable two-sided confidence level.
func ValidLevel(level float64) bool { return level > 0.5 && level < 1 }

// Z is the two-sided standard normal critical value at level (1.96 at 0.95).
func Z(level float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-level)/2)
}

// T is the two-sided Student t critical value at level with df degrees of freedom (2.262 at 0.95
// and 9); it is Z for infinite df and NaN for df < 1.
func T(level, df float64) float64 {
	if math.IsInf(df, 1) {
		return Z(level)
	}
	if !(df >= 1) {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(1 - (1-level)/2)
}

// MeanInterval is the Student t interval of the mean of independent replicates (repeats of a
// point): NaN below two replicates.
func MeanInterval(x []float64, level float64) (mean float64, ci Interval) {
	n := float64(len(x))
	if len(x) == 0 {
		return math.NaN(), NoInterval
	}
	m, sd := MeanSD(x)
	if len(x) < 2 {
		return m, NoInterval
	}
	h := T(level, n-1) * sd / math.Sqrt(n)
	return m, Interval{m - h, m + h}
}

// MeanSD is the mean and the sample standard deviation (n−1 denominator; NaN for one value).
func MeanSD(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return math.NaN(), math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	mean = s / float64(len(x))
	if len(x) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}

// Quantile is numpy's default percentile (linear interpolation) of sorted data, q in [0, 1].
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}
