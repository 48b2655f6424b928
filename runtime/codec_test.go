package runtime_test

import (
	"math"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"starlab/runtime"
)

func TestValueCodecRoundTrip(t *testing.T) {
	big, _ := starlark.MakeInt(1).Lsh(100), 0
	d := starlark.NewDict(2)
	d.SetKey(starlark.MakeInt(2), starlark.String("two"))
	d.SetKey(starlark.Tuple{starlark.True}, starlark.None)
	values := []starlark.Value{
		starlark.None, starlark.True, starlark.String("s\n\"q\""), starlark.Bytes("\x00\xff"),
		starlark.MakeInt(-3), big, starlark.Float(0.1), starlark.Float(math.Inf(-1)), starlark.Float(1e300),
		starlark.NewList([]starlark.Value{starlark.MakeInt(1), starlark.Float(1)}),
		starlark.Tuple{starlark.Tuple{}, starlark.String("x")}, d,
		starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"a": starlark.MakeInt(1), "b": d}),
	}
	for _, v := range values {
		data, err := runtime.EncodeValue(v)
		if err != nil {
			t.Fatalf("encode %s: %v", v, err)
		}
		got, err := runtime.DecodeValue(data)
		if err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		if got.Type() != v.Type() || got.String() != v.String() {
			t.Errorf("round trip of %s (%s) gave %s (%s) via %s", v, v.Type(), got, got.Type(), data)
		}
	}
	nan, _ := runtime.DecodeValue([]byte(`{"float":"nan"}`))
	if f, ok := nan.(starlark.Float); !ok || !math.IsNaN(float64(f)) {
		t.Errorf("nan decoded as %v", nan)
	}
}

func TestCanonicalArgsIgnoreKeywordOrder(t *testing.T) {
	kw := func(k string, v starlark.Value) starlark.Tuple { return starlark.Tuple{starlark.String(k), v} }
	a := runtime.CanonicalArgs(starlark.Tuple{starlark.MakeInt(1)}, []starlark.Tuple{kw("b", starlark.Float(0.5)), kw("a", starlark.String("x"))})
	b := runtime.CanonicalArgs(starlark.Tuple{starlark.MakeInt(1)}, []starlark.Tuple{kw("a", starlark.String("x")), kw("b", starlark.Float(0.5))})
	if a != b || a != `1, a="x", b=0.5` {
		t.Fatalf("%q vs %q", a, b)
	}
}
