package twin

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/rs/zerolog"
	"gonum.org/v1/gonum/mat"

	"starlab/builtins/sim"
	"starlab/builtins/sweep"
	"starlab/runtime/jsonnum"
	"starlab/stats"
)

// Metrics are the point figures the fit matches, each on a log scale: how long the first token
// takes, how fast the rest stream, and how long a whole request takes. Throughput is not among
// them: completions inside a window are a count, which moves in whole requests as the parameters
// move and would give the fit a staircase to descend; a closed loop's throughput follows from
// the latencies anyway. Reported, the fit's points show throughput too.
var Metrics = []string{"mean_ttft_ms", "mean_tpot_ms", "mean_e2el_ms"}

// shown are the figures the fit's points report: the fitted ones and throughput.
var shown = append([]string{"request_throughput"}, Metrics...)

// With the requests of a point known, its mean TTFT is fitted as two figures: the mean over the
// requests with the shorter half of the prompts, and over the longer half. Their difference is
// what a prompt token costs; what they share is the step and the request overhead. The means
// alone cannot tell those apart, and they predict different things: overhead leaves a slot idle,
// prompt work stalls the other sequences' decodes.
const (
	ttftShort = "ttft_short_prompts_ms"
	ttftLong  = "ttft_long_prompts_ms"
)

// Request is one measured request: its lengths and time to first token.
type Request struct {
	InputTokens  int
	OutputTokens int
	TTFTMs       float64
}

// outcome is a point's figures: the point and, when known, its requests.
type outcome struct {
	point sweep.Point
	reqs  []Request
}

// figure is a named figure of the outcome; split is the prompt length that divides short from long.
func (o outcome) figure(name string, split int) float64 {
	if name != ttftShort && name != ttftLong {
		return metricOf(o.point, name)
	}
	var sum float64
	n := 0
	for _, r := range o.reqs {
		if (r.InputTokens <= split) == (name == ttftShort) {
			sum += r.TTFTMs
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Point is one measured load point to fit: the point and how it was measured. Replaying the same
// options (seed, key and dataset included) sends the twin exactly the requests the server got.
type Point struct {
	Sweep    string
	Index    int
	Options  sweep.Options
	Spec     sweep.PointSpec
	Measured sweep.Point
	// Requests are the successful requests of the measured window, when known (a SweepResult's
	// requests file); nil fits the point's mean TTFT instead of its two halves.
	Requests []Request
}

// Problem is a calibration to fit.
type Problem struct {
	// Base is the twin's simulator configuration (model, GPU, parallelism); Limits are the real
	// engine's scheduling limits. The step time is what the fit chooses.
	Base   sim.Config
	Limits sim.Limits
	Points []Point
	// Seed seeds the twin's simulator (the same for every trial parameter set: common random
	// numbers keep the objective smooth).
	Seed uint64
	// Level is the confidence of the parameters' intervals (default 0.95).
	Level float64
	// Fixed holds parameters (sim.LinearParams names) at a value instead of fitting them.
	Fixed map[string]float64
	// MinRelativeError floors each observation's relative standard error: the share of error
	// no measurement interval shows (a real server drifts; a model is a model). Default 0.03.
	MinRelativeError float64
	// MaxIterations bounds Levenberg–Marquardt (default 30).
	MaxIterations int
}

// Result is a fitted step-time model with its uncertainty and fit quality.
type Result struct {
	Step   sim.LinearCost
	StdErr map[string]float64
	CI     map[string][2]float64
	Fit    sim.FitQuality
	Range  sim.LoadRange
}

// observation is one (point, metric) the fit matches.
type observation struct {
	point  int
	metric string
	value  float64 // measured
	sigma  float64 // relative standard error (log scale)
	split  int     // prompt length dividing the TTFT halves
}

// Fit finds the step-time parameters whose twin best reproduces the measured points: weighted
// least squares on log(predicted/measured) of Metrics, each observation weighted by its relative
// standard error (from the point's interval, floored at MinRelativeError), by Levenberg–Marquardt
// on the logarithms of the parameters (which keeps them positive). Every trial replays every
// point on the twin in virtual time. Standard errors come from the Jacobian at the optimum,
// scaled by the residual variance when the model fits worse than the measurements' own noise.
func Fit(ctx context.Context, p Problem) (*Result, error) {
	if len(p.Points) == 0 {
		return nil, fmt.Errorf("no points to fit")
	}
	if p.Level == 0 {
		p.Level = 0.95
	}
	if p.MinRelativeError <= 0 {
		p.MinRelativeError = 0.03
	}
	if p.MaxIterations <= 0 {
		p.MaxIterations = 30
	}
	for name := range p.Fixed {
		if paramIndex(name) < 0 {
			return nil, fmt.Errorf("fixed: unknown parameter %q (want one of %v)", name, sim.LinearParams)
		}
	}
	obs, err := observations(p)
	if err != nil {
		return nil, err
	}
	for name, v := range p.Fixed {
		if !(v >= 0) {
			return nil, fmt.Errorf("fixed: %s must be >= 0, got %v", name, v)
		}
	}
	best, err := run(ctx, p, obs, p.Fixed)
	if err != nil {
		return nil, err
	}
	// A second start with no request overhead: against a closed loop whose client answers
	// instantly (the simulator's own), a new request that arrives exactly when a step ends joins
	// the next one, and any overhead at all makes it wait a whole step. That cliff sits at zero,
	// where a search in log space never arrives.
	var atZero []string
	if _, held := p.Fixed["request_overhead_ms"]; !held {
		zero := map[string]float64{"request_overhead_ms": 0}
		for k, v := range p.Fixed {
			zero[k] = v
		}
		alt, err := run(ctx, p, obs, zero)
		if err != nil {
			return nil, err
		}
		if alt.cost < best.cost {
			best, atZero = alt, []string{"request_overhead_ms"}
		}
	}
	f, u, r, preds, cost, iters := best.f, best.u, best.r, best.preds, best.cost, best.iters
	free := f.free
	theta := f.theta(u)
	res := &Result{Step: sim.LinearCost{}.WithValues(theta), StdErr: map[string]float64{}, CI: map[string][2]float64{}}

	// Uncertainty: the Jacobian in the parameters themselves at the optimum.
	J, err := f.jacobian(ctx, u, r)
	if err != nil {
		return nil, err
	}
	n, k := len(obs), len(free)
	scale := 1.0
	dof := float64(n - k)
	if dof > 0 {
		scale = math.Max(1, 2*cost/dof)
	}
	crit := stats.Z(p.Level)
	if dof > 0 {
		crit = stats.T(p.Level, dof)
	}
	cov, _ := covariance(J, u)
	for col, i := range free {
		name := sim.LinearParams[i]
		se := math.Sqrt(cov.At(col, col) * scale)
		if math.IsNaN(se) || math.IsInf(se, 0) || se > 10*theta[i] {
			res.Fit.Unidentified = append(res.Fit.Unidentified, name)
			continue
		}
		res.StdErr[name] = se
		res.CI[name] = [2]float64{math.Max(0, theta[i]-crit*se), theta[i] + crit*se}
	}
	for name := range p.Fixed {
		res.Fit.Fixed = append(res.Fit.Fixed, name)
	}
	sort.Strings(res.Fit.Fixed)
	res.Fit.AtZero = atZero
	res.Fit.Observations, res.Fit.Parameters, res.Fit.Iterations = n, k, iters
	r2, rmse, mape := quality(obs, preds)
	res.Fit.R2, res.Fit.RMSEPct, res.Fit.MAPEPct = jsonnum.Float(r2), rmse, mape
	res.Fit.Points = fitPoints(p, obs, preds)
	res.Range = loadRange(p)
	return res, nil
}

// fitRun is one Levenberg–Marquardt search's end.
type fitRun struct {
	f     *fitter
	u, r  []float64
	preds []outcome
	cost  float64
	iters int
}

// run searches from the measurements' initial guess with the parameters in held fixed.
func run(ctx context.Context, p Problem, obs []observation, held map[string]float64) (*fitRun, error) {
	theta := initialGuess(p)
	for name, v := range held {
		theta[paramIndex(name)] = v
	}
	var free []int
	for i, name := range sim.LinearParams {
		if _, ok := held[name]; !ok {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		return nil, fmt.Errorf("fixed holds every parameter: nothing to fit")
	}
	f := &fitter{p: p, obs: obs, free: free, base: theta, start: append([]float64(nil), theta...)}
	u := make([]float64, len(free))
	for k, i := range free {
		u[k] = math.Log(theta[i])
	}
	r, preds, err := f.residuals(ctx, u)
	if err != nil {
		return nil, err
	}
	cost := sumSq(r)
	lambda := 1e-2
	iters := 0
	for ; iters < p.MaxIterations; iters++ {
		J, err := f.jacobian(ctx, u, r)
		if err != nil {
			return nil, err
		}
		improved := false
		for lambda < 1e10 {
			step, ok := lmStep(J, r, lambda)
			if !ok {
				lambda *= 10
				continue
			}
			u2 := make([]float64, len(u))
			for k := range u {
				u2[k] = u[k] + math.Max(-2, math.Min(2, step[k]))
			}
			f.clamp(u2)
			r2, preds2, err := f.residuals(ctx, u2)
			if err != nil {
				return nil, err
			}
			if c2 := sumSq(r2); c2 < cost {
				rel := (cost - c2) / math.Max(cost, 1e-12)
				u, r, preds, cost = u2, r2, preds2, c2
				lambda = math.Max(lambda/3, 1e-7)
				improved = rel >= 1e-5 // else converged
				break
			}
			lambda *= 4
		}
		if !improved {
			iters++
			break
		}
	}
	return &fitRun{f: f, u: u, r: r, preds: preds, cost: cost, iters: iters}, nil
}

func paramIndex(name string) int {
	for i, n := range sim.LinearParams {
		if n == name {
			return i
		}
	}
	return -1
}

// observations are the measured figures the fit matches, with their relative errors.
func observations(p Problem) ([]observation, error) {
	z := stats.Z(p.Level)
	var obs []observation
	for i, pt := range p.Points {
		m := pt.Measured
		if m.Completed < 2 {
			return nil, fmt.Errorf("point %d of %s (%s) completed %d requests: too few to fit", pt.Index, pt.Sweep, pt.Spec, m.Completed)
		}
		halves, split := ttftHalves(pt.Requests)
		for _, name := range Metrics {
			if name == "mean_ttft_ms" && halves != nil {
				for _, h := range halves {
					obs = append(obs, observation{point: i, metric: h.name, value: h.mean, sigma: math.Max(p.MinRelativeError, h.rse), split: split})
				}
				continue
			}
			v := metricOf(m, name)
			if !(v > 0) || math.IsInf(v, 0) {
				continue // e.g. TPOT of one-token outputs
			}
			sigma := p.MinRelativeError
			if ci, ok := m.CI[name]; ok {
				lo, hi := float64(ci[0]), float64(ci[1])
				if lo > 0 && hi > lo {
					sigma = math.Max(sigma, (math.Log(hi)-math.Log(lo))/(2*z))
				}
			}
			obs = append(obs, observation{point: i, metric: name, value: v, sigma: sigma})
		}
	}
	if len(obs) == 0 {
		return nil, fmt.Errorf("the points have no latency to fit")
	}
	return obs, nil
}

type half struct {
	name      string
	mean, rse float64
}

// ttftHalves splits requests at the median prompt length into the mean TTFT of each side, with
// its relative standard error; nil when the prompts do not vary or there are too few requests.
func ttftHalves(reqs []Request) ([]half, int) {
	if len(reqs) < 20 {
		return nil, 0
	}
	lens := make([]int, len(reqs))
	for i, r := range reqs {
		lens[i] = r.InputTokens
	}
	sort.Ints(lens)
	split := lens[(len(lens)-1)/2]
	var out []half
	for _, name := range []string{ttftShort, ttftLong} {
		var xs []float64
		for _, r := range reqs {
			if (r.InputTokens <= split) == (name == ttftShort) {
				xs = append(xs, r.TTFTMs)
			}
		}
		if len(xs) < 5 {
			return nil, 0
		}
		mean, sd := stats.MeanSD(xs)
		if !(mean > 0) {
			return nil, 0
		}
		out = append(out, half{name: name, mean: mean, rse: sd / math.Sqrt(float64(len(xs))) / mean})
	}
	return out, split
}

func metricOf(p sweep.Point, name string) float64 {
	switch name {
	case "request_throughput":
		return float64(p.RequestThroughput)
	case "mean_ttft_ms":
		return float64(p.MeanTTFTMs)
	case "mean_tpot_ms":
		return float64(p.MeanTPOTMs)
	case "mean_e2el_ms":
		return float64(p.MeanE2ELMs)
	}
	return math.NaN()
}

// initialGuess reads a starting point off the measurements: TPOT against requests in flight
// gives the fixed step cost and the per-sequence slope, the lightest point's TTFT the prompt
// cost, and the context and request-overhead terms start at small shares of those.
func initialGuess(p Problem) []float64 {
	var xs, ys []float64
	light := p.Points[0]
	for _, pt := range p.Points {
		if t := float64(pt.Measured.MeanTPOTMs); t > 0 {
			xs = append(xs, inFlight(pt, p.Limits))
			ys = append(ys, t)
		}
		if inFlight(pt, p.Limits) < inFlight(light, p.Limits) {
			light = pt
		}
	}
	m := light.Measured
	tpot := float64(m.MeanTPOTMs)
	if !(tpot > 0) {
		tpot = 10
	}
	slope, icept := 0.1*tpot, 0.9*tpot
	if len(xs) >= 2 {
		s, c := linearFit(xs, ys)
		if s > 0 && c > 0 {
			slope, icept = s, c
		}
	}
	in, out := meanLengths(m)
	ttft := float64(m.MeanTTFTMs)
	if !(ttft > 0) {
		ttft = 2 * tpot
	}
	prefill := math.Max(0.5*(ttft-icept), 0.1*ttft) / math.Max(in, 1)
	overhead := 0.1 * ttft
	if len(light.Requests) >= 20 {
		// TTFT against prompt length: the slope is a prompt token, the rest overhead and a step.
		xs, ys := make([]float64, len(light.Requests)), make([]float64, len(light.Requests))
		for i, r := range light.Requests {
			xs[i], ys[i] = float64(r.InputTokens), r.TTFTMs
		}
		if s, _ := linearFit(xs, ys); s > 0 {
			prefill = s
		} else {
			prefill = 0.01 * ttft / math.Max(in, 1)
		}
		overhead = math.Max(ttft-icept-prefill*in, 0.1*ttft)
	}
	ctx := 0.02 * slope / math.Max(in+out/2, 1)
	return []float64{icept, prefill, slope, slope, ctx, overhead}
}

// inFlight is the requests a point kept at the engine: the closed loop's concurrency or, open
// loop, Little's law, at most the engine's sequences.
func inFlight(pt Point, l sim.Limits) float64 {
	m := pt.Measured
	n := float64(pt.Spec.Concurrency)
	if n == 0 {
		n = float64(m.RequestThroughput) * float64(m.MeanE2ELMs) / 1000
	}
	if m.ServerMetrics != nil && m.ServerMetrics.MaxRunning > 0 && pt.Spec.Concurrency == 0 {
		n = float64(m.ServerMetrics.MaxRunning)
	}
	if l.MaxNumSeqs > 0 {
		n = math.Min(n, float64(l.MaxNumSeqs))
	}
	return n
}

func meanLengths(m sweep.Point) (in, out float64) {
	if m.Completed == 0 {
		return 0, 0
	}
	return float64(m.TotalInputTokens) / float64(m.Completed), float64(m.TotalOutputTokens) / float64(m.Completed)
}

func linearFit(xs, ys []float64) (slope, icept float64) {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return 0, my
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

// fitter evaluates trial parameters on the twin.
type fitter struct {
	p     Problem
	obs   []observation
	free  []int
	base  []float64 // fixed parameters' values (and the free ones' starting values)
	start []float64 // the starting values, which bound the free ones
}

func (f *fitter) theta(u []float64) []float64 {
	t := append([]float64(nil), f.base...)
	for k, i := range f.free {
		t[i] = math.Exp(u[k])
	}
	return t
}

// clamp keeps every free parameter within [1e-4, 1e4] times its starting value: a parameter
// that runs to zero in log space has no gradient left to come back with.
func (f *fitter) clamp(u []float64) {
	for k, i := range f.free {
		lo, hi := math.Log(f.start[i]*1e-4), math.Log(f.start[i]*1e4)
		u[k] = math.Max(lo, math.Min(hi, u[k]))
	}
}

// Predict replays every point of p on a twin with step cost step and returns the twin's points.
func Predict(ctx context.Context, p Problem, step sim.LinearCost) ([]sweep.Point, error) {
	outs, err := predict(ctx, p, step)
	if err != nil {
		return nil, err
	}
	pts := make([]sweep.Point, len(outs))
	for i, o := range outs {
		pts[i] = o.point
	}
	return pts, nil
}

func predict(ctx context.Context, p Problem, step sim.LinearCost) ([]outcome, error) {
	out := make([]outcome, len(p.Points))
	for i, pt := range p.Points {
		cfg := p.Base
		cfg.Calibration = &sim.Calibration{Step: step, Limits: p.Limits}
		vs, err := sim.NewVirtual(cfg, p.Seed+uint64(i))
		if err != nil {
			return nil, err
		}
		o := pt.Options
		o.Logger = zerolog.Nop()
		o.Progress = sweep.ProgressOptions{Disable: true}
		o.GPU = nil
		var reqs []Request
		if pt.Requests != nil {
			o.OnRecord = func(_ sweep.PointSpec, r *sweep.RequestRecord) {
				if !r.Warmup && r.OK() {
					reqs = append(reqs, Request{InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, TTFTMs: float64(r.TTFT()) / 1e6})
				}
			}
		} else {
			o.OnRecord = nil
		}
		pred, err := sweep.RunVirtualPoint(ctx, vs, o, pt.Spec)
		if err != nil {
			return nil, err
		}
		out[i] = outcome{point: pred, reqs: reqs}
	}
	return out, nil
}

// residuals are (log predicted − log measured)/σ for every observation.
func (f *fitter) residuals(ctx context.Context, u []float64) ([]float64, []outcome, error) {
	preds, err := predict(ctx, f.p, sim.LinearCost{}.WithValues(f.theta(u)))
	if err != nil {
		return nil, nil, err
	}
	r := make([]float64, len(f.obs))
	for j, o := range f.obs {
		v := preds[o.point].figure(o.metric, o.split)
		if !(v > 0) || math.IsInf(v, 0) {
			r[j] = 10 / o.sigma // the twin lost this figure entirely: far off
			continue
		}
		r[j] = (math.Log(v) - math.Log(o.value)) / o.sigma
	}
	return r, preds, nil
}

// jacobian is ∂r/∂u by forward differences of 2% in each parameter.
func (f *fitter) jacobian(ctx context.Context, u, r0 []float64) (*mat.Dense, error) {
	const h = 0.02
	J := mat.NewDense(len(r0), len(u), nil)
	for k := range u {
		u2 := append([]float64(nil), u...)
		u2[k] += h
		r, _, err := f.residuals(ctx, u2)
		if err != nil {
			return nil, err
		}
		for j := range r {
			J.Set(j, k, (r[j]-r0[j])/h)
		}
	}
	return J, nil
}

// lmStep solves (JᵀJ + λ·diag(JᵀJ)) δ = −Jᵀr.
func lmStep(J *mat.Dense, r []float64, lambda float64) ([]float64, bool) {
	_, k := J.Dims()
	var A mat.Dense
	A.Mul(J.T(), J)
	for i := 0; i < k; i++ {
		d := A.At(i, i)
		A.Set(i, i, d+lambda*math.Max(d, 1e-9))
	}
	var g mat.VecDense
	g.MulVec(J.T(), mat.NewVecDense(len(r), r))
	g.ScaleVec(-1, &g)
	var x mat.VecDense
	if err := x.SolveVec(&A, &g); err != nil {
		return nil, false
	}
	out := make([]float64, k)
	for i := range out {
		out[i] = x.AtVec(i)
		if math.IsNaN(out[i]) || math.IsInf(out[i], 0) {
			return nil, false
		}
	}
	return out, true
}

// covariance is (J_θᵀ J_θ)⁻¹ with J_θ = J_u / θ (the chain rule through u = log θ), by SVD: a
// direction the data cannot see (a tiny singular value) gives the parameters in it infinite
// variance instead of a garbage inverse. rank counts the directions the data sees.
func covariance(J *mat.Dense, u []float64) (*mat.Dense, int) {
	n, k := J.Dims()
	Jt := mat.NewDense(n, k, nil)
	for j := 0; j < n; j++ {
		for c := 0; c < k; c++ {
			Jt.Set(j, c, J.At(j, c)/math.Exp(u[c]))
		}
	}
	cov := mat.NewDense(k, k, nil)
	var svd mat.SVD
	if !svd.Factorize(Jt, mat.SVDFull) {
		for i := 0; i < k; i++ {
			cov.Set(i, i, math.Inf(1))
		}
		return cov, 0
	}
	s := svd.Values(nil)
	var v mat.Dense
	svd.VTo(&v)
	seen := func(i int) bool { return i < len(s) && s[0] > 0 && s[i] > s[0]*1e-8 }
	rank := 0
	for i := 0; i < k; i++ {
		if seen(i) {
			rank++
		}
	}
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			var sum float64
			for i := 0; i < k; i++ {
				if seen(i) {
					sum += v.At(a, i) * v.At(b, i) / (s[i] * s[i])
				}
			}
			cov.Set(a, b, sum)
		}
	}
	for a := 0; a < k; a++ {
		var hidden float64
		for i := 0; i < k; i++ {
			if !seen(i) {
				hidden += v.At(a, i) * v.At(a, i)
			}
		}
		if hidden > 1e-3 {
			cov.Set(a, a, math.Inf(1))
		}
	}
	return cov, rank
}

func sumSq(r []float64) float64 {
	var s float64
	for _, x := range r {
		s += x * x
	}
	return s / 2
}

// quality is R² of the log-scale observations (about each metric's own mean; NaN when they vary
// no more than their noise) and the RMS and mean absolute relative errors of the predictions, in
// percent.
func quality(obs []observation, preds []outcome) (r2, rmse, mape float64) {
	means := map[string]float64{}
	counts := map[string]int{}
	for _, o := range obs {
		means[o.metric] += math.Log(o.value)
		counts[o.metric]++
	}
	for m := range means {
		means[m] /= float64(counts[m])
	}
	var ssRes, ssTot, noise, sq, abs float64
	for _, o := range obs {
		noise += o.sigma * o.sigma
		pv := preds[o.point].figure(o.metric, o.split)
		lv := math.Log(o.value)
		d := math.Log(math.Max(pv, 1e-12)) - lv
		ssRes += d * d
		ssTot += (lv - means[o.metric]) * (lv - means[o.metric])
		rel := (pv - o.value) / o.value
		sq += rel * rel
		abs += math.Abs(rel)
	}
	n := float64(len(obs))
	// R² explains variation; when the figures vary between the points no more than their own
	// noise, there is none to explain and R² is undefined.
	r2 = math.NaN()
	if ssTot > noise {
		r2 = 1 - ssRes/ssTot
	}
	return r2, 100 * math.Sqrt(sq/n), 100 * abs / n
}

func fitPoints(p Problem, obs []observation, preds []outcome) []sim.FitPoint {
	out := make([]sim.FitPoint, len(p.Points))
	for i, pt := range p.Points {
		fp := sim.FitPoint{Sweep: pt.Sweep, Index: pt.Index, Load: pt.Spec.String(), Concurrency: pt.Spec.Concurrency,
			RequestRate: pt.Spec.Rate, Measured: map[string]float64{}, Predicted: map[string]float64{}, ErrorPct: map[string]float64{}}
		set := func(name string, mv, pv float64) {
			if !(mv > 0) || math.IsInf(mv, 0) || math.IsNaN(pv) || math.IsInf(pv, 0) {
				return
			}
			fp.Measured[name], fp.Predicted[name], fp.ErrorPct[name] = mv, pv, 100*(pv-mv)/mv
		}
		for _, name := range shown {
			set(name, metricOf(pt.Measured, name), metricOf(preds[i].point, name))
		}
		for _, o := range obs {
			if o.point == i && (o.metric == ttftShort || o.metric == ttftLong) {
				set(o.metric, o.value, preds[i].figure(o.metric, o.split))
			}
		}
		out[i] = fp
	}
	return out
}

// loadRange is the operating range of the points: requests at the engine, throughput, and the
// requests' lengths (each request's when the requests are known, else the points' means).
func loadRange(p Problem) sim.LoadRange {
	var r sim.LoadRange
	first := true
	for i, pt := range p.Points {
		running := math.Ceil(inFlight(pt, p.Limits) - 1e-9)
		x := float64(pt.Measured.RequestThroughput)
		if i == 0 {
			r.Running = [2]float64{running, running}
			r.RequestThroughput = [2]float64{x, x}
		} else {
			widen(&r.Running, running)
			widen(&r.RequestThroughput, x)
		}
		lengths := [][2]float64{}
		for _, q := range pt.Requests {
			lengths = append(lengths, [2]float64{float64(q.InputTokens), float64(q.OutputTokens)})
		}
		if len(lengths) == 0 {
			in, out := meanLengths(pt.Measured)
			lengths = append(lengths, [2]float64{in, out})
		}
		for _, l := range lengths {
			if first {
				r.InputTokens, r.OutputTokens = [2]float64{l[0], l[0]}, [2]float64{l[1], l[1]}
				first = false
				continue
			}
			widen(&r.InputTokens, l[0])
			widen(&r.OutputTokens, l[1])
		}
	}
	return r
}

func widen(r *[2]float64, v float64) {
	r[0] = math.Min(r[0], v)
	r[1] = math.Max(r[1], v)
}
