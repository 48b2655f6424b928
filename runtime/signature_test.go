package runtime

import (
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// napBinding is a binding as the registry's recipe writes it.
func napBinding(defDuration time.Duration, extra ...any) BuiltinFunc {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var model string
		d := Duration(defDuration)
		var name Opt[string]
		pairs := append([]any{"model", &model, "duration?", &d, "name?", &name}, extra...)
		if err := UnpackArgs(thread, b, args, kwargs, pairs...); err != nil {
			return nil, err
		}
		return starlark.None, nil
	}
}

func TestCheckSignature(t *testing.T) {
	tags := []string{}
	cases := []struct {
		sig  string
		fn   BuiltinFunc
		want string // "" for no drift
	}{
		{`nap(model, duration="60s", name=None)`, napBinding(time.Minute), ""},
		{`nap(model, duration=60, name=None)`, napBinding(time.Minute), ""},
		{`nap(model, duration="30s", name=None)`, napBinding(time.Minute), "parameter duration: default"},
		{`nap(model, duration="60s")`, napBinding(time.Minute), "documents 2 parameters"},
		{`nap(model, duration="60s", label=None)`, napBinding(time.Minute), "parameter 3 is label in the signature but name"},
		{`nap(model="x", duration="60s", name=None)`, napBinding(time.Minute), "disagree on whether it is required"},
		{`nap(model, duration="60s", name="a")`, napBinding(time.Minute), "parameter name: default"},
		{`nap(model, duration="60s", name=None, tags=[])`, napBinding(time.Minute, "tags?", (*Strings)(&tags)), ""},
		{`nap(model, duration="60s", name=None)`, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.None, nil
		}, "does not unpack its arguments with runtime.UnpackArgs"},
	}
	for _, c := range cases {
		err := CheckSignature(Builtin{Name: "nap", Signature: c.sig, Fn: c.fn})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected drift: %v", c.sig, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error containing %q", c.sig, err, c.want)
		}
	}
}
