package analysis

import (
	"fmt"
	"starlab/stats"
	"strings"
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
}

// DeclaredBefore reports whether the hypothesis was stated before the measurement that decided
// it, the difference between a prediction and a post-hoc reading.
func (h Hypothesis) DeclaredBefore() bool {
	return h.Claim != nil && h.Claim.MeasuredSeq > 0 && h.DeclaredSeq < h.Claim.MeasuredSeq
}

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

// Hypotheses collects a run's hypotheses in the order they were stated.
type Hypotheses struct {
	list []Hypothesis
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

// VerdictTable renders hypotheses as a markdown table (ID, hypothesis,
// verdict, evidence) with pipes and line breaks escaped so a cell never
// breaks the table. It returns "" for no hypotheses.
func VerdictTable(hs []Hypothesis) string {
	if len(hs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| ID | Hypothesis | Verdict | Evidence |\n|----|------------|---------|----------|\n")
	for _, h := range hs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(h.ID), cell(h.Statement), verdictCell(h.Verdict), cell(h.Evidence))
	}
	return b.String()
}

func verdictCell(v Verdict) string {
	switch v {
	case Supported:
		return "✅ supported"
	case Refuted:
		return "❌ refuted"
	}
	return "❔ undecided"
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\r\n", "<br>")
	s = strings.ReplaceAll(s, "\n", "<br>")
	return s
}
