package runtime

import (
	"strings"
	"testing"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

func kneeLike() *Object {
	o := NewObject("Knee", starlark.StringDict{
		"rate":  starlark.Float(15.5),
		"found": starlark.True,
		"around": Method("around", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var n int
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n", &n); err != nil {
				return nil, err
			}
			return starlark.MakeInt(n), nil
		}),
	})
	return o.WithState(42)
}

func TestObjectInPlan(t *testing.T) {
	env := starlark.StringDict{"k": kneeLike(), "json": json.Module}
	thread := &starlark.Thread{}
	src := `
names = dir(k)
encoded = json.encode(k)
n = k.around(3)
r = k.rate
`
	g, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "t.star", src, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := g["names"].String(); got != `["around", "found", "rate"]` {
		t.Errorf("dir: %s", got)
	}
	if got := string(g["encoded"].(starlark.String)); got != `{"found":true,"rate":15.5}` {
		t.Errorf("json.encode: %s", got)
	}
	if g["n"].String() != "3" || g["r"].String() != "15.5" {
		t.Errorf("attrs: n=%s r=%s", g["n"], g["r"])
	}
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "t.star", `k.around("x")`, env)
	if err == nil || !strings.Contains(err.Error(), "around: for parameter n: got string, want int") {
		t.Errorf("method errors are qualified: %v", err)
	}
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "t.star", `{k: 1}`, env)
	if err == nil || !strings.Contains(err.Error(), "unhashable type: Knee") {
		t.Errorf("an object without a key is unhashable: %v", err)
	}
	if s, ok := StateOf[int](kneeLike(), "Knee"); !ok || s != 42 {
		t.Errorf("StateOf: %v %v", s, ok)
	}
	if _, ok := StateOf[int](kneeLike(), "Server"); ok {
		t.Error("StateOf must check the type name")
	}
}

func TestObjectKeyAndJournal(t *testing.T) {
	srv := NewObject("Server", starlark.StringDict{"name": starlark.String("one")}).
		WithKey(func() string { return "Server(one@abc)" })
	if got := CanonicalArgs(starlark.Tuple{srv}, nil); got != "Server(one@abc)" {
		t.Errorf("step key: %s", got)
	}
	if _, err := srv.Hash(); err != nil {
		t.Errorf("an object with a key is hashable: %v", err)
	}
	if got := kneeLike().StepKey(); got != "Knee(found=True, rate=15.5)" {
		t.Errorf("default step key: %s", got)
	}
	data, err := EncodeValue(kneeLike())
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeValue(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Type() != "Knee" || back.(*Object).StepKey() != kneeLike().StepKey() {
		t.Errorf("journal round trip: %s (%s)", back, data)
	}
	RegisterObjectDecoder("Knee", func(d starlark.StringDict) (starlark.Value, error) {
		return NewObject("Knee", d).WithState("rebuilt"), nil
	})
	defer func() { delete(objectDecoders, "Knee") }()
	back, _ = DecodeValue(data)
	if s, ok := StateOf[string](back, "Knee"); !ok || s != "rebuilt" {
		t.Errorf("registered decoder not used: %v", back)
	}
}
