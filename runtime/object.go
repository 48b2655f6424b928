package runtime

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

// Object is a result value as plans see it (Server, SweepResult, Knee, Scaling, ...): a type
// name, read-only attributes in sorted order for dir(), data and bound methods alike, a printed
// form, json.encode of its data attributes, a step key when it can be an argument of a later step,
// and the Go state a builtin that takes it back needs. Bindings describe a result with NewObject
// instead of writing a Starlark type by hand.
type Object struct {
	typ   string
	attrs func() starlark.StringDict
	str   func() string
	key   func() string
	state any
}

var (
	_ starlark.HasAttrs = (*Object)(nil)
	_ Keyer             = (*Object)(nil)
)

// NewObject makes a value of type typ with fixed attributes (frozen here).
func NewObject(typ string, attrs starlark.StringDict) *Object {
	attrs.Freeze()
	return &Object{typ: typ, attrs: func() starlark.StringDict { return attrs }}
}

// NewLiveObject makes a value whose attributes are read when the plan reads them (a server's URL
// is known only once it has started).
func NewLiveObject(typ string, attrs func() starlark.StringDict) *Object {
	return &Object{typ: typ, attrs: attrs}
}

// WithString sets the printed form; the default lists the data attributes.
func (o *Object) WithString(f func() string) *Object { o.str = f; return o }

// WithKey makes the value usable as an argument of a step (and hashable): key is its identity
// across runs, which its printed form may not be.
func (o *Object) WithKey(f func() string) *Object { o.key = f; return o }

// WithState attaches the Go value a builtin taking this object back needs (see StateOf).
func (o *Object) WithState(state any) *Object { o.state = state; return o }

// StateOf returns the Go state behind an Object of type typ.
func StateOf[T any](v starlark.Value, typ string) (T, bool) {
	var zero T
	o, ok := v.(*Object)
	if !ok || o.typ != typ {
		return zero, false
	}
	s, ok := o.state.(T)
	return s, ok
}

func (o *Object) Type() string         { return o.typ }
func (o *Object) Freeze()              {}
func (o *Object) Truth() starlark.Bool { return starlark.True }

func (o *Object) Hash() (uint32, error) {
	if o.key == nil {
		return 0, fmt.Errorf("unhashable type: %s", o.typ)
	}
	return starlark.String(o.key()).Hash()
}

// StepKey is the key's value, or the type and data attributes in canonical form.
func (o *Object) StepKey() string {
	if o.key != nil {
		return o.key()
	}
	var sb strings.Builder
	sb.WriteString(o.typ + "(")
	for i, name := range o.dataNames() {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(name + "=")
		writeCanonical(&sb, o.attrs()[name], 0)
	}
	sb.WriteString(")")
	return sb.String()
}

func (o *Object) String() string {
	if o.str != nil {
		return o.str()
	}
	attrs := o.attrs()
	var sb strings.Builder
	sb.WriteString(o.typ + "(")
	for i, name := range o.dataNames() {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(name + "=" + attrs[name].String())
	}
	sb.WriteString(")")
	return sb.String()
}

func (o *Object) AttrNames() []string {
	attrs := o.attrs()
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (o *Object) Attr(name string) (starlark.Value, error) {
	if v, ok := o.attrs()[name]; ok {
		return v, nil
	}
	return nil, nil // starlark reports the missing attribute
}

// dataNames are the attributes that are not methods, sorted.
func (o *Object) dataNames() []string {
	attrs := o.attrs()
	var names []string
	for _, name := range o.AttrNames() {
		if _, fn := attrs[name].(starlark.Callable); !fn {
			names = append(names, name)
		}
	}
	return names
}

// Data returns the data attributes (methods left out) as a dict, in sorted order.
func (o *Object) Data() *starlark.Dict {
	attrs := o.attrs()
	d := starlark.NewDict(len(attrs))
	for _, name := range o.dataNames() {
		d.SetKey(starlark.String(name), attrs[name])
	}
	return d
}

// MarshalJSON lets json.encode write the data attributes as an object.
func (o *Object) MarshalJSON() ([]byte, error) {
	thread := &starlark.Thread{Name: "json.encode " + o.typ}
	v, err := starlark.Call(thread, json.Module.Members["encode"], starlark.Tuple{o.Data()}, nil)
	if err != nil {
		return nil, err
	}
	return []byte(string(v.(starlark.String))), nil
}
