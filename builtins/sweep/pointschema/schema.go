package pointschema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Kind is what a field holds in JSON.
type Kind string

// The kinds a point field can have.
const (
	KindInt    Kind = "int"    // a count
	KindFloat  Kind = "float"  // a measurement; may be "inf" or null (jsonnum)
	KindString Kind = "string" // text, or a time.Time
	KindBool   Kind = "bool"
	KindObject Kind = "object" // nested fields follow as "path.field"
	KindMap    Kind = "map"    // keys chosen at run time (errors: reason -> count)
	KindList   Kind = "list"   // element fields, if any, follow as "path[].field"
)

// Field is one JSON field of a point.
type Field struct {
	Path string // JSON path: "request_rate", "client.bottleneck", "gpu.devices[].samples"
	Go   string // Go field path: "RequestRate", "Client.Bottleneck"
	Kind Kind
}

// Key is the field's own JSON name, the last element of Path: the key runtime.FromJSON and a
// flattened row see.
func (f Field) Key() string {
	return f.Path[strings.LastIndexAny(f.Path, ".]")+1:]
}

// Fields describes Point. gpu is a KindObject with nothing below it, since it is raw JSON here;
// sweep.PointFields adds gpu.PointTelemetry's fields.
func Fields() []Field { return Describe(reflect.TypeFor[Point]()) }

// Lookup finds the field at a JSON path in fields.
func Lookup(fields []Field, path string) (Field, bool) {
	for _, f := range fields {
		if f.Path == path {
			return f, true
		}
	}
	return Field{}, false
}

// Describe lists the JSON fields of struct type t as encoding/json writes them, in declaration
// order, each nested struct's and list element's fields right after their parent.
func Describe(t reflect.Type) []Field {
	var out []Field
	describe(t, "", "", &out)
	return out
}

var (
	rawType  = reflect.TypeFor[json.RawMessage]()
	timeType = reflect.TypeFor[time.Time]()
)

func describe(t reflect.Type, path, goPath string, out *[]Field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		ft := deref(sf.Type)
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			describe(ft, path, goPath, out) // encoding/json lifts an embedded struct's fields
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f := Field{Path: path + name, Go: goPath + sf.Name, Kind: kindOf(ft)}
		if f.Kind == "" {
			panic(fmt.Sprintf("pointschema: %s has type %s, which has no kind", f.Go, sf.Type))
		}
		*out = append(*out, f)
		switch {
		case f.Kind == KindObject && ft != rawType:
			describe(ft, f.Path+".", f.Go+".", out)
		case f.Kind == KindList && deref(ft.Elem()).Kind() == reflect.Struct && deref(ft.Elem()) != t:
			// A list of the struct itself (a point's repeats) has the struct's own fields.
			describe(deref(ft.Elem()), f.Path+"[].", f.Go+"[].", out)
		}
	}
}

func kindOf(t reflect.Type) Kind {
	switch t {
	case rawType:
		return KindObject
	case timeType:
		return KindString
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return KindInt
	case reflect.Float32, reflect.Float64:
		return KindFloat
	case reflect.String:
		return KindString
	case reflect.Bool:
		return KindBool
	case reflect.Struct:
		return KindObject
	case reflect.Map:
		return KindMap
	case reflect.Slice, reflect.Array:
		return KindList
	}
	return ""
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
