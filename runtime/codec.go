package runtime

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// EncodeValue turns a Starlark value into JSON that DecodeValue turns back into an equal value of
// the same type. Strings, bools and None are bare JSON; every other type is an object with one key
// naming it, so ints stay ints (big ones included), floats keep every bit (inf and nan too), and
// tuples stay tuples.
func EncodeValue(v starlark.Value) (json.RawMessage, error) {
	x, err := toJSONTree(v, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(x)
}

const maxDepth = 100

func toJSONTree(v starlark.Value, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.String:
		return string(v), nil
	case starlark.Bytes:
		return map[string]any{"bytes": base64.StdEncoding.EncodeToString([]byte(v))}, nil
	case starlark.Int:
		return map[string]any{"int": v.String()}, nil
	case starlark.Float:
		return map[string]any{"float": formatFloat(float64(v))}, nil
	case *starlark.List:
		return seqTree("list", v, depth)
	case starlark.Tuple:
		return seqTree("tuple", v, depth)
	case *starlark.Dict:
		pairs := make([]any, 0, v.Len())
		for _, kv := range v.Items() {
			k, err := toJSONTree(kv[0], depth+1)
			if err != nil {
				return nil, err
			}
			val, err := toJSONTree(kv[1], depth+1)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, []any{k, val})
		}
		return map[string]any{"dict": pairs}, nil
	case *starlarkstruct.Struct:
		fields := map[string]any{}
		for _, name := range v.AttrNames() {
			fv, _ := v.Attr(name)
			x, err := toJSONTree(fv, depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", name, err)
			}
			fields[name] = x
		}
		return map[string]any{"struct": fields}, nil
	case *Object:
		data, err := toJSONTree(v.Data(), depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.typ, err)
		}
		return map[string]any{"object": map[string]any{"type": v.typ, "data": data}}, nil
	}
	return nil, fmt.Errorf("cannot record a value of type %s in the journal", v.Type())
}

func seqTree(tag string, seq starlark.Indexable, depth int) (any, error) {
	items := make([]any, seq.Len())
	for i := range items {
		x, err := toJSONTree(seq.Index(i), depth+1)
		if err != nil {
			return nil, err
		}
		items[i] = x
	}
	return map[string]any{tag: items}, nil
}

// formatFloat writes the shortest decimal that parses back to the same float64.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	case "nan":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// DecodeValue is the inverse of EncodeValue.
func DecodeValue(data json.RawMessage) (starlark.Value, error) {
	var x any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	return fromJSONTree(x)
}

func fromJSONTree(x any) (starlark.Value, error) {
	switch x := x.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(x), nil
	case string:
		return starlark.String(x), nil
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("journal value: object with %d keys, want one type tag", len(x))
		}
		for tag, body := range x {
			return fromTagged(tag, body)
		}
	}
	return nil, fmt.Errorf("journal value: unexpected %T", x)
}

func fromTagged(tag string, body any) (starlark.Value, error) {
	switch tag {
	case "int":
		s, _ := body.(string)
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("journal value: bad int %q", s)
		}
		return starlark.MakeBigInt(n), nil
	case "float":
		s, _ := body.(string)
		f, err := parseFloat(s)
		if err != nil {
			return nil, fmt.Errorf("journal value: bad float %q", s)
		}
		return starlark.Float(f), nil
	case "bytes":
		s, _ := body.(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("journal value: bad bytes: %v", err)
		}
		return starlark.Bytes(b), nil
	case "list", "tuple":
		items, ok := body.([]any)
		if !ok {
			return nil, fmt.Errorf("journal value: %s is not an array", tag)
		}
		elems := make([]starlark.Value, len(items))
		for i, it := range items {
			v, err := fromJSONTree(it)
			if err != nil {
				return nil, err
			}
			elems[i] = v
		}
		if tag == "tuple" {
			return starlark.Tuple(elems), nil
		}
		return starlark.NewList(elems), nil
	case "dict":
		pairs, ok := body.([]any)
		if !ok {
			return nil, fmt.Errorf("journal value: dict is not an array of pairs")
		}
		d := starlark.NewDict(len(pairs))
		for _, p := range pairs {
			kv, ok := p.([]any)
			if !ok || len(kv) != 2 {
				return nil, fmt.Errorf("journal value: bad dict entry")
			}
			k, err := fromJSONTree(kv[0])
			if err != nil {
				return nil, err
			}
			v, err := fromJSONTree(kv[1])
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(k, v); err != nil {
				return nil, err
			}
		}
		return d, nil
	case "struct":
		fields, ok := body.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("journal value: struct is not an object")
		}
		sd := starlark.StringDict{}
		for name, fx := range fields {
			v, err := fromJSONTree(fx)
			if err != nil {
				return nil, err
			}
			sd[name] = v
		}
		return starlarkstruct.FromStringDict(starlarkstruct.Default, sd), nil
	case "object":
		obj, ok := body.(map[string]any)
		typ, _ := obj["type"].(string)
		if !ok || typ == "" {
			return nil, fmt.Errorf("journal value: object without a type")
		}
		data, err := fromJSONTree(obj["data"])
		if err != nil {
			return nil, err
		}
		d, ok := data.(*starlark.Dict)
		if !ok {
			return nil, fmt.Errorf("journal value: %s data is not a dict", typ)
		}
		attrs := starlark.StringDict{}
		for _, kv := range d.Items() {
			name, _ := starlark.AsString(kv[0])
			attrs[name] = kv[1]
		}
		if rebuild, ok := objectDecoders[typ]; ok {
			return rebuild(attrs)
		}
		return NewObject(typ, attrs), nil
	}
	return nil, fmt.Errorf("journal value: unknown type tag %q", tag)
}

// objectDecoders rebuild journaled Objects whose methods need more than their data attributes.
var objectDecoders = map[string]func(starlark.StringDict) (starlark.Value, error){}

// RegisterObjectDecoder tells the journal how to rebuild an Object of type typ, methods included,
// from its data attributes; without one a journaled Object comes back with its data alone. Call
// it from init.
func RegisterObjectDecoder(typ string, rebuild func(data starlark.StringDict) (starlark.Value, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	objectDecoders[typ] = rebuild
}

// Keyer is implemented by values that appear as arguments of steps and whose printed form is not
// a stable identity (a Server prints its URL, which changes with the port; its key is its name and
// configuration).
type Keyer interface {
	StepKey() string
}

// CanonicalArgs renders a call's arguments as a deterministic string: positional arguments in
// order, keyword arguments sorted by name, floats in shortest round-trip form, and Keyer values by
// their key. Two calls with equal arguments give equal strings, whatever the keyword order.
func CanonicalArgs(args starlark.Tuple, kwargs []starlark.Tuple) string {
	var sb strings.Builder
	for i, a := range args {
		if i > 0 {
			sb.WriteString(", ")
		}
		writeCanonical(&sb, a, 0)
	}
	kw := make([]starlark.Tuple, len(kwargs))
	copy(kw, kwargs)
	sort.Slice(kw, func(i, j int) bool {
		return string(kw[i][0].(starlark.String)) < string(kw[j][0].(starlark.String))
	})
	for i, p := range kw {
		if i > 0 || len(args) > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(string(p[0].(starlark.String)))
		sb.WriteString("=")
		writeCanonical(&sb, p[1], 0)
	}
	return sb.String()
}

func writeCanonical(sb *strings.Builder, v starlark.Value, depth int) {
	if depth > maxDepth {
		sb.WriteString("...")
		return
	}
	switch v := v.(type) {
	case Keyer:
		sb.WriteString(v.StepKey())
	case starlark.Float:
		sb.WriteString(formatFloat(float64(v)))
	case *starlark.List:
		sb.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeCanonical(sb, v.Index(i), depth+1)
		}
		sb.WriteString("]")
	case starlark.Tuple:
		sb.WriteString("(")
		for i, e := range v {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeCanonical(sb, e, depth+1)
		}
		sb.WriteString(")")
	case *starlark.Dict:
		sb.WriteString("{")
		for i, kv := range v.Items() {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeCanonical(sb, kv[0], depth+1)
			sb.WriteString(": ")
			writeCanonical(sb, kv[1], depth+1)
		}
		sb.WriteString("}")
	case *starlarkstruct.Struct:
		sb.WriteString("struct(")
		for i, name := range v.AttrNames() {
			if i > 0 {
				sb.WriteString(", ")
			}
			fv, _ := v.Attr(name)
			sb.WriteString(name)
			sb.WriteString("=")
			writeCanonical(sb, fv, depth+1)
		}
		sb.WriteString(")")
	default:
		sb.WriteString(v.String())
	}
}
