package analysis

import (
	"fmt"
	"math"
	"sort"
	"starlab/stats"
	"strings"
)

// Scaling modes: how base and scaled runs with several points are compared.
const (
	// ModeMatched compares the metric at the highest offered request_rate
	// present in both runs: the load at which the base is most saturated,
	// and the only comparison that holds the offered load fixed.
	ModeMatched = "matched"
	// ModePeak compares the highest metric of each run, used when the runs
	// share no offered rate (closed loops, different ramps).
	ModePeak = "peak"
	// ModeCapacity compares the best metric each run reached at its saturated
	// points: what the resources deliver when overloaded, their capacity. It
	// is used whenever both runs saturated somewhere, and is the real speedup:
	// a peak over unsaturated points can be a burst of the arrival process.
	ModeCapacity = "capacity"
)

// ScalingPair is the metric of both runs at one shared offered load.
type ScalingPair struct {
	Load, Base, Scaled, Speedup float64
}

// Scaling is the result of Amdahl: speedup of the scaled run over the base
// and the Karp–Flatt serial fraction it implies.
type Scaling struct {
	N      int
	Metric string
	Mode   string  // ModeMatched, ModeCapacity or ModePeak
	Load   float64 // offered request_rate compared (ModeMatched); NaN otherwise
	Base   float64 // metric of the base run where compared
	Scaled float64 // metric of the scaled run where compared

	Speedup        float64 // Scaled / Base
	Efficiency     float64 // Speedup / N
	SerialFraction float64 // Karp–Flatt e = (1/S − 1/n)/(1 − 1/n)

	// Intervals at Level of Speedup (from the two points' intervals, delta method on the log
	// ratio), Efficiency and SerialFraction (monotone maps of the speedup's ends). NoInterval when
	// a point has none.
	SpeedupCI, EfficiencyCI, SerialFractionCI stats.Interval
	Level                                     float64
	// LoadLimited is the noise-aware diagnosis of the base at the compared load: "yes" (decidedly
	// not saturated: the test measured the load), "no" (decidedly saturated) or "inconclusive".
	LoadLimited string

	// Valid is false when the comparison cannot show scaling: the base was
	// not saturated at the compared load (load-limited), or the scaled run
	// failed requests there. Diagnosis says why, and also carries notes on
	// valid comparisons (a lower bound, a check that could not be made).
	Valid     bool
	Diagnosis string

	Pairs []ScalingPair // every shared offered load, ascending; nil in ModePeak
}

// KarpFlatt is the experimentally determined serial fraction for speedup s
// on n processors: (1/s − 1/n)/(1 − 1/n). Negative means superlinear.
func KarpFlatt(s float64, n int) float64 {
	fn := float64(n)
	return (1/s - 1/fn) / (1 - 1/fn)
}

// Predict is Amdahl's speedup at n processors for the measured serial
// fraction: 1/(e + (1−e)/n).
func (s Scaling) Predict(n float64) float64 {
	e := s.SerialFraction
	return 1 / (e + (1-e)/n)
}

// PredictValue is the metric predicted at n processors: Base × Predict(n).
func (s Scaling) PredictValue(n float64) float64 { return s.Base * s.Predict(n) }

// Amdahl compares a base run with a run on n times the resources (GPUs,
// replicas) on metric (default "request_throughput") at the default confidence; see AmdahlAt.
func Amdahl(base, scaled []LoadPoint, n int, metric string) (Scaling, error) {
	return AmdahlAt(base, scaled, n, metric, stats.DefaultLevel)
}

// AmdahlAt compares a base run with a run on n times the resources (GPUs,
// replicas) on metric (default "request_throughput"), deciding saturation (SaturationOf) and
// stating intervals at level. See ModeMatched, ModeCapacity and ModePeak for how multi-point runs
// are compared. Errors are for input that cannot be compared at all (n < 2, empty runs, missing
// fields).
func AmdahlAt(base, scaled []LoadPoint, n int, metric string, level float64) (Scaling, error) {
	if metric == "" {
		metric = "request_throughput"
	}
	if level == 0 {
		level = stats.DefaultLevel
	}
	s := Scaling{N: n, Metric: metric, Load: math.NaN(), Level: level,
		SpeedupCI: stats.NoInterval, EfficiencyCI: stats.NoInterval, SerialFractionCI: stats.NoInterval}
	if n < 2 {
		return s, fmt.Errorf("n must be at least 2, got %d", n)
	}
	if len(base) == 0 || len(scaled) == 0 {
		return s, fmt.Errorf("base has %d points and scaled %d: both need at least one", len(base), len(scaled))
	}
	bm, err := column("base", base, metric)
	if err != nil {
		return s, err
	}
	sm, err := column("scaled", scaled, metric)
	if err != nil {
		return s, err
	}
	bi, si := matchLoads(base, scaled, bm, sm, &s)
	if bs, ss := saturatedArgmax(base, bm, level), saturatedArgmax(scaled, sm, level); bs >= 0 && ss >= 0 {
		s.Mode, s.Load, bi, si = ModeCapacity, math.NaN(), bs, ss
	} else if s.Pairs == nil {
		s.Mode = ModePeak
		bi, si = argmax(bm), argmax(sm)
	}
	s.Base, s.Scaled = bm[bi], sm[si]
	if s.Base <= 0 {
		return s, fmt.Errorf("base %s is %s at point %d: cannot form a speedup", metric, num(s.Base), bi)
	}
	s.Speedup = s.Scaled / s.Base
	s.Efficiency = s.Speedup / float64(n)
	s.SerialFraction = KarpFlatt(s.Speedup, n)
	bci, _ := base[bi].Interval(metric)
	sci, _ := scaled[si].Interval(metric)
	if ci := stats.RatioOf(s.Scaled, sci, s.Base, bci, level); !ci.Unknown() {
		// Efficiency is the speedup scaled; Karp–Flatt decreases in the speedup, so its ends swap.
		s.SpeedupCI = ci
		s.EfficiencyCI = ci.Scale(1 / float64(n))
		s.SerialFractionCI = stats.Interval{Lo: KarpFlatt(ci.Hi, n), Hi: KarpFlatt(ci.Lo, n)}
	}
	s.Valid, s.Diagnosis = diagnose(base, scaled, bi, si, &s)
	return s, nil
}

// matchLoads fills s.Pairs with the offered rates both runs share and
// returns the indices at the highest one.
func matchLoads(base, scaled []LoadPoint, bm, sm []float64, s *Scaling) (bi, si int) {
	best := math.Inf(-1)
	for i, b := range base {
		br, ok := b.Field("request_rate")
		if !ok || math.IsInf(br, 0) || math.IsNaN(br) {
			continue
		}
		for j, c := range scaled {
			cr, ok := c.Field("request_rate")
			if !ok || math.Abs(cr-br) > 1e-9*math.Max(1, math.Abs(br)) {
				continue
			}
			s.Pairs = append(s.Pairs, ScalingPair{Load: br, Base: bm[i], Scaled: sm[j], Speedup: sm[j] / bm[i]})
			if br > best {
				best, bi, si = br, i, j
			}
			break
		}
	}
	if s.Pairs != nil {
		s.Mode, s.Load = ModeMatched, best
		sort.Slice(s.Pairs, func(a, b int) bool { return s.Pairs[a].Load < s.Pairs[b].Load })
	}
	return bi, si
}

// achieved returns the offered load and achieved request throughput of a
// point, ok=false when either is missing or the loop was closed. The offered
// load is the rate actually sent when the point records it.
func achieved(p LoadPoint) (offered, got float64, ok bool) {
	offered, ok1 := p.Field("request_rate")
	got, ok2 := p.Field("request_throughput")
	ok = ok1 && ok2 && !math.IsInf(offered, 0) && offered > 0
	if sent, has := p.Field(SentRateField); has && sent > 0 && !math.IsInf(sent, 0) {
		offered = sent
	}
	return offered, got, ok
}

// saturatedArgmax is the index of the best metric among the decidedly saturated points,
// -1 when the run never saturated.
func saturatedArgmax(points []LoadPoint, metric []float64, level float64) int {
	best := -1
	for i, p := range points {
		if _, _, ok := achieved(p); !ok || SaturationOf(p, level).Verdict != Saturated {
			continue
		}
		if best < 0 || metric[i] > metric[best] {
			best = i
		}
	}
	return best
}

func unsaturated(p LoadPoint, level float64) bool {
	return SaturationOf(p, level).Verdict == NotSaturated
}

// diagnose says whether the comparison can show scaling, and sets s.LoadLimited from the base's
// verdict at the compared point: a base decidedly not saturated there measured its load, one
// that cannot be shown saturated may have.
func diagnose(base, scaled []LoadPoint, bi, si int, s *Scaling) (bool, string) {
	var problems, notes []string
	level := s.Level
	if f, ok := scaled[si].Field("failed"); ok && f > 0 {
		problems = append(problems, fmt.Sprintf("the scaled run failed %s requests%s", num(f), atLoad(scaled[si])))
	}
	_, _, checked := achieved(base[bi])
	verdict := SaturationOf(base[bi], level)
	if checked {
		switch verdict.Verdict {
		case NotSaturated:
			s.LoadLimited = "yes"
		case Saturated:
			s.LoadLimited = "no"
		default:
			s.LoadLimited = SaturationUndecided
		}
	}
	switch {
	case s.Mode == ModeMatched && s.LoadLimited == "yes":
		_, bgot, _ := achieved(base[bi])
		if unsaturated(scaled[si], level) {
			_, sgot, _ := achieved(scaled[si])
			problems = append(problems, fmt.Sprintf("load-limited: both runs achieved ≈ their offered %s req/s (%s and %s): the test measured the load, not the resources; rerun above the base's knee",
				num(s.Load), num(bgot), num(sgot)))
		} else {
			problems = append(problems, fmt.Sprintf("load-limited: the base achieved ≈ its offered %s req/s (%s): rerun above the base's knee", num(s.Load), num(bgot)))
		}
	case s.Mode != ModeMatched && allUnsaturated(base, level):
		problems = append(problems, "load-limited: the base achieved ≈ its offered rate at every load: it never saturated")
	case s.Mode != ModeMatched && s.LoadLimited == "yes":
		problems = append(problems, fmt.Sprintf("load-limited: the base achieved ≈ its offered load at its best point%s: rerun above the base's knee", atLoad(base[bi])))
	case s.LoadLimited == SaturationUndecided:
		problems = append(problems, fmt.Sprintf("possibly load-limited: the base could not be shown saturated%s: %s", atLoad(base[bi]), verdict.Reason))
	}
	if !checked {
		notes = append(notes, "saturation not checked: the base has no finite request_rate and request_throughput at the compared point")
	} else if len(problems) == 0 && unsaturated(scaled[si], level) {
		notes = append(notes, fmt.Sprintf("lower bound: the scaled run still achieved ≈ its offered load%s", atLoad(scaled[si])))
	}
	if s.Speedup > float64(s.N) {
		notes = append(notes, fmt.Sprintf("superlinear: speedup %s > n = %d (negative serial fraction)", num(s.Speedup), s.N))
	}
	return len(problems) == 0, strings.Join(append(problems, notes...), "; ")
}

func allUnsaturated(points []LoadPoint, level float64) bool {
	for _, p := range points {
		if _, _, ok := achieved(p); !ok || !unsaturated(p, level) {
			return false
		}
	}
	return true
}

func atLoad(p LoadPoint) string {
	if r, ok := p.Field("request_rate"); ok && !math.IsInf(r, 0) {
		return " at " + num(r) + " req/s"
	}
	return ""
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
