package report

import (
	"fmt"
	"path/filepath"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"starlab/builtins/analysis"
	"starlab/runtime"
)

func tableFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var rows *starlark.List
	var columns starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "rows", &rows, "columns?", &columns); err != nil {
		return nil, err
	}
	if err := nameArg(b, "name", name); err != nil {
		return nil, err
	}
	t, err := analysis.TableArg(b, "rows", rows)
	if err != nil {
		return nil, err
	}
	cols, err := columnsOf(b, columns, rows)
	if err != nil {
		return nil, err
	}
	run := runtime.FromThread(thread)
	tab := Table{Name: name, Columns: cols, Rows: safeRows(t.Rows)}
	data, err := tableCSV(cols, tab.Rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	rel := "tables/" + name + ".csv"
	if err := writeFile(filepath.Join(run.Dir, rel), data); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	st := stateOf(run)
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, old := range st.tables {
		if old.Name == name {
			st.tables[i] = tab
			return starlark.String(rel), nil
		}
	}
	st.tables = append(st.tables, tab)
	return starlark.String(rel), nil
}

// columnsOf is the explicit column list, or the rows' keys in the order the plan wrote them.
func columnsOf(b *starlark.Builtin, columns starlark.Value, rows *starlark.List) ([]string, error) {
	var cols []string
	if columns != starlark.None {
		seq, ok := columns.(starlark.Indexable)
		if !ok || columns.Type() == "string" {
			return nil, runtime.ArgError(b, "columns", "got %s, want a list of strings", columns.Type())
		}
		for i := 0; i < seq.Len(); i++ {
			s, ok := starlark.AsString(seq.Index(i))
			if !ok {
				return nil, runtime.ArgError(b, "columns", "element %d is %s, want a string", i, seq.Index(i).Type())
			}
			cols = append(cols, s)
		}
		return cols, nil
	}
	seen := map[string]bool{}
	for i := 0; i < rows.Len(); i++ {
		var keys []string
		switch r := rows.Index(i).(type) {
		case *starlark.Dict:
			for _, k := range r.Keys() {
				if s, ok := starlark.AsString(k); ok {
					keys = append(keys, s)
				}
			}
		case starlark.HasAttrs:
			keys = r.AttrNames()
		}
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	return cols, nil
}

func mkStruct(fields starlark.StringDict) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, fields)
}
