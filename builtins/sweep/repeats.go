package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"starlab/builtins/gpu"
	"starlab/builtins/sweep/pointschema"
	"starlab/stats"
)

// visit is one measurement of a sweep with repeats: a load (its position in the call's list) and
// the repeat it is.
type visit struct{ load, repeat int }

// repeatOrder is the order a sweep measures loads loads repeats times: repeats rounds, each a
// permutation of every load drawn from the sweep's seed and key (a randomized block design). Drift
// over the run (a warming GPU, filling caches) then falls on every load alike instead of on the
// loads measured last, where it would pose as an effect of the load.
func repeatOrder(seed uint64, key string, loads, repeats int) []visit {
	rng := NewRand(seed, key+"/repeat-order")
	order := make([]visit, 0, loads*repeats)
	for k := range repeats {
		for _, i := range rng.Perm(loads) {
			order = append(order, visit{load: i, repeat: k})
		}
	}
	return order
}

// repeatKey is the key of one repeat's point: its step key, arrivals, simulator and bootstrap
// derive from it, so every repeat is an independent draw and --resume knows each by itself.
func repeatKey(key string, repeat int) string { return fmt.Sprintf("%s, repeat=%d", key, repeat) }

// runRepeats measures every (load, repeat) in repeatOrder's order and keeps res.Points as one
// point per load aggregated over its repeats so far (aggregateRepeats), in the loads' order,
// written after every repeat so that a killed run leaves what it measured.
func (c *Config) runRepeats(ctx context.Context, runPoint pointFunc, specs []PointSpec, res *Result) (*Result, error) {
	o := c.Options
	prev := len(res.Points)
	reps := make([][]Point, len(specs))
	publish := func() {
		res.Points = res.Points[:prev]
		for _, r := range reps {
			if len(r) > 0 {
				res.Points = append(res.Points, aggregateRepeats(r, o.level()))
			}
		}
	}
	for _, v := range repeatOrder(o.Seed, o.Key, len(specs), c.Repeats) {
		s := specs[v.load]
		ro := c.repeatOptions(v.repeat)
		p, err := runPoint(ctx, ro, s)
		var partial *PartialError
		if err != nil && ctx.Err() == nil && !errors.As(err, &partial) {
			return res, err
		}
		p.Repeat = v.repeat
		reps[v.load] = append(reps[v.load], p)
		publish()
		if werr := c.persist(res.Points); werr != nil {
			return res, werr
		}
		if err != nil {
			return res, err
		}
		o.Logger.Info().Str("point", s.String()).Int("repeat", v.repeat).Int("completed", p.Completed).
			Int("failed", p.Failed).Float64("request_throughput", float64(p.RequestThroughput)).
			Float64("median_ttft_ms", float64(p.MedianTTFTMs)).Bool("stopped_early", p.StoppedEarly).Msg("sweep: repeat done")
	}
	return res, nil
}

// repeatOptions are the options of one repeat's points: the repeat's key, and records that go
// to the requests file marked with the repeat.
func (c *Config) repeatOptions(repeat int) Options {
	o := c.Options
	if c.Repeats > 1 {
		o.Key = repeatKey(o.Key, repeat)
	}
	if c.Writer != nil {
		w, user := c.Writer, o.OnRecord
		o.OnRecord = func(s PointSpec, r *RequestRecord) {
			w.WriteRecord(s, repeat, r)
			if user != nil {
				user(s, r)
			}
		}
	}
	return o
}

// aggregateRepeats is one load's point over its repeats (in repeat order; at least one):
//
//   - counts are sums, so that ratios of counts (tokens per request) stay right: every int
//     field but max_concurrency, errors by reason, server_metrics.preemptions and GPU energy
//     (joules_per_output_token is then the pooled energy over the pooled tokens); duration is
//     the sum of the windows too, so completed / duration is the pooled rate;
//   - maxima (max_*, send_lag_max_ms) are the largest of the repeats';
//   - every other number (throughputs, latencies, delivered, send rates, power, utilisation)
//     is the mean of the repeats that have it (null in a repeat is left out), so the point
//     reads like a single repeat;
//   - ci: with two or more repeats, the Student t interval of each figure's mean across them
//     (stats.MeanInterval at the point's confidence), which also holds the drift and server
//     state that differ between repeats and that one window's own interval cannot see; with one
//     repeat so far, that repeat's interval;
//   - stopped_early if any repeat stopped early; texts that differ name their repeat
//     ("repeat 1: saturated ..."); steady_state is ok only if every repeat's is, and its detail
//     names the repeats that were not; checks are every repeat's, each naming its repeat;
//   - repeats holds each repeat's own point.
func aggregateRepeats(reps []Point, level float64) Point {
	var p Point
	srcs := make([]reflect.Value, len(reps))
	for i := range reps {
		srcs[i] = reflect.ValueOf(&reps[i]).Elem()
	}
	combine(reflect.ValueOf(&p).Elem(), srcs, "")
	if reps[0].Confidence > 0 {
		level = float64(reps[0].Confidence)
	}
	p.Confidence = Float(level)
	p.Duration = 0
	for _, r := range reps {
		p.Duration += r.Duration
	}
	p.Repeat = 0
	p.Repeats = append([]Point(nil), reps...)
	p.GPU = combineGPU(reps)
	p.Client.Workers = nil // per process and per measurement: each repeat's own are in repeats
	p.SteadyState = combineSteadyState(reps)
	p.Checks = nil
	for _, r := range reps {
		for _, c := range r.Checks {
			c.Detail = fmt.Sprintf("repeat %d: %s", r.Repeat, c.Detail)
			p.Checks = append(p.Checks, c)
		}
	}
	p.CI = repeatIntervals(&p, reps, level)
	return p
}

// repeatIntervals are the aggregate's intervals: for every figure that has one in some repeat,
// the t interval of the repeats' values (which the aggregate's mean lies in, bit for bit the
// same mean), or the lone repeat's own interval when fewer than two repeats give the figure.
func repeatIntervals(p *Point, reps []Point, level float64) map[string][2]Float {
	out := map[string][2]Float{}
	for _, r := range reps {
		for field := range r.CI {
			if _, done := out[field]; done {
				continue
			}
			v, ok := pointFigure(p, field)
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			var vals []float64
			var own [2]Float
			var owned bool
			for _, q := range reps {
				if x, _ := pointFigure(&q, field); !math.IsNaN(x) && !math.IsInf(x, 0) {
					vals = append(vals, x)
					own, owned = q.CI[field]
				}
			}
			if len(vals) < 2 {
				if owned {
					out[field] = own
				}
				continue
			}
			_, ci := stats.MeanInterval(vals, level)
			if !ci.Unknown() {
				out[field] = [2]Float{Float(math.Min(ci.Lo, v)), Float(math.Max(ci.Hi, v))}
			}
		}
	}
	return out
}

// combineSteadyState is ok only if every repeat that was checked is; the detail lists the
// repeats that were not, and the halves are the repeats' means.
func combineSteadyState(reps []Point) *pointschema.SteadyState {
	srcs := make([]reflect.Value, len(reps))
	var found bool
	for i := range reps {
		if reps[i].SteadyState != nil {
			srcs[i], found = reflect.ValueOf(reps[i].SteadyState).Elem(), true
		}
	}
	if !found {
		return nil
	}
	s := &pointschema.SteadyState{}
	combine(reflect.ValueOf(s).Elem(), srcs, "")
	s.OK = true
	var failed []string
	for _, r := range reps {
		if r.SteadyState != nil && !r.SteadyState.OK {
			s.OK = false
			failed = append(failed, fmt.Sprintf("repeat %d: %s", r.Repeat, r.SteadyState.Detail))
		}
	}
	if !s.OK {
		s.Detail = strings.Join(failed, "; ")
	}
	return s
}

// combineGPU aggregates the repeats' GPU summaries by the same rules: energy and tokens add up
// (J/token is their ratio), power and utilisation are means, maxima are maxima, and the window
// runs from the first repeat's start to the last one's end. Null when no repeat sampled the GPUs.
func combineGPU(reps []Point) json.RawMessage {
	ts := make([]gpu.PointTelemetry, len(reps))
	srcs := make([]reflect.Value, len(reps))
	var found bool
	for i, r := range reps {
		if len(r.GPU) == 0 || string(r.GPU) == "null" || json.Unmarshal(r.GPU, &ts[i]) != nil {
			continue
		}
		srcs[i], found = reflect.ValueOf(&ts[i]).Elem(), true
	}
	if !found {
		return nil
	}
	var t gpu.PointTelemetry
	combine(reflect.ValueOf(&t).Elem(), srcs, "")
	t.JoulesPerOutputToken = gpu.JoulesPerToken(t.EnergyJ, t.OutputTokens)
	raw, err := json.Marshal(t)
	if err != nil {
		return nil
	}
	return raw
}

// How a field combines over repeats, by its JSON name (see aggregateRepeats).
type combineOp int

const (
	opMean combineOp = iota
	opSum
	opMax
	opFirst
)

// identityFields name a thing rather than measure it: every repeat has the same value.
var identityFields = map[string]bool{"max_concurrency": true, "index": true, "memory_total_bytes": true, "confidence": true,
	"clients": true}

// extensiveFloats are float fields that count (the sum over repeats is the whole run's).
var extensiveFloats = map[string]bool{"preemptions": true, "energy_j": true}

func opOf(name string, k reflect.Kind) combineOp {
	switch {
	case identityFields[name]:
		return opFirst
	case strings.HasPrefix(name, "max_") || strings.Contains(name, "_max_"):
		return opMax
	case k == reflect.Float32 || k == reflect.Float64:
		if extensiveFloats[name] {
			return opSum
		}
		return opMean
	}
	return opSum // ints are counts
}

var timeType = reflect.TypeFor[time.Time]()

// combine sets dst, a field named name, from srcs: the same field of each repeat, in repeat
// order; an invalid Value is a repeat that lacks it (a nil pointer above it).
func combine(dst reflect.Value, srcs []reflect.Value, name string) {
	var have []reflect.Value
	var at []int // each of have's repeat
	for i, s := range srcs {
		if s.IsValid() {
			have, at = append(have, s), append(at, i)
		}
	}
	if len(have) == 0 {
		return
	}
	t := dst.Type()
	switch {
	case t == timeType:
		best := have[0].Interface().(time.Time)
		for _, s := range have[1:] {
			v := s.Interface().(time.Time)
			if (name == "end" && v.After(best)) || (name != "end" && v.Before(best)) {
				best = v
			}
		}
		dst.Set(reflect.ValueOf(best))
		return
	case t == reflect.TypeFor[json.RawMessage]():
		dst.Set(have[0])
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fname, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			sub := make([]reflect.Value, len(srcs))
			for j, s := range srcs {
				if s.IsValid() {
					sub[j] = s.Field(i)
				}
			}
			combine(dst.Field(i), sub, fname)
		}
	case reflect.Pointer:
		sub := make([]reflect.Value, len(srcs))
		var nils bool
		for j, s := range srcs {
			if s.IsValid() && !s.IsNil() {
				sub[j] = s.Elem()
			} else if s.IsValid() {
				nils = true
			}
		}
		// A sum missing a repeat's part would understate the whole: unknown instead.
		if nils && t.Elem().Kind() != reflect.Struct && opOf(name, t.Elem().Kind()) == opSum {
			return
		}
		v := reflect.New(t.Elem())
		combine(v.Elem(), sub, name)
		for _, s := range sub {
			if s.IsValid() {
				dst.Set(v)
				return
			}
		}
	case reflect.Float32, reflect.Float64:
		dst.SetFloat(combineFloats(have, opOf(name, t.Kind())))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		dst.SetInt(foldInts(have, reflect.Value.Int, opOf(name, t.Kind())))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		dst.SetUint(foldInts(have, reflect.Value.Uint, opOf(name, t.Kind())))
	case reflect.Bool:
		for _, s := range have {
			if s.Bool() {
				dst.SetBool(true)
			}
		}
	case reflect.String:
		dst.SetString(combineStrings(have, at))
	case reflect.Map: // errors: reason -> count
		var m reflect.Value
		for _, s := range have {
			if s.IsNil() {
				continue
			}
			if !m.IsValid() {
				m = reflect.MakeMap(t)
			}
			for it := s.MapRange(); it.Next(); {
				old := m.MapIndex(it.Key())
				if old.IsValid() && old.CanInt() {
					m.SetMapIndex(it.Key(), reflect.ValueOf(old.Int()+it.Value().Int()).Convert(t.Elem()))
				} else {
					m.SetMapIndex(it.Key(), it.Value())
				}
			}
		}
		if m.IsValid() {
			dst.Set(m)
		}
	case reflect.Array: // halves: element by element
		for i := range t.Len() {
			sub := make([]reflect.Value, len(srcs))
			for j, s := range srcs {
				if s.IsValid() {
					sub[j] = s.Index(i)
				}
			}
			combine(dst.Index(i), sub, name)
		}
	case reflect.Slice:
		combineSlice(dst, srcs, name)
	}
}

// combineSlice merges lists: strings as their union in first-seen order, anything else (GPU
// devices) element by element, each repeat's i-th element with the others' i-th.
func combineSlice(dst reflect.Value, srcs []reflect.Value, name string) {
	t := dst.Type()
	n := 0
	for _, s := range srcs {
		if s.IsValid() && !s.IsNil() {
			n = max(n, s.Len())
		}
	}
	if n == 0 {
		return
	}
	if t.Elem().Kind() == reflect.String {
		seen := map[string]bool{}
		out := reflect.MakeSlice(t, 0, n)
		for _, s := range srcs {
			if !s.IsValid() {
				continue
			}
			for i := range s.Len() {
				if v := s.Index(i).String(); !seen[v] {
					seen[v] = true
					out = reflect.Append(out, s.Index(i))
				}
			}
		}
		dst.Set(out)
		return
	}
	out := reflect.MakeSlice(t, n, n)
	for i := range n {
		sub := make([]reflect.Value, len(srcs))
		for j, s := range srcs {
			if s.IsValid() && i < s.Len() {
				sub[j] = s.Index(i)
			}
		}
		combine(out.Index(i), sub, name)
	}
	dst.Set(out)
}

// combineFloats is the sum, maximum or mean of the values, leaving NaN (null: unknown) out of a
// mean and a maximum; a sum with an unknown part is unknown.
func combineFloats(have []reflect.Value, op combineOp) float64 {
	if op == opFirst {
		return have[0].Float()
	}
	var known []float64
	for _, s := range have {
		if x := s.Float(); !math.IsNaN(x) {
			known = append(known, x)
		} else if op == opSum {
			return math.NaN()
		}
	}
	if len(known) == 0 {
		return math.NaN()
	}
	switch op {
	case opSum:
		var sum float64
		for _, x := range known {
			sum += x
		}
		return sum
	case opMax:
		x := known[0]
		for _, y := range known[1:] {
			x = max(x, y)
		}
		return x
	}
	mean, _ := stats.MeanSD(known)
	return mean
}

// combineStrings is the repeats' common text, or each repeat's own, named ("repeat 1: ...;
// repeat 2: ...") when they differ; repeats without one are left out.
func combineStrings(have []reflect.Value, at []int) string {
	same := true
	for _, s := range have[1:] {
		same = same && s.String() == have[0].String()
	}
	if same {
		return have[0].String()
	}
	var parts []string
	for i, s := range have {
		if s.String() != "" {
			parts = append(parts, fmt.Sprintf("repeat %d: %s", at[i], s.String()))
		}
	}
	return strings.Join(parts, "; ")
}

// foldInts sums the repeats' counts, or takes their largest where op says so.
func foldInts[T int64 | uint64](have []reflect.Value, get func(reflect.Value) T, op combineOp) T {
	x := get(have[0])
	for _, v := range have[1:] {
		switch op {
		case opSum:
			x += get(v)
		case opMax:
			x = max(x, get(v))
		}
	}
	return x
}
