package runtime

import (
	"fmt"
	"math"
	"os"
	"sort"
	"starlab/runtime/paramerr"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// ParamDecl is a param() call found in a plan or a module it loads, before anything runs.
type ParamDecl struct {
	Name    string
	Default starlark.Value // nil when the default is not a literal
	Doc     string
	Pos     string
}

// paramSet holds the values given with --set and the params the plan declared as it ran.
type paramSet struct {
	sets   map[string]string
	values map[string]starlark.Value
	order  []string
}

// ScanParams parses the plan and every module it loads and returns their param() declarations. It
// executes nothing, so `starlab check` and --set validation happen before any server starts.
func ScanParams(planPath string) ([]ParamDecl, error) {
	src, err := os.ReadFile(planPath)
	if err != nil {
		return nil, err
	}
	var decls []ParamDecl
	seen := map[string]bool{}
	var scan func(name string, src []byte) error
	scan = func(name string, src []byte) error {
		f, err := Dialect.Parse(name, src, 0)
		if err != nil {
			return err
		}
		var walkErr error
		syntax.Walk(f, func(n syntax.Node) bool {
			switch n := n.(type) {
			case *syntax.LoadStmt:
				ms, err := resolveModule(name, n.Module.Value.(string))
				if err != nil {
					walkErr = fmt.Errorf("%s: %v", n.Load, err)
					return false
				}
				if !seen[ms.id] {
					seen[ms.id] = true
					if err := scan(ms.name, ms.src); err != nil {
						walkErr = err
						return false
					}
				}
			case *syntax.CallExpr:
				if id, ok := n.Fn.(*syntax.Ident); ok && id.Name == "param" {
					if d, ok := paramDecl(n); ok {
						decls = append(decls, d)
					}
				}
			}
			return walkErr == nil
		})
		return walkErr
	}
	seen[mustAbs(planPath)] = true
	if err := scan(planPath, src); err != nil {
		return nil, err
	}
	return decls, nil
}

// paramDecl reads param(name, default, doc) from a call whose name is a string literal.
func paramDecl(call *syntax.CallExpr) (ParamDecl, bool) {
	var nameExpr, defExpr, docExpr syntax.Expr
	pos := 0
	for _, a := range call.Args {
		if b, ok := a.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			switch b.X.(*syntax.Ident).Name {
			case "name":
				nameExpr = b.Y
			case "default":
				defExpr = b.Y
			case "doc":
				docExpr = b.Y
			}
			continue
		}
		switch pos {
		case 0:
			nameExpr = a
		case 1:
			defExpr = a
		case 2:
			docExpr = a
		}
		pos++
	}
	lit, ok := nameExpr.(*syntax.Literal)
	if !ok || lit.Token != syntax.STRING {
		return ParamDecl{}, false
	}
	start, _ := call.Span()
	d := ParamDecl{Name: lit.Value.(string), Pos: start.String()}
	if defExpr != nil {
		thread := &starlark.Thread{Name: "param-scan"}
		if v, err := starlark.EvalExprOptions(Dialect, thread, defExpr, nil); err == nil {
			d.Default = v
		}
	}
	if l, ok := docExpr.(*syntax.Literal); ok && l.Token == syntax.STRING {
		d.Doc = l.Value.(string)
	}
	return d, true
}

// CheckSets validates --set values against the declarations: an unknown name, or a value that
// does not convert to its default's type, is an error before anything runs.
func CheckSets(decls []ParamDecl, sets map[string]string) error {
	byName := map[string]ParamDecl{}
	for _, d := range decls {
		byName[d.Name] = d
	}
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d, ok := byName[n]
		if !ok {
			known := make([]string, 0, len(byName))
			for k := range byName {
				known = append(known, k)
			}
			sort.Strings(known)
			if len(known) == 0 {
				return fmt.Errorf("--set %s: the plan declares no params", n)
			}
			return fmt.Errorf("--set %s: the plan has no param %q (it has: %s)", n, n, strings.Join(known, ", "))
		}
		if d.Default == nil {
			continue // checked when param() runs
		}
		if _, err := ConvertParam(sets[n], d.Default); err != nil {
			return fmt.Errorf("--set %s=%s: %v (param declared at %s)", n, sets[n], err, d.Pos)
		}
	}
	return nil
}

// ConvertParam converts a --set value to the type of the param's default: int, float, bool,
// string, or a list/tuple of numbers or strings written "1,2,4". A None default takes a string.
func ConvertParam(raw string, def starlark.Value) (starlark.Value, error) {
	return convertParam(raw, def, 0)
}

// maxParamNesting bounds how deep list defaults nest: a default that holds itself (`l = [];
// l.append(l)`) would otherwise recurse until the stack overflows and kills the run.
const maxParamNesting = 32

var errNestedTooDeep = fmt.Errorf("the default nests lists more than %d deep", maxParamNesting)

func convertParam(raw string, def starlark.Value, depth int) (starlark.Value, error) {
	raw = strings.TrimSpace(raw)
	switch d := def.(type) {
	case starlark.NoneType, starlark.String:
		return starlark.String(raw), nil
	case starlark.Int:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an int, got %q", raw)
		}
		return starlark.MakeInt64(n), nil
	case starlark.Float:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return nil, fmt.Errorf("want a number, got %q", raw)
		}
		return starlark.Float(f), nil
	case starlark.Bool:
		switch strings.ToLower(raw) {
		case "true", "1", "yes", "on":
			return starlark.True, nil
		case "false", "0", "no", "off":
			return starlark.False, nil
		}
		return nil, fmt.Errorf("want true or false, got %q", raw)
	case *starlark.List:
		elems, err := convertList(raw, d, depth)
		if err != nil {
			return nil, err
		}
		return starlark.NewList(elems), nil
	case starlark.Tuple:
		elems, err := convertList(raw, d, depth)
		if err != nil {
			return nil, err
		}
		return starlark.Tuple(elems), nil
	}
	return nil, fmt.Errorf("a param whose default is a %s cannot be set from the command line", def.Type())
}

// convertList splits "1,2,4" and types each element like the default's first element; an empty
// default takes numbers (ints when every element is an integer).
func convertList(raw string, def starlark.Indexable, depth int) ([]starlark.Value, error) {
	if depth >= maxParamNesting {
		return nil, errNestedTooDeep
	}
	if raw == "" {
		return nil, nil
	}
	parts := strings.Split(raw, ",")
	var elemDefault starlark.Value
	if def.Len() > 0 {
		elemDefault = def.Index(0)
	} else {
		elemDefault = starlark.MakeInt(0)
		for _, p := range parts {
			if _, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64); err != nil {
				elemDefault = starlark.Float(0)
				break
			}
		}
	}
	if _, isInt := elemDefault.(starlark.Int); isInt {
		// A list of ints accepts floats too ("0.5,1,2"): rates are often fractional.
		for _, p := range parts {
			if _, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64); err != nil {
				elemDefault = starlark.Float(0)
				break
			}
		}
	}
	out := make([]starlark.Value, len(parts))
	for i, p := range parts {
		v, err := convertParam(p, elemDefault, depth+1)
		if err == errNestedTooDeep {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("element %d: %v", i+1, err)
		}
		if f, ok := v.(starlark.Float); ok && (math.IsNaN(float64(f))) {
			return nil, fmt.Errorf("element %d: not a number", i+1)
		}
		out[i] = v
	}
	return out, nil
}

func init() {
	Register(Builtin{
		Name:      "param",
		Signature: `param(name, default, doc="")`,
		Doc: `Declares a plan parameter and returns its value: the --set name=value given on the command
line, converted to the type of default (int, float, bool, string, or a list such as "10,20,40"),
or default itself. Unknown --set names and values that do not convert are errors before the plan
runs; "starlab check PLAN" and "starlab doc PLAN" list a plan's params.`,
		Fn: paramBuiltin,
	})
}

func paramBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, doc string
	var def starlark.Value
	if err := UnpackArgs(thread, b, args, kwargs, "name", &name, "default", &def, "doc?", &doc); err != nil {
		return nil, err
	}
	r := FromThread(thread)
	ps := r.params
	if prev, ok := ps.values[name]; ok {
		return prev, nil
	}
	v := def
	if raw, ok := ps.sets[name]; ok {
		conv, err := ConvertParam(raw, def)
		if err != nil {
			return nil, paramerr.New("default", "--set %s=%s: %v", name, raw, err)
		}
		v = conv
	}
	v.Freeze()
	ps.values[name] = v
	ps.order = append(ps.order, name)
	if r.manifest != nil {
		_ = r.manifest.Set("params", ps.manifestValues())
	}
	return v, nil
}

// manifestValues renders the params for manifest.json as JSON-friendly values.
func (ps *paramSet) manifestValues() map[string]any {
	out := map[string]any{}
	for _, n := range ps.order {
		out[n] = toPlain(ps.values[n], 0)
	}
	return out
}

// toPlain converts simple Starlark values to Go values for JSON (manifests, reports). Lists
// nested deeper than maxParamNesting (a list that holds itself) are written as their repr.
func toPlain(v starlark.Value, depth int) any {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.Bool:
		return bool(v)
	case starlark.Int:
		if n, ok := v.Int64(); ok {
			return n
		}
		return v.String()
	case starlark.Float:
		f := float64(v)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return formatFloat(f)
		}
		return f
	case starlark.String:
		return string(v)
	case starlark.Indexable:
		if depth >= maxParamNesting {
			return v.String()
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toPlain(v.Index(i), depth+1)
		}
		return out
	}
	return v.String()
}
