package runtime

import (
	"fmt"
	"strings"

	"go.starlark.net/syntax"
)

// DocIndex lists every builtin with its signature and summary, then the stdlib modules.
func DocIndex() string {
	var sb strings.Builder
	sb.WriteString("Builtins (starlab doc NAME for details):\n\n")
	for _, b := range Builtins() {
		fmt.Fprintf(&sb, "%s\n    %s\n", b.Signature, summary(b.Doc))
	}
	sb.WriteString("\nStandard modules: json, math, struct.\n")
	sb.WriteString("\nStdlib modules (starlab doc @stdlib//NAME.star):\n")
	for _, m := range StdlibModules() {
		fmt.Fprintf(&sb, "    %s%s\n", StdlibPrefix, m)
	}
	return sb.String()
}

// DocBuiltin is the full documentation of one builtin.
func DocBuiltin(name string) (string, bool) {
	b, ok := Lookup(name)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s\n\n%s\n", b.Signature, strings.TrimSpace(b.Doc)), true
}

// DocMarkdown renders the reference of every builtin and stdlib module as Markdown; the README's
// reference section is this text (a test keeps them equal).
func DocMarkdown() string {
	var sb strings.Builder
	sb.WriteString("### Builtins\n\n")
	for _, b := range Builtins() {
		fmt.Fprintf(&sb, "#### `%s`\n\n```python\n%s\n```\n\n%s\n\n", b.Name, b.Signature, strings.TrimSpace(b.Doc))
	}
	sb.WriteString("### Stdlib modules\n\n")
	for _, m := range StdlibModules() {
		text, err := DocModule(StdlibPrefix + m)
		if err != nil {
			continue
		}
		fmt.Fprintf(&sb, "#### `%s%s`\n\n```\n%s```\n\n", StdlibPrefix, m, strings.TrimPrefix(text, StdlibPrefix+m+"\n"))
	}
	return sb.String()
}

// DocModule lists the public functions of a stdlib module with their docstrings.
func DocModule(module string) (string, error) {
	ms, err := readStdlib(strings.TrimPrefix(module, StdlibPrefix))
	if err != nil {
		return "", err
	}
	f, err := Dialect.Parse(ms.name, ms.src, 0)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n", ms.name)
	if doc := docstring(f.Stmts); doc != "" {
		fmt.Fprintf(&sb, "    %s\n", doc)
	}
	sb.WriteString("\n")
	for _, stmt := range f.Stmts {
		def, ok := stmt.(*syntax.DefStmt)
		if !ok || strings.HasPrefix(def.Name.Name, "_") {
			continue
		}
		var params []string
		for _, p := range def.Params {
			params = append(params, exprString(p))
		}
		fmt.Fprintf(&sb, "%s(%s)\n", def.Name.Name, strings.Join(params, ", "))
		if doc := docstring(def.Body); doc != "" {
			for _, line := range strings.Split(doc, "\n") {
				fmt.Fprintln(&sb, strings.TrimRight("    "+strings.TrimSpace(line), " "))
			}
		}
		sb.WriteString("\n")
	}
	return sb.String(), nil
}

func docstring(stmts []syntax.Stmt) string {
	if len(stmts) == 0 {
		return ""
	}
	if e, ok := stmts[0].(*syntax.ExprStmt); ok {
		if lit, ok := e.X.(*syntax.Literal); ok && lit.Token == syntax.STRING {
			return strings.TrimSpace(lit.Value.(string))
		}
	}
	return ""
}

// exprString renders a parameter: name, name=default, *args or **kwargs.
func exprString(e syntax.Expr) string {
	switch e := e.(type) {
	case *syntax.Ident:
		return e.Name
	case *syntax.BinaryExpr:
		if e.Op == syntax.EQ {
			return exprString(e.X) + "=" + exprString(e.Y)
		}
	case *syntax.UnaryExpr:
		if e.X == nil {
			return e.Op.String()
		}
		return e.Op.String() + exprString(e.X)
	case *syntax.Literal:
		return e.Raw
	}
	return "..."
}

func summary(doc string) string {
	doc = strings.TrimSpace(doc)
	if i := strings.Index(doc, "\n"); i >= 0 {
		doc = doc[:i]
	}
	return doc
}
