package analysis

import (
	"fmt"
	"slices"
	"strings"

	"starlab/stats"
)

// Verdict is a hypothesis's outcome. The zero value is Undecided, so a plan
// that could not test a hypothesis (a sweep failed, a knee was not found)
// says so instead of defaulting to refuted.
type Verdict int

// Verdicts.
const (
	Undecided Verdict = iota
	Supported
	Refuted
	// Inconclusive: a claim's interval straddles its threshold at the run's confidence.
	Inconclusive
)

// String is the word shown in verdict tables.
func (v Verdict) String() string {
	switch v {
	case Supported:
		return "supported"
	case Refuted:
		return "refuted"
	case Inconclusive:
		return "inconclusive"
	}
	return "undecided"
}

// VerdictOf maps an optional boolean (Starlark True/False/None) to a Verdict.
func VerdictOf(supported *bool) Verdict {
	switch {
	case supported == nil:
		return Undecided
	case *supported:
		return Supported
	}
	return Refuted
}

// Hypothesis is one claim of a plan with its verdict and the evidence for it.
type Hypothesis struct {
	ID        string // e.g. "E-12", unique within a run
	Statement string
	Verdict   Verdict
	Evidence  string

	// Claim is the decision rule that gave the verdict; nil for the boolean supported= form.
	Claim *Claim
	// DeclaredSeq and DecidedSeq place the declaration and the decision on the run's event
	// sequence (runtime.Run.Seq); DecidedSeq is 0 while undecided.
	DeclaredSeq, DecidedSeq int
}

// Claim is an expect() or within() rule applied to an uncertain quantity.
type Claim struct {
	// Quantity says what was tested (the estimate's label, or "value" for a bare number).
	Quantity string
	Decision stats.Decision
	Level    float64
	// MeasuredSeq is when the quantity was measured (0 when unknown): a hypothesis declared
	// before it was stated before the evidence (DeclaredBefore).
	MeasuredSeq int
	// Exact is set when the quantity came without an interval and was treated as exact: the
	// rule's text says so, since such a verdict ignores the noise.
	Exact bool
}

// Expect applies "quantity op threshold" to an estimate (ci may be stats.NoInterval: the value
// is then treated as exact) at level.
func Expect(quantity string, value float64, ci stats.Interval, measuredSeq int, op string, threshold, level float64) (Claim, error) {
	d, err := stats.Expect(value, ci, op, threshold)
	if err != nil {
		return Claim{}, err
	}
	return Claim{Quantity: quantity, Decision: d, Level: level, MeasuredSeq: measuredSeq, Exact: ci.Unknown()}, nil
}

// Within applies "lo <= quantity <= hi" to an estimate, like Expect.
func Within(quantity string, value float64, ci stats.Interval, measuredSeq int, lo, hi, level float64) (Claim, error) {
	d, err := stats.Within(value, ci, lo, hi)
	if err != nil {
		return Claim{}, err
	}
	return Claim{Quantity: quantity, Decision: d, Level: level, MeasuredSeq: measuredSeq, Exact: ci.Unknown()}, nil
}

// Rule is the claim in words, as the report shows it: "speedup 3.4 [2.9, 3.9] >= 3 at 95%".
func (c Claim) Rule() string {
	d := c.Decision
	if c.Exact {
		return fmt.Sprintf("%s %s (no interval: treated as exact) %s", c.Quantity, num(d.Value), d.Rule)
	}
	return fmt.Sprintf("%s %s [%s, %s] %s at %s%%", c.Quantity, num(d.Value), num(d.CI.Lo), num(d.CI.Hi), d.Rule, num(100*c.Level))
}

// Verdict is the hypothesis verdict the claim's decision gives.
func (c Claim) Verdict() Verdict {
	switch c.Decision.Verdict {
	case stats.Supported:
		return Supported
	case stats.Refuted:
		return Refuted
	}
	return Inconclusive
}

// DeclaredBefore reports whether the hypothesis was stated before the measurement that decided
// it, the difference between a prediction and a post-hoc reading.
func (h Hypothesis) DeclaredBefore() bool {
	return h.Claim != nil && h.Claim.MeasuredSeq > 0 && h.DeclaredSeq < h.Claim.MeasuredSeq
}

// Declared says when a claim-decided hypothesis was stated relative to its evidence: "before the
// evidence" (a prediction), "after the evidence" (a reading, also when the measurement's time is
// unknown: a prediction is credited only when the run shows it), or "" for the boolean form and
// an undecided hypothesis.
func (h Hypothesis) Declared() string {
	switch {
	case h.Claim == nil:
		return ""
	case h.DeclaredBefore():
		return "before the evidence"
	}
	return "after the evidence"
}

// Decided reports whether the hypothesis has a verdict (a declared one waits for its decision).
func (h Hypothesis) Decided() bool { return h.Verdict != Undecided || h.DecidedSeq > 0 }

// NewHypothesis checks and builds a Hypothesis; supported nil means undecided.
func NewHypothesis(id, statement string, supported *bool, evidence string) (Hypothesis, error) {
	id, statement = strings.TrimSpace(id), strings.TrimSpace(statement)
	if id == "" {
		return Hypothesis{}, fmt.Errorf("id is empty")
	}
	if statement == "" {
		return Hypothesis{}, fmt.Errorf("%s: statement is empty", id)
	}
	return Hypothesis{ID: id, Statement: statement, Verdict: VerdictOf(supported), Evidence: strings.TrimSpace(evidence)}, nil
}

// Hypotheses collects a run's hypotheses in the order they were first stated.
type Hypotheses struct {
	list []Hypothesis
}

// HypothesisCall is one hypothesis() call. It declares a hypothesis (neither Supported nor Claim),
// decides one declared earlier (same ID; Statement omitted or repeated), or does both at once.
type HypothesisCall struct {
	ID, Statement string // Statement "" when omitted
	Supported     *bool
	Claim         *Claim
	Evidence      string
	// Seq is the call's place on the run's event sequence (runtime.Run.Seq).
	Seq int
}

// Apply records a call and returns the hypothesis as it now stands. A hypothesis keeps the place
// of its declaration; it is decided once, and its statement never changes.
func (hs *Hypotheses) Apply(c HypothesisCall) (Hypothesis, error) {
	id, statement, evidence := strings.TrimSpace(c.ID), strings.TrimSpace(c.Statement), strings.TrimSpace(c.Evidence)
	if id == "" {
		return Hypothesis{}, fmt.Errorf("id is empty")
	}
	if c.Supported != nil && c.Claim != nil {
		return Hypothesis{}, fmt.Errorf("%s: give claim= or supported=, not both", id)
	}
	deciding := c.Supported != nil || c.Claim != nil
	i := slices.IndexFunc(hs.list, func(h Hypothesis) bool { return h.ID == id })
	if i < 0 {
		if statement == "" {
			return Hypothesis{}, fmt.Errorf("%s: statement is empty (only a hypothesis declared earlier may be decided without repeating it)", id)
		}
		h := Hypothesis{ID: id, Statement: statement, Evidence: evidence, DeclaredSeq: c.Seq}
		if deciding {
			h.decide(c)
		}
		hs.list = append(hs.list, h)
		return h, nil
	}
	h := hs.list[i]
	switch {
	case statement != "" && statement != h.Statement:
		return Hypothesis{}, fmt.Errorf("%s: already stated as %q; deciding it may omit or repeat the statement, not change it", id, h.Statement)
	case !deciding:
		return Hypothesis{}, fmt.Errorf("%s: already stated (%q)", id, h.Statement)
	case h.Decided():
		return Hypothesis{}, fmt.Errorf("%s: already stated (%q) and decided: %s; a hypothesis is decided once", id, h.Statement, h.Verdict)
	}
	h.decide(c)
	if evidence != "" {
		h.Evidence = evidence
	}
	hs.list[i] = h
	return h, nil
}

func (h *Hypothesis) decide(c HypothesisCall) {
	h.DecidedSeq = c.Seq
	if c.Claim != nil {
		claim := *c.Claim
		h.Claim, h.Verdict = &claim, claim.Verdict()
		return
	}
	h.Verdict = VerdictOf(c.Supported)
}

// Add appends h; stating the same ID twice is an error, since a verdict table
// with two rows for E-12 cannot be read.
func (hs *Hypotheses) Add(h Hypothesis) error {
	for _, old := range hs.list {
		if old.ID == h.ID {
			return fmt.Errorf("%s: already stated (%q)", h.ID, old.Statement)
		}
	}
	hs.list = append(hs.list, h)
	return nil
}

// List returns the hypotheses in order of statement.
func (hs *Hypotheses) List() []Hypothesis { return append([]Hypothesis(nil), hs.list...) }
