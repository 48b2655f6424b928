package runtime_test

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

// The recipe of runtime.Builtin's doc comment, verbatim, with its engine: it must stay true.

type Span struct{ Lo, Hi float64 }

func (s Span) Mid() float64 { return (s.Lo + s.Hi) / 2 }

func NewSpan(start, width float64) (Span, error) {
	if !(width > 0) {
		return Span{}, paramerr.New("width", "want a width above 0, got %v", width)
	}
	return Span{start, start + width}, nil
}

var spanBuiltin = runtime.Builtin{
	Name:      "span",
	Signature: `span(start, width=1.0)`,
	Doc:       "The interval [start, start + width] and its midpoint.",
	Fn:        span,
}

func span(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var start float64
	width := 1.0
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "start", &start, "width?", &width); err != nil {
		return nil, err // "span: for parameter width: ..."
	}
	s, err := NewSpan(start, width) // the engine: plain Go, a paramerr.Error for a bad argument
	if err != nil {
		return nil, err // the host adds "span: "
	}
	return runtime.NewObject("Span", starlark.StringDict{
		"lo":  starlark.Float(s.Lo),
		"hi":  starlark.Float(s.Hi),
		"mid": starlark.Float(s.Mid()),
	}), nil
}

func TestRecipe(t *testing.T) {
	if err := runtime.CheckSignature(spanBuiltin); err != nil {
		t.Fatal(err)
	}
	env := starlark.StringDict{"span": starlark.NewBuiltin("span", runtime.Qualified(span))}
	g, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "plan.star", "s = span(2, width = 4)\nm = s.mid\nd = dir(s)", env)
	if err != nil {
		t.Fatal(err)
	}
	if g["m"].String() != "4.0" || g["d"].String() != `["hi", "lo", "mid"]` || g["s"].Type() != "Span" {
		t.Fatalf("got %s, %s, %s", g["s"], g["m"], g["d"])
	}
	for src, want := range map[string]string{
		`span(1, width = 0)`:   "span: for parameter width: want a width above 0, got 0",
		`span(1, width = "a")`: "span: for parameter width: got string, want float",
	} {
		_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "plan.star", src, env)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", src, err, want)
		}
	}
}
