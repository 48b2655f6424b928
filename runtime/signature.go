package runtime

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// probeKey marks a thread on which UnpackArgs records the parameters instead of unpacking.
const probeKey = "starlab.signature-probe"

// unpackedParam is one parameter as a binding unpacks it: its name, whether it is optional, and
// a copy of its destination's value before the call (the default).
type unpackedParam struct {
	name     string
	optional bool
	initial  reflect.Value
}

type signatureProbe struct{ params []unpackedParam }

func (p *signatureProbe) record(pairs []any) error {
	if len(pairs)%2 != 0 {
		return fmt.Errorf("UnpackArgs: odd number of name/destination pairs")
	}
	for i := 0; i < len(pairs); i += 2 {
		name, ok := pairs[i].(string)
		if !ok {
			return fmt.Errorf("UnpackArgs: pair %d: got %T, want parameter name", i/2, pairs[i])
		}
		ptr := reflect.ValueOf(pairs[i+1])
		if ptr.Kind() != reflect.Pointer || ptr.IsNil() {
			return fmt.Errorf("UnpackArgs: parameter %s: destination is %T, want a non-nil pointer", name, pairs[i+1])
		}
		initial := reflect.New(ptr.Elem().Type()).Elem()
		initial.Set(ptr.Elem())
		opt := strings.HasSuffix(name, "?") || strings.HasSuffix(name, "??")
		p.params = append(p.params, unpackedParam{name: strings.TrimRight(name, "?"), optional: opt, initial: initial})
	}
	return errProbed
}

// CheckSignature compares a builtin's documented Signature with what its binding unpacks: the
// same parameters in the same order, required where the signature gives no default, and each
// default equal to the destination's value before unpacking. It is what keeps `starlab doc` true.
func CheckSignature(b Builtin) error {
	documented, err := parseSignature(b)
	if err != nil {
		return err
	}
	probe := &signatureProbe{}
	thread := &starlark.Thread{Name: "signature probe"}
	thread.SetLocal(probeKey, probe)
	if err := callProbe(thread, b); !errors.Is(err, errProbed) {
		return fmt.Errorf("%s: the binding does not unpack its arguments with runtime.UnpackArgs first (got %v)", b.Name, err)
	}
	got := probe.params
	if n := len(documented); n > 0 && documented[n-1].variadic {
		documented = documented[:n-1] // the binding takes *args itself
	}
	if len(got) != len(documented) {
		return fmt.Errorf("%s: the signature documents %d parameters (%s), the binding unpacks %d (%s)",
			b.Name, len(documented), paramNames(documented), len(got), unpackedNames(got))
	}
	for i, d := range documented {
		u := got[i]
		if d.name != u.name {
			return fmt.Errorf("%s: parameter %d is %s in the signature but %s in the binding", b.Name, i+1, d.name, u.name)
		}
		if (d.def != nil) != u.optional {
			return fmt.Errorf("%s: parameter %s: the signature and the binding disagree on whether it is required", b.Name, d.name)
		}
		if d.def == nil {
			continue
		}
		if err := sameDefault(u.initial, d.def); err != nil {
			return fmt.Errorf("%s: parameter %s: default %s in the signature: %v", b.Name, d.name, d.def, err)
		}
	}
	return nil
}

// callProbe calls the binding on a probe thread; a binding that touches the run before unpacking
// panics there, which is reported like any other failure to unpack first.
func callProbe(thread *starlark.Thread, b Builtin) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	_, err = b.Fn(thread, starlark.NewBuiltin(b.Name, b.Fn), nil, nil)
	return err
}

type documentedParam struct {
	name     string
	def      starlark.Value // nil: required
	variadic bool           // *args: taken by the binding itself, after what it unpacks
}

func parseSignature(b Builtin) ([]documentedParam, error) {
	expr, err := (&syntax.FileOptions{}).ParseExpr(b.Name+" signature", b.Signature, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: signature does not parse: %v", b.Name, err)
	}
	call, ok := expr.(*syntax.CallExpr)
	if !ok {
		return nil, fmt.Errorf("%s: signature is not a call", b.Name)
	}
	if fn, ok := call.Fn.(*syntax.Ident); !ok || fn.Name != b.Name {
		return nil, fmt.Errorf("%s: signature names another function", b.Name)
	}
	thread := &starlark.Thread{Name: "signature defaults"}
	var out []documentedParam
	for _, arg := range call.Args {
		switch a := arg.(type) {
		case *syntax.Ident:
			out = append(out, documentedParam{name: a.Name})
		case *syntax.UnaryExpr:
			id, ok := a.X.(*syntax.Ident)
			if a.Op != syntax.STAR || !ok {
				return nil, fmt.Errorf("%s: signature argument is not *name", b.Name)
			}
			out = append(out, documentedParam{name: "*" + id.Name, variadic: true})
		case *syntax.BinaryExpr:
			id, ok := a.X.(*syntax.Ident)
			if a.Op != syntax.EQ || !ok {
				return nil, fmt.Errorf("%s: signature argument is not name=default", b.Name)
			}
			v, err := starlark.EvalExprOptions(&syntax.FileOptions{}, thread, a.Y, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: default of %s: %v", b.Name, id.Name, err)
			}
			out = append(out, documentedParam{name: id.Name, def: v})
		default:
			return nil, fmt.Errorf("%s: signature argument %T is not supported", b.Name, arg)
		}
	}
	return out, nil
}

// sameDefault unpacks the documented default into a fresh destination of the binding's type and
// compares it with the binding's own initial value.
func sameDefault(initial reflect.Value, def starlark.Value) error {
	if v, ok := asStarlark(initial); ok {
		if isEmpty(v) && isEmpty(def) {
			return nil
		}
		if eq, err := starlark.Equal(v, def); err != nil || !eq {
			return fmt.Errorf("the binding's default is %s", v)
		}
		return nil
	}
	fresh := reflect.New(initial.Type())
	if err := starlark.UnpackArgs("default", starlark.Tuple{def}, nil, "x", fresh.Interface()); err != nil {
		return fmt.Errorf("does not fit the binding's %s: %v", initial.Type(), err)
	}
	a, b := comparable(initial), comparable(fresh.Elem())
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("the binding's default is %v", a)
	}
	return nil
}

// asStarlark returns a Starlark destination's initial value; a nil one counts as None.
func asStarlark(v reflect.Value) (starlark.Value, bool) {
	if !v.Type().Implements(reflect.TypeFor[starlark.Value]()) {
		return nil, false
	}
	if (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil() {
		return starlark.None, true
	}
	return v.Interface().(starlark.Value), true
}

// isEmpty is true for None and empty lists and dicts: a binding that starts from a nil list or
// dict treats all three alike.
func isEmpty(v starlark.Value) bool {
	switch x := v.(type) {
	case starlark.NoneType:
		return true
	case *starlark.List:
		return x.Len() == 0
	case *starlark.Dict:
		return x.Len() == 0
	case starlark.Tuple:
		return len(x) == 0
	}
	return false
}

// comparable reduces a destination value to what a default means: Opt to its value (nil for
// None), empty slices and maps to nil.
func comparable(v reflect.Value) any {
	if d, ok := v.Interface().(interface{ defaultValue() any }); ok {
		return d.defaultValue()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return nil
		}
	}
	return v.Interface()
}

func paramNames(ps []documentedParam) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

func unpackedNames(ps []unpackedParam) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}
