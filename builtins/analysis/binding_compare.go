package analysis

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
	"starlab/stats"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "compare",
		Signature: `compare(a, b, metric, at=None, resolve=None)`,
		Doc: `Compares metric between two runs: B against A, with intervals, a p-value and a power hint.

a and b are SweepResults (or lists of points, or single point dicts); at picks the point at that
request_rate (or max_concurrency, for a closed loop) in each, and may be left out when each has
one point. difference = b − a and ratio = b / a, each with an interval at the run's confidence
(difference_ci, ratio_ci), p_value (two-sided, "no difference"), effect_size and effect (its
name), and .method saying how:
  - a latency statistic ({mean,median,p90,p99}_{ttft,tpot,e2el}_ms) of two sweeps of this run:
    a seeded bootstrap over the points' requests (from sweeps/<name>.requests.jsonl, all repeats),
    p-value from Welch's t test (mean), Mann–Whitney (median) or the bootstrap (tails); n_a, n_b
    are the requests;
  - otherwise points with >= 2 repeats each: Welch's t test across repeats; n_a, n_b the repeats;
  - otherwise the points' own intervals (ci), normal approximation; n_a, n_b the completed
    requests (0 when unknown).
requests_needed is the power hint. Intervals narrow as 1/√n: with n requests per side and a
ratio interval of half-width hw, the observed ratio's interval excludes 1 at about
n·(hw/|ratio − 1|)² requests per side; resolve = d asks instead about a ratio of 1 ± d measured
with the same relative precision, n·(hw/ratio · (1 ± d)/d)². requests_needed is how many more
requests per side that is (0 when already resolved, None when it cannot be said). d.ratio and
d.difference carry their intervals into expect(), e.g. expect(d.ratio, "<", 1). Returns Comparison(.a .b
.difference .difference_ci .ratio .ratio_ci .p_value .method .effect_size .effect .n_a .n_b
.requests_needed .resolve .level .metric .at).`,
		Fn: compareFn,
	})
}

func compareFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var av, bv starlark.Value
	var metric string
	var at, resolve runtime.Opt[float64]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "a", &av, "b", &bv, "metric", &metric, "at?", &at,
		"resolve?", &resolve); err != nil {
		return nil, err
	}
	if resolve.Set && !(resolve.V > 0) {
		return nil, paramerr.New("resolve", "want a relative difference above 0 (0.1 = 10%%), got %v", resolve.V)
	}
	r := runtime.FromThread(thread)
	sides := [2]ComparedPoint{}
	names := [2]string{}
	for i, v := range []starlark.Value{av, bv} {
		param := []string{"a", "b"}[i]
		side, name, err := comparedPoint(r, param, v, at)
		if err != nil {
			return nil, err
		}
		sides[i], names[i] = side, name
	}
	seed := r.DeriveSeed("compare/" + sides[0].Label + "/" + sides[1].Label + "/" + metric)
	c, err := Compare(sides[0], sides[1], metric, r.Level(), seed, resolve.Or(math.NaN()))
	if err != nil {
		return nil, paramerr.Wrap("metric", err)
	}
	if at.Set {
		c.At = at.V
	}
	what := fmt.Sprintf("%s of %s vs %s", metric, names[1], names[0])
	if !c.RatioCI.Unknown() {
		r.NoteEstimate("ratio "+what, c.Ratio, c.RatioCI.Lo, c.RatioCI.Hi)
	}
	if !c.DifferenceCI.Unknown() {
		r.NoteEstimate("difference "+what, c.Difference, c.DifferenceCI.Lo, c.DifferenceCI.Hi)
	}
	FindingsOf(r).addComparison(NamedComparison{A: sides[0].Label, B: sides[1].Label, Comparison: c})
	return comparisonValue(c), nil
}

// comparedPoint reads one side: the point at `at` (or the only one), its repeats and, for a
// sweep of this run, its requests.
func comparedPoint(r *runtime.Run, param string, v starlark.Value, at runtime.Opt[float64]) (ComparedPoint, string, error) {
	var t Table
	if d, ok := v.(*starlark.Dict); ok {
		if err := t.Unpack(starlark.NewList([]starlark.Value{d})); err != nil {
			return ComparedPoint{}, "", paramerr.Wrap(param, err)
		}
	} else if err := t.Unpack(v); err != nil {
		return ComparedPoint{}, "", paramerr.Wrap(param, err)
	}
	i, err := pickPoint(param, t, at)
	if err != nil {
		return ComparedPoint{}, "", err
	}
	p := t.Points[i]
	load := loadLabel(p)
	cp := ComparedPoint{Point: p}
	name := param
	switch {
	case t.Name != "":
		cp.Label = fmt.Sprintf("sweep %q point %d (%s)", t.Name, i, load)
		name = fmt.Sprintf("%q", t.Name)
	case len(t.Points) > 1:
		cp.Label = fmt.Sprintf("%s point %d (%s)", param, i, load)
	default:
		cp.Label = fmt.Sprintf("%s (%s)", param, load)
	}
	if reps, ok := t.Rows[i]["repeats"].([]any); ok && len(reps) > 0 {
		var rows []map[string]any
		for _, x := range reps {
			if m, ok := x.(map[string]any); ok {
				rows = append(rows, m)
			}
		}
		if cp.Repeats, err = PointsFromMaps(rows); err != nil {
			return ComparedPoint{}, "", paramerr.New(param, "repeats of %s: %v", cp.Label, err)
		}
	}
	if t.Name != "" {
		path, rel := requestsFile(r, t.Name)
		s, err := ReadSamples(path, samplesLoad(i, p))
		if err != nil {
			// The run directory's own path stays out of the method, so reports do not depend on it.
			cp.NoSamples = strings.ReplaceAll(err.Error(), path, rel)
		} else {
			cp.Samples = &s
		}
	}
	return cp, name, nil
}

// pickPoint is the index of the point at `at` (a request_rate, or a closed loop's
// max_concurrency), or of the only point when at is None.
func pickPoint(param string, t Table, at runtime.Opt[float64]) (int, error) {
	if len(t.Points) == 0 {
		return 0, paramerr.New(param, "has no points")
	}
	var loads []string
	var hits []int
	for i, p := range t.Points {
		loads = append(loads, loadLabel(p))
		if at.Set && pointIsAt(p, at.V) {
			hits = append(hits, i)
		}
	}
	switch {
	case !at.Set && len(t.Points) == 1:
		return 0, nil
	case !at.Set:
		return 0, paramerr.New("at", "%s has %d points (%s): give at= to pick one (a request_rate, or max_concurrency for a closed loop)",
			param, len(t.Points), strings.Join(loads, ", "))
	case len(hits) == 0:
		return 0, paramerr.New("at", "%s has no point at %s (it has %s)", param, num(at.V), strings.Join(loads, ", "))
	case len(hits) > 1:
		return 0, paramerr.New("at", "%s has %d points at %s (points %v): compare lists of one point instead", param, len(hits), num(at.V), hits)
	}
	return hits[0], nil
}

func closedLoop(p LoadPoint) bool { return math.IsInf(p.RequestRate, 1) }

func pointIsAt(p LoadPoint, at float64) bool {
	x, ok := p.Field("request_rate")
	if !ok {
		return false
	}
	if closedLoop(p) {
		x, ok = p.Field("max_concurrency")
		if !ok {
			return false
		}
	}
	return math.Abs(x-at) <= 1e-9*math.Max(1, math.Abs(at))
}

func samplesLoad(i int, p LoadPoint) SampleLoad {
	return SampleLoad{Point: i, Rate: p.RequestRate, Concurrency: int(p.MaxConcurrency)}
}

// requestsFile is the sweep's requests file, and its name relative to the run directory. A
// replay measures nothing: the requests are in the directory of the run it replays (its
// manifest's replay_of).
func requestsFile(r *runtime.Run, sweep string) (path, rel string) {
	rel = filepath.Join("sweeps", sweep+".requests.jsonl")
	if r.Mode == runtime.Replay {
		if m, err := runtime.LoadManifest(filepath.Join(r.Dir, "manifest.json")); err == nil {
			if src, ok := m.Get("replay_of"); ok {
				if dir, ok := src.(string); ok && dir != "" {
					return filepath.Join(dir, rel), rel
				}
			}
		}
	}
	return filepath.Join(r.Dir, rel), rel
}

func comparisonValue(c Comparison) *runtime.Object {
	at := starlark.Value(starlark.None)
	if !math.IsNaN(c.At) {
		at = starlark.Float(c.At)
	}
	reqs := starlark.Value(starlark.None)
	if !math.IsNaN(c.RequestsNeeded) {
		reqs = starlark.MakeInt64(int64(c.RequestsNeeded))
	}
	return runtime.NewObject("Comparison", starlark.StringDict{
		"a": optFloat(c.A), "b": optFloat(c.B),
		"difference": optFloat(c.Difference), "difference_ci": ciTuple(c.DifferenceCI),
		"ratio": optFloat(c.Ratio), "ratio_ci": ciTuple(c.RatioCI),
		"p_value": optFloat(c.PValue), "method": starlark.String(c.Method),
		"effect_size": optFloat(c.EffectSize), "effect": starlark.String(c.EffectName),
		"n_a": starlark.MakeInt(c.NA), "n_b": starlark.MakeInt(c.NB),
		"requests_needed": reqs, "resolve": optFloat(c.Resolve),
		"level": starlark.Float(c.Level), "metric": starlark.String(c.Metric), "at": at,
	}).WithString(func() string {
		return fmt.Sprintf("<Comparison %s: ratio %s %s, p=%s (%s)>", c.Metric, num(c.Ratio), ciText(c.RatioCI), num(c.PValue), c.Method)
	})
}

func ciText(ci stats.Interval) string {
	if ci.Unknown() {
		return "(no interval)"
	}
	return "[" + num(ci.Lo) + ", " + num(ci.Hi) + "]"
}
