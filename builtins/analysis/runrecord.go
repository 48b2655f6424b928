package analysis

import (
	"sync"

	"starlab/runtime"
)

// Record is what the analysis builtins computed during a run, kept in the
// run's state so that report() includes every knee, scaling, USL fit and
// hypothesis without the plan passing them again.
type Record struct {
	mu         sync.Mutex
	knees      []NamedKnee
	scalings   []NamedScaling
	fits       []NamedUSL
	hypotheses Hypotheses
}

// NamedKnee is a knee with the sweep it came from ("" for a typed-in table).
type NamedKnee struct {
	Sweep string
	Knee  Knee
}

// NamedScaling is an amdahl() result with the names of its two runs.
type NamedScaling struct {
	Base, Scaled string
	Scaling      Scaling
}

// NamedUSL is a usl() fit with the points it was fitted to.
type NamedUSL struct {
	N, X []float64
	Fit  USLFit
}

type recordKey struct{}

// RecordOf returns the run's analysis record, created on first use.
func RecordOf(run *runtime.Run) *Record {
	return runtime.State(run, recordKey{}, func() *Record { return &Record{} })
}

func (r *Record) addKnee(k NamedKnee) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.knees = append(r.knees, k)
}

func (r *Record) addScaling(s NamedScaling) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scalings = append(r.scalings, s)
}

func (r *Record) addUSL(f NamedUSL) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fits = append(r.fits, f)
}

func (r *Record) addHypothesis(h Hypothesis) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hypotheses.Add(h)
}

// Knees returns the knees found so far, in call order.
func (r *Record) Knees() []NamedKnee {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]NamedKnee(nil), r.knees...)
}

// Scalings returns the amdahl() results so far, in call order.
func (r *Record) Scalings() []NamedScaling {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]NamedScaling(nil), r.scalings...)
}

// USLFits returns the usl() fits so far, in call order.
func (r *Record) USLFits() []NamedUSL {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]NamedUSL(nil), r.fits...)
}

// Hypotheses returns the hypotheses stated so far, in order.
func (r *Record) Hypotheses() []Hypothesis {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hypotheses.List()
}
