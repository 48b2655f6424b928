package runtime

import (
	"fmt"
	"os"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// CheckReport is what `starlab check` finds without running anything.
type CheckReport struct {
	Files  []string    // the plan and every module it loads, in load order
	Params []ParamDecl // declared params
}

// Check parses and resolves a plan and every module it loads (undefined names, bad loads, names a
// module does not define, load cycles, syntax errors) and validates --set values against the
// params. It executes nothing.
func Check(planPath string, sets map[string]string, extra starlark.StringDict) (*CheckReport, error) {
	src, err := os.ReadFile(planPath)
	if err != nil {
		return nil, err
	}
	pre := Predeclared()
	for k, v := range extra {
		pre[k] = v
	}
	rep := &CheckReport{}
	globals := map[string][]string{} // module id -> global names
	var stack []string
	var visit func(id, name string, src []byte) error
	visit = func(id, name string, src []byte) error {
		for i, s := range stack {
			if s == id {
				var chain []string
				for _, n := range stack[i:] {
					chain = append(chain, displayOf(n))
				}
				return fmt.Errorf("load cycle: %s -> %s", strings.Join(chain, " -> "), name)
			}
		}
		if _, done := globals[id]; done {
			return nil
		}
		stack = append(stack, id)
		defer func() { stack = stack[:len(stack)-1] }()
		rep.Files = append(rep.Files, name)
		f, err := Dialect.Parse(name, src, 0)
		if err != nil {
			return err
		}
		for _, stmt := range f.Stmts {
			load, ok := stmt.(*syntax.LoadStmt)
			if !ok {
				continue
			}
			module := load.Module.Value.(string)
			ms, err := resolveModule(name, module)
			if err != nil {
				return fmt.Errorf("%s: %v", load.Load, err)
			}
			if err := visit(ms.id, ms.name, ms.src); err != nil {
				return err
			}
			have := map[string]bool{}
			for _, g := range globals[ms.id] {
				have[g] = true
			}
			for _, from := range load.To {
				if !have[from.Name] || strings.HasPrefix(from.Name, "_") {
					return fmt.Errorf("%s: load: %s does not define %s", from.NamePos, module, from.Name)
				}
			}
		}
		if err := resolve.File(f, pre.Has, starlark.Universe.Has); err != nil {
			return err
		}
		var names []string
		for _, b := range f.Module.(*resolve.Module).Globals {
			names = append(names, b.First.Name)
		}
		globals[id] = names
		return nil
	}
	if err := visit(mustAbs(planPath), displayPath(mustAbs(planPath)), src); err != nil {
		return nil, err
	}
	decls, err := ScanParams(planPath)
	if err != nil {
		return nil, err
	}
	rep.Params = decls
	if err := CheckSets(decls, sets); err != nil {
		return rep, &UsageError{err}
	}
	return rep, nil
}

func displayOf(id string) string {
	if strings.HasPrefix(id, StdlibPrefix) {
		return id
	}
	return displayPath(id)
}
