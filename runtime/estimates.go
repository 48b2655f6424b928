package runtime

import (
	"math"
	"sync"
)

// Estimate is a measured quantity as the builtin that produced it knows it: the value the plan
// sees (a plain Starlark float, so arithmetic, comparisons and %-formatting keep working) and its
// confidence interval at the run's level.
type Estimate struct {
	Value, Lo, Hi float64
	// Label says what the value is, e.g. `amdahl(...).speedup` or `sweep "ramp" point 2
	// request_throughput`, for the report's verdict rows.
	Label string
	// Seq is when it was produced, on the run's event sequence (see Run.Seq): a hypothesis
	// declared at a lower Seq was stated before the measurement that decides it.
	Seq int
}

// estimates finds a float's interval by the value's exact bits. A plan passes `a.speedup` to
// expect() as a plain float; the interval travels alongside, keyed by that float. Two different
// intervals noted for the same bits make the value ambiguous, and the lookup says so instead of
// guessing.
type estimates struct {
	mu     sync.Mutex
	byBits map[uint64][]Estimate
	seq    int
}

type estimatesKey struct{}

func estimatesOf(r *Run) *estimates {
	return State(r, estimatesKey{}, func() *estimates { return &estimates{byBits: map[uint64][]Estimate{}} })
}

// Seq advances and returns the run's event sequence: a counter that orders the plan's
// declarations and measurements (it is the same on a resumed or replayed run).
func (r *Run) Seq() int {
	e := estimatesOf(r)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return e.seq
}

// NoteEstimate records value's interval [lo, hi] so that decision rules find it. Values that are
// NaN, infinite or without a finite interval are not noted.
func (r *Run) NoteEstimate(label string, value, lo, hi float64) {
	if !finite(value) || !finite(lo) || !finite(hi) {
		return
	}
	seq := r.Seq()
	e := estimatesOf(r)
	e.mu.Lock()
	defer e.mu.Unlock()
	k := math.Float64bits(value)
	for _, old := range e.byBits[k] {
		if old.Lo == lo && old.Hi == hi {
			return
		}
	}
	e.byBits[k] = append(e.byBits[k], Estimate{Value: value, Lo: lo, Hi: hi, Label: label, Seq: seq})
}

// EstimateOf returns the interval noted for exactly this value. found is false when none was
// noted; all lists every distinct interval when more than one was (then the value is ambiguous).
func (r *Run) EstimateOf(value float64) (est Estimate, found bool, all []Estimate) {
	e := estimatesOf(r)
	e.mu.Lock()
	defer e.mu.Unlock()
	list := e.byBits[math.Float64bits(value)]
	switch len(list) {
	case 0:
		return Estimate{}, false, nil
	case 1:
		return list[0], true, list
	}
	return Estimate{}, false, append([]Estimate(nil), list...)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
