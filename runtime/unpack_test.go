package runtime

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

func unpackOne(t *testing.T, v starlark.Value, dst any) error {
	t.Helper()
	args := starlark.Tuple{}
	if v != nil {
		args = starlark.Tuple{v}
	}
	return starlark.UnpackArgs("f", args, nil, "x?", dst)
}

func TestOptTellsValueNoneAndAbsent(t *testing.T) {
	var absent, none, five Opt[int]
	if err := unpackOne(t, nil, &absent); err != nil {
		t.Fatal(err)
	}
	if err := unpackOne(t, starlark.None, &none); err != nil {
		t.Fatal(err)
	}
	if err := unpackOne(t, starlark.MakeInt(5), &five); err != nil {
		t.Fatal(err)
	}
	if absent.Given || absent.Set || !none.Given || none.Set || !five.Set || five.V != 5 {
		t.Fatalf("absent %+v, none %+v, five %+v", absent, none, five)
	}
	if none.Or(7) != 7 || five.Or(7) != 5 {
		t.Fatal("Or must return the default for None and the value otherwise")
	}
	var d Opt[Duration]
	if err := unpackOne(t, starlark.String("2s"), &d); err != nil || d.V.Std() != 2*time.Second {
		t.Fatalf("Opt[Duration]: %v %v", d, err)
	}
}

func TestUnpackErrorsSayWhatIsWanted(t *testing.T) {
	cases := []struct {
		v    starlark.Value
		dst  any
		want string
	}{
		{starlark.String("x"), new(Opt[int]), "got string, want int or None"},
		{starlark.String("x"), new(Opt[float64]), "got string, want float or None"},
		{starlark.MakeInt(1), new(Opt[string]), "got int, want string or None"},
		{starlark.String("ab"), new(Strings), "got string, want list of strings"},
		{starlark.NewList([]starlark.Value{starlark.MakeInt(1)}), new(Strings), "element 0: got int, want string"},
		{starlark.NewList(nil), new(StringMap), "got list, want a dict of strings"},
		{dict(t, "a", starlark.MakeInt(1)), new(StringMap), "want a dict of strings, got string: int"},
		{dict(t, "ttft", starlark.String("x")), new(FloatMap), "ttft: got string, want number"},
	}
	for _, c := range cases {
		err := unpackOne(t, c.v, c.dst)
		if err == nil || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("%T from %s: got %v, want ...%q", c.dst, c.v, err, c.want)
		}
	}
}

func TestCollectionsUnpack(t *testing.T) {
	var ss Strings
	if err := unpackOne(t, starlark.Tuple{starlark.String("a"), starlark.String("b")}, &ss); err != nil || !reflect.DeepEqual([]string(ss), []string{"a", "b"}) {
		t.Fatalf("Strings: %v %v", ss, err)
	}
	var sm StringMap
	if err := unpackOne(t, dict(t, "K", starlark.String("v")), &sm); err != nil || sm["K"] != "v" {
		t.Fatalf("StringMap: %v %v", sm, err)
	}
	var fm FloatMap
	if err := unpackOne(t, dict(t, "ttft", starlark.MakeInt(200)), &fm); err != nil || fm["ttft"] != 200 {
		t.Fatalf("FloatMap: %v %v", fm, err)
	}
}

func dict(t *testing.T, k string, v starlark.Value) *starlark.Dict {
	t.Helper()
	d := starlark.NewDict(1)
	if err := d.SetKey(starlark.String(k), v); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOptWithDefault(t *testing.T) {
	def := func() Opt[string] { return Opt[string]{V: "median_ttft_ms", Set: true} }
	absent, none, other := def(), def(), def()
	_ = unpackOne(t, nil, &absent)
	_ = unpackOne(t, starlark.None, &none)
	_ = unpackOne(t, starlark.String("p99_ttft_ms"), &other)
	if !absent.Set || absent.Given || absent.V != "median_ttft_ms" {
		t.Errorf("absent keeps the default: %+v", absent)
	}
	if none.Set || !none.Given || none.V != "" {
		t.Errorf("None clears the default: %+v", none)
	}
	if other.V != "p99_ttft_ms" || !other.Set {
		t.Errorf("a value replaces the default: %+v", other)
	}
}
