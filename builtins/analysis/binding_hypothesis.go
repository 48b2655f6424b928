package analysis

import (
	"context"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/jsonnum"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "hypothesis",
		Signature: `hypothesis(id, statement=None, supported=None, evidence="", claim=None)`,
		Doc: `States a hypothesis and its verdict, for the report's verdict table.

claim is a Rule from expect() or within(): the verdict is its "supported", "refuted" or
"inconclusive" at the run's confidence, with its interval and rule. supported=True/False is the
plain boolean form (not with claim). With neither, the hypothesis is declared and waits: a later
call with the same id and claim= (the statement may be left out) decides it, and the report says
whether it was declared before the evidence (a prediction) or after it. IDs are unique; a
hypothesis is decided once. Each declaration and decision is journaled with its rule. Returns
Hypothesis(.id .statement .verdict .evidence .rule .ci .need .declared), verdict "undecided"
until decided, declared "before the evidence", "after the evidence" or "" (boolean form).`,
		Fn: hypothesisFn,
	})
}

func hypothesisFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var id, evidence string
	var statement runtime.Opt[string]
	var supported runtime.Opt[bool]
	var claim starlark.Value = starlark.None
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "id", &id, "statement?", &statement, "supported?", &supported,
		"evidence?", &evidence, "claim?", &claim); err != nil {
		return nil, err
	}
	call := HypothesisCall{ID: id, Statement: statement.V, Evidence: evidence}
	if supported.Set {
		call.Supported = &supported.V
	}
	if claim != starlark.None {
		c, ok := runtime.StateOf[Claim](claim, "Rule")
		if !ok {
			return nil, paramerr.New("claim", "got %s, want a Rule from expect() or within()", claim.Type())
		}
		if supported.Set {
			return nil, paramerr.New("claim", "give claim= or supported=, not both")
		}
		call.Claim = &c
	}
	r := runtime.FromThread(thread)
	call.Seq = r.Seq()
	h, err := FindingsOf(r).applyHypothesis(call)
	if err != nil {
		return nil, err
	}
	rec := recordOf(h, call)
	// The journal keeps every declaration and decision with its rule, in order. A replay re-derives
	// them (they are pure), so a plan edited after the measurements may state new ones.
	if r.Mode != runtime.Replay {
		if _, err := runtime.KeyedStep(thread, b.Name(), runtime.CanonicalArgs(args, kwargs), func(context.Context) (HypothesisRecord, error) {
			return rec, nil
		}); err != nil {
			return nil, err
		}
	}
	return hypothesisValue(h), nil
}

// HypothesisRecord is a hypothesis() call as journal.jsonl keeps it.
type HypothesisRecord struct {
	ID        string `json:"id"`
	Statement string `json:"statement"`
	// Event is "declared" (no verdict yet), "decided" (a declared hypothesis gets its verdict)
	// or "stated" (declared and decided in one call).
	Event       string          `json:"event"`
	DeclaredSeq int             `json:"declared_seq"`
	DecidedSeq  int             `json:"decided_seq,omitempty"`
	Verdict     string          `json:"verdict"`
	Evidence    string          `json:"evidence,omitempty"`
	Rule        string          `json:"rule,omitempty"`
	Quantity    string          `json:"quantity,omitempty"`
	Value       *jsonnum.Float  `json:"value,omitempty"`
	CI          []jsonnum.Float `json:"ci,omitempty"`
	Level       float64         `json:"level,omitempty"`
	MeasuredSeq int             `json:"measured_seq,omitempty"`
	Declared    string          `json:"declared,omitempty"`
}

// recordOf is the journal's record of call, which left the hypothesis as h.
func recordOf(h Hypothesis, call HypothesisCall) HypothesisRecord {
	rec := HypothesisRecord{ID: h.ID, Statement: h.Statement, DeclaredSeq: h.DeclaredSeq, DecidedSeq: h.DecidedSeq,
		Verdict: h.Verdict.String(), Evidence: h.Evidence, Declared: h.Declared()}
	switch {
	case call.Supported == nil && call.Claim == nil:
		rec.Event = "declared"
	case h.DeclaredSeq == call.Seq:
		rec.Event = "stated"
	default:
		rec.Event = "decided"
	}
	if c := h.Claim; c != nil {
		v := jsonnum.Float(c.Decision.Value)
		rec.Rule, rec.Quantity, rec.Value, rec.Level, rec.MeasuredSeq = c.Rule(), c.Quantity, &v, c.Level, c.MeasuredSeq
		rec.CI = []jsonnum.Float{jsonnum.Float(c.Decision.CI.Lo), jsonnum.Float(c.Decision.CI.Hi)}
	}
	return rec
}

func hypothesisValue(h Hypothesis) *runtime.Object {
	var rule, need string
	var ci starlark.Value = starlark.None
	if c := h.Claim; c != nil {
		rule, need, ci = c.Rule(), c.Decision.Need(), ciTuple(c.Decision.CI)
	}
	return runtime.NewObject("Hypothesis", starlark.StringDict{
		"id": starlark.String(h.ID), "statement": starlark.String(h.Statement),
		"verdict": starlark.String(h.Verdict.String()), "evidence": starlark.String(h.Evidence),
		"rule": starlark.String(rule), "ci": ci, "need": starlark.String(need),
		"declared": starlark.String(h.Declared()),
	})
}
