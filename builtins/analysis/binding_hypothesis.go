package analysis

import (
	"go.starlark.net/starlark"

	"starlab/runtime"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "hypothesis",
		Signature: `hypothesis(id, statement, supported=None, evidence="")`,
		Doc: `States a hypothesis and its verdict, for the report's verdict table.

supported is True, False or None (the default: undecided, the plan could not test it). IDs are
unique within a run. Returns struct(id, statement, verdict, evidence) with verdict "supported",
"refuted" or "undecided".`,
		Fn: hypothesisFn,
	})
}

func hypothesisFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var id, statement, evidence string
	var supported runtime.Opt[bool]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "id", &id, "statement", &statement, "supported?", &supported,
		"evidence?", &evidence); err != nil {
		return nil, err
	}
	var sup *bool // nil: undecided
	if supported.Set {
		sup = &supported.V
	}
	h, err := NewHypothesis(id, statement, sup, evidence)
	if err != nil {
		return nil, err
	}
	if err := FindingsOf(runtime.FromThread(thread)).addHypothesis(h); err != nil {
		return nil, err
	}
	return mkStruct(starlark.StringDict{
		"id": starlark.String(h.ID), "statement": starlark.String(h.Statement),
		"verdict": starlark.String(h.Verdict.String()), "evidence": starlark.String(h.Evidence),
	}), nil
}
