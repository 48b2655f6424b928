package runtime

import (
	"errors"
	"fmt"

	"go.starlark.net/starlark"
)

// UnpackArgs is starlark.UnpackArgs for a builtin: pairs are "name", &dest (name? for optional
// parameters), and each dest's value before the call is the parameter's default. Every builtin
// unpacks through it, so CheckSignature can compare what the binding really takes with the
// signature `starlab doc` prints. A float64 destination also takes an int (rate = 10).
func UnpackArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, pairs ...any) error {
	if p, ok := thread.Local(probeKey).(*signatureProbe); ok {
		return p.record(pairs)
	}
	for i := 1; i < len(pairs); i += 2 {
		if f, ok := pairs[i].(*float64); ok {
			pairs[i] = (*number)(f)
		}
	}
	return starlark.UnpackArgs(b.Name(), args, kwargs, pairs...)
}

// number is a float64 destination that takes ints too.
type number float64

func (n *number) Unpack(v starlark.Value) error {
	f, ok := starlark.AsFloat(v)
	if !ok {
		return fmt.Errorf("got %s, want float", v.Type())
	}
	*n = number(f)
	return nil
}

// Opt is an optional argument that may be None. Set is true for a value other than None; Given
// is true when the plan passed the parameter at all (None included), which tells latency=None
// from a parameter left out, positionally or by keyword. Its default is None, or the value of
// an Opt made with Set (Opt[string]{V: "median_ttft_ms", Set: true}); None clears it.
type Opt[T any] struct {
	V     T
	Set   bool
	Given bool
}

// Unpack implements starlark.Unpacker for int, float64, string, bool and any Unpacker T.
func (o *Opt[T]) Unpack(v starlark.Value) error {
	o.Given = true
	if v == starlark.None {
		var zero T
		o.V, o.Set = zero, false
		return nil
	}
	if err := unpackValue(&o.V, v); err != nil {
		return err
	}
	o.Set = true
	return nil
}

// Or returns the value, or def when the argument was None or absent.
func (o Opt[T]) Or(def T) T {
	if o.Set {
		return o.V
	}
	return def
}

// defaultValue is what CheckSignature compares: the value, or nil for None.
func (o Opt[T]) defaultValue() any {
	if o.Set {
		return o.V
	}
	return nil
}

func unpackValue(dst any, v starlark.Value) error {
	switch d := dst.(type) {
	case *int:
		if err := starlark.AsInt(v, d); err != nil {
			if _, isInt := v.(starlark.Int); isInt {
				return err
			}
			return fmt.Errorf("got %s, want int or None", v.Type())
		}
	case *float64:
		f, ok := starlark.AsFloat(v)
		if !ok {
			return fmt.Errorf("got %s, want float or None", v.Type())
		}
		*d = f
	case *string:
		s, ok := starlark.AsString(v)
		if !ok {
			return fmt.Errorf("got %s, want string or None", v.Type())
		}
		*d = s
	case *bool:
		bv, ok := v.(starlark.Bool)
		if !ok {
			return fmt.Errorf("got %s, want bool or None", v.Type())
		}
		*d = bool(bv)
	case starlark.Unpacker:
		return d.Unpack(v)
	default:
		return fmt.Errorf("runtime.Opt cannot hold %T", dst)
	}
	return nil
}

// Strings unpacks a list or tuple of strings (extra_args).
type Strings []string

// Unpack implements starlark.Unpacker.
func (ss *Strings) Unpack(v starlark.Value) error {
	seq, err := sequence(v, "list of strings")
	if err != nil {
		return err
	}
	out := make([]string, seq.Len())
	for i := range out {
		s, ok := starlark.AsString(seq.Index(i))
		if !ok {
			return fmt.Errorf("element %d: got %s, want string", i, seq.Index(i).Type())
		}
		out[i] = s
	}
	*ss = out
	return nil
}

// StringMap unpacks a dict of strings to strings (env).
type StringMap map[string]string

// Unpack implements starlark.Unpacker.
func (m *StringMap) Unpack(v starlark.Value) error {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return fmt.Errorf("got %s, want a dict of strings", v.Type())
	}
	out := make(map[string]string, d.Len())
	for _, kv := range d.Items() {
		k, ok1 := starlark.AsString(kv[0])
		s, ok2 := starlark.AsString(kv[1])
		if !ok1 || !ok2 {
			return fmt.Errorf("want a dict of strings, got %s: %s", kv[0].Type(), kv[1].Type())
		}
		out[k] = s
	}
	*m = out
	return nil
}

// FloatMap unpacks a dict of strings to numbers (slo = {"ttft": 200}).
type FloatMap map[string]float64

// Unpack implements starlark.Unpacker.
func (m *FloatMap) Unpack(v starlark.Value) error {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return fmt.Errorf("got %s, want a dict of numbers", v.Type())
	}
	out := make(map[string]float64, d.Len())
	for _, kv := range d.Items() {
		k, ok := starlark.AsString(kv[0])
		if !ok {
			return fmt.Errorf("key %s: got %s, want string", kv[0], kv[0].Type())
		}
		f, ok := starlark.AsFloat(kv[1])
		if !ok {
			return fmt.Errorf("%s: got %s, want number", k, kv[1].Type())
		}
		out[k] = f
	}
	*m = out
	return nil
}

func sequence(v starlark.Value, want string) (starlark.Indexable, error) {
	if _, isStr := v.(starlark.String); isStr {
		return nil, fmt.Errorf("got string, want %s", want)
	}
	seq, ok := v.(starlark.Indexable)
	if !ok {
		return nil, fmt.Errorf("got %s, want %s", v.Type(), want)
	}
	return seq, nil
}

var errProbed = errors.New("signature probed")
