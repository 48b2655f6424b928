package analysis

import (
	"sync"

	"starlab/runtime"
)

// Findings is what the analysis builtins computed during a run, kept in the
// run's state so that report() includes every knee, scaling, USL fit, comparison
// and hypothesis without the plan passing them again.
type Findings struct {
	mu          sync.Mutex
	knees       []NamedKnee
	scalings    []NamedScaling
	fits        []NamedUSL
	comparisons []NamedComparison
	hypotheses  Hypotheses
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

// NamedComparison is a compare() result with the two points it compared, as labels such as
// `sweep "a" point 1 (rate 6)`.
type NamedComparison struct {
	A, B       string
	Comparison Comparison
}

type recordKey struct{}

// FindingsOf returns the run's analysis record, created on first use.
func FindingsOf(run *runtime.Run) *Findings {
	return runtime.State(run, recordKey{}, func() *Findings { return &Findings{} })
}

func (r *Findings) addKnee(k NamedKnee) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.knees = append(r.knees, k)
}

func (r *Findings) addScaling(s NamedScaling) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scalings = append(r.scalings, s)
}

func (r *Findings) addUSL(f NamedUSL) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fits = append(r.fits, f)
}

func (r *Findings) addComparison(c NamedComparison) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.comparisons = append(r.comparisons, c)
}

func (r *Findings) applyHypothesis(c HypothesisCall) (Hypothesis, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hypotheses.Apply(c)
}

// Knees returns the knees found so far, in call order.
func (r *Findings) Knees() []NamedKnee {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]NamedKnee(nil), r.knees...)
}

// Scalings returns the amdahl() results so far, in call order.
func (r *Findings) Scalings() []NamedScaling {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]NamedScaling(nil), r.scalings...)
}

// USLFits returns the usl() fits so far, in call order.
func (r *Findings) USLFits() []NamedUSL {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]NamedUSL(nil), r.fits...)
}

// Comparisons returns the compare() results so far, in call order.
func (r *Findings) Comparisons() []NamedComparison {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]NamedComparison(nil), r.comparisons...)
}

// Hypotheses returns the hypotheses stated so far, in order of first declaration (a decision
// made later keeps the declaration's place).
func (r *Findings) Hypotheses() []Hypothesis {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hypotheses.List()
}
