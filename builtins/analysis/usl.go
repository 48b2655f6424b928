package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"starlab/stats"
)

// USLFit is Gunther's Universal Scalability Law fitted to throughput X at
// concurrency (or node count) N:
//
//	X(N) = λN / (1 + σ(N−1) + κN(N−1))
//
// σ is contention (serialisation), κ coherency (crosstalk); both ≥ 0.
type USLFit struct {
	Lambda float64 // throughput of one unit without overhead
	Sigma  float64 // contention, ≥ 0
	Kappa  float64 // coherency, ≥ 0
	// PeakN is where X(N) peaks, sqrt((1−σ)/κ); +Inf when κ = 0 or σ ≥ 1
	// (no retrograde region: throughput only levels off).
	PeakN float64
	PeakX float64 // X(PeakN); λ/σ (the asymptote) when PeakN is +Inf and σ > 0
	R2    float64 // coefficient of determination on X
	SSE   float64 // residual sum of squares

	// Intervals at Level of λ, σ and κ, from refits to throughputs redrawn within each point's
	// interval (a seeded parametric bootstrap); NoInterval when the points carry none.
	LambdaCI, SigmaCI, KappaCI stats.Interval
	Level                      float64
}

// Predict returns the fitted throughput at n.
func (f USLFit) Predict(n float64) float64 {
	return f.Lambda * n / (1 + f.Sigma*(n-1) + f.Kappa*n*(n-1))
}

// USL fits the Universal Scalability Law: a linearised least-squares fit
// (with λ from the smallest N) gives the start, and a projected
// Levenberg–Marquardt on the original residuals refines λ, σ, κ jointly,
// keeping σ, κ ≥ 0. It needs at least 4 points (3 parameters plus one
// degree of freedom).
func USL(ns, xs []float64) (USLFit, error) {
	if len(ns) != len(xs) {
		return USLFit{}, fmt.Errorf("%d values of N but %d throughputs", len(ns), len(xs))
	}
	if len(ns) < 4 {
		return USLFit{}, fmt.Errorf("got %d points, need at least 4 to fit λ, σ and κ", len(ns))
	}
	for i := range ns {
		if !(ns[i] >= 1) || math.IsInf(ns[i], 0) {
			return USLFit{}, fmt.Errorf("point %d: N = %v, want a finite number ≥ 1", i, ns[i])
		}
		if !(xs[i] >= 0) || math.IsInf(xs[i], 0) {
			return USLFit{}, fmt.Errorf("point %d: throughput %v, want a finite number ≥ 0", i, xs[i])
		}
	}
	p := uslStart(ns, xs)
	p = uslRefine(ns, xs, p)
	f := USLFit{Lambda: p[0], Sigma: p[1], Kappa: p[2], Level: stats.DefaultLevel,
		LambdaCI: stats.NoInterval, SigmaCI: stats.NoInterval, KappaCI: stats.NoInterval}
	f.SSE = uslSSE(ns, xs, p)
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	sst := 0.0
	for _, x := range xs {
		sst += (x - mean) * (x - mean)
	}
	f.R2 = 1 - f.SSE/sst
	if sst == 0 {
		f.R2 = math.NaN()
	}
	switch {
	case f.Kappa > 0 && f.Sigma < 1:
		f.PeakN = math.Sqrt((1 - f.Sigma) / f.Kappa)
		f.PeakX = f.Predict(f.PeakN)
	case f.Sigma > 0:
		f.PeakN, f.PeakX = math.Inf(1), f.Lambda/f.Sigma
	default:
		f.PeakN, f.PeakX = math.Inf(1), math.Inf(1)
	}
	return f, nil
}

// USLResamples is the number of refits behind the USL parameters' intervals.
const USLResamples = 500

// USLWithIntervals fits the Universal Scalability Law (see USL) and bounds λ, σ and κ at level by
// a seeded parametric bootstrap: each throughput is redrawn USLResamples times from a normal
// centred on it with sd = its interval's half-width / z (clipped at 0), the law is refitted to
// every redraw, and each parameter's interval is the percentiles of its refits (widened to hold
// the fit itself). cis holds each throughput's interval; when any is unknown (or cis is nil) the
// fit comes without intervals. The same seed gives the same intervals.
func USLWithIntervals(ns, xs []float64, cis []stats.Interval, level float64, seed uint64) (USLFit, error) {
	f, err := USL(ns, xs)
	if err != nil {
		return f, err
	}
	if level == 0 {
		level = stats.DefaultLevel
	}
	f.Level = level
	f.LambdaCI, f.SigmaCI, f.KappaCI = stats.NoInterval, stats.NoInterval, stats.NoInterval
	if cis == nil {
		return f, nil
	}
	if len(cis) != len(xs) {
		return f, fmt.Errorf("%d intervals for %d throughputs", len(cis), len(xs))
	}
	sd := make([]float64, len(cis))
	z := stats.Z(level)
	for i, ci := range cis {
		if ci.Unknown() {
			return f, nil
		}
		if !(ci.Lo <= ci.Hi) || math.IsInf(ci.Lo, 0) || math.IsInf(ci.Hi, 0) {
			return f, fmt.Errorf("point %d: interval [%v, %v], want finite lo <= hi", i, ci.Lo, ci.Hi)
		}
		sd[i] = ci.HalfWidth() / z
	}
	rng := rand.New(rand.NewPCG(seed, 0x75736c)) // "usl"
	var lambdas, sigmas, kappas []float64
	redrawn := make([]float64, len(xs))
	for range USLResamples {
		for i, x := range xs {
			redrawn[i] = math.Max(0, x+sd[i]*rng.NormFloat64())
		}
		p := uslRefine(ns, redrawn, uslStart(ns, redrawn))
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsNaN(p[2]) {
			continue
		}
		lambdas, sigmas, kappas = append(lambdas, p[0]), append(sigmas, p[1]), append(kappas, p[2])
	}
	if len(lambdas) < USLResamples/2 {
		return f, nil
	}
	f.LambdaCI = percentileInterval(lambdas, f.Lambda, level)
	f.SigmaCI = percentileInterval(sigmas, f.Sigma, level)
	f.KappaCI = percentileInterval(kappas, f.Kappa, level)
	return f, nil
}

// percentileInterval is the central level-interval of the refits, widened to hold the estimate.
func percentileInterval(v []float64, estimate, level float64) stats.Interval {
	slices.Sort(v)
	lo := stats.Quantile(v, (1-level)/2)
	hi := stats.Quantile(v, (1+level)/2)
	return stats.Interval{Lo: math.Min(lo, estimate), Hi: math.Max(hi, estimate)}
}

// uslStart is the linearised fit: with λ = X(N₀)/N₀ at the smallest N,
// N/C − 1 = σ(N−1) + κN(N−1) where C = X/λ, solved without intercept and
// with a negative coefficient clamped to 0 and the other refitted.
func uslStart(ns, xs []float64) [3]float64 {
	i0 := 0
	for i := range ns {
		if ns[i] < ns[i0] {
			i0 = i
		}
	}
	lambda := xs[i0] / ns[i0]
	if lambda <= 0 {
		lambda = maxOf(xs) / ns[i0]
	}
	var a1, a2, y []float64
	for i := range ns {
		if ns[i] == ns[i0] || xs[i] <= 0 {
			continue
		}
		a1 = append(a1, ns[i]-1)
		a2 = append(a2, ns[i]*(ns[i]-1))
		y = append(y, ns[i]*lambda/xs[i]-1)
	}
	sigma, kappa := 0.0, 0.0
	if len(y) >= 2 {
		A := mat.NewDense(len(y), 2, nil)
		for i := range y {
			A.Set(i, 0, a1[i])
			A.Set(i, 1, a2[i])
		}
		var b mat.VecDense
		if b.SolveVec(A, mat.NewVecDense(len(y), y)) == nil {
			sigma, kappa = b.AtVec(0), b.AtVec(1)
		}
	}
	switch {
	case sigma < 0 && kappa < 0:
		sigma, kappa = 0, 0
	case sigma < 0:
		sigma, kappa = 0, math.Max(0, dot(a2, y)/dot(a2, a2))
	case kappa < 0:
		sigma, kappa = math.Max(0, dot(a1, y)/dot(a1, a1)), 0
	}
	return [3]float64{lambda, sigma, kappa}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func uslSSE(ns, xs []float64, p [3]float64) float64 {
	f := USLFit{Lambda: p[0], Sigma: p[1], Kappa: p[2]}
	s := 0.0
	for i := range ns {
		r := xs[i] - f.Predict(ns[i])
		s += r * r
	}
	return s
}

// uslRefine is Levenberg–Marquardt (Marquardt's diagonal scaling, so λ and
// the small κ are stepped on their own scales) with each trial projected
// onto σ, κ ≥ 0, λ > 0.
func uslRefine(ns, xs []float64, p [3]float64) [3]float64 {
	sse := uslSSE(ns, xs, p)
	mu := 1e-3
	for iter := 0; iter < 500 && mu < 1e12; iter++ {
		var jtj [3][3]float64
		var jtr [3]float64
		for i, n := range ns {
			d := 1 + p[1]*(n-1) + p[2]*n*(n-1)
			fv := p[0] * n / d
			g := [3]float64{n / d, -fv * (n - 1) / d, -fv * n * (n - 1) / d}
			r := xs[i] - fv
			for a := 0; a < 3; a++ {
				jtr[a] += g[a] * r
				for b := 0; b < 3; b++ {
					jtj[a][b] += g[a] * g[b]
				}
			}
		}
		M := mat.NewDense(3, 3, nil)
		for a := 0; a < 3; a++ {
			for b := 0; b < 3; b++ {
				M.Set(a, b, jtj[a][b])
			}
			M.Set(a, a, jtj[a][a]*(1+mu)+1e-300)
		}
		var step mat.VecDense
		if step.SolveVec(M, mat.NewVecDense(3, jtr[:])) != nil {
			mu *= 10
			continue
		}
		q := [3]float64{p[0] + step.AtVec(0), math.Max(0, p[1]+step.AtVec(1)), math.Max(0, p[2]+step.AtVec(2))}
		if q[0] <= 0 {
			q[0] = p[0] / 2
		}
		qs := uslSSE(ns, xs, q)
		if qs < sse {
			improvement := (sse - qs) / math.Max(sse, 1e-300)
			p, sse = q, qs
			mu = math.Max(mu/10, 1e-12)
			if improvement < 1e-14 {
				break
			}
		} else {
			mu *= 10
		}
	}
	return p
}
