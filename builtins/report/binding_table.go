package report

import (
	"path/filepath"

	"go.starlark.net/starlark"

	"starlab/builtins/analysis"
	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func tableFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name fileName
	var rows *starlark.List
	var columns runtime.Opt[runtime.Strings]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "name", &name, "rows", &rows, "columns?", &columns); err != nil {
		return nil, err
	}
	var t analysis.Table
	if err := t.Unpack(rows); err != nil {
		return nil, paramerr.Wrap("rows", err)
	}
	cols := columns.V
	if !columns.Set {
		cols = keysOf(rows)
	}
	run := runtime.FromThread(thread)
	tab := Table{Name: string(name), Columns: cols, Rows: safeRows(t.Rows)}
	data, err := tableCSV(cols, tab.Rows)
	if err != nil {
		return nil, err
	}
	rel := "tables/" + tab.Name + ".csv"
	if err := writeFile(filepath.Join(run.Dir, rel), data); err != nil {
		return nil, err
	}
	st := stateOf(run)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tables = upsert(st.tables, tab, func(t Table) string { return t.Name })
	return starlark.String(rel), nil
}

// keysOf is the rows' keys in the order the plan wrote them: table's default columns.
func keysOf(rows *starlark.List) []string {
	var cols []string
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
	return cols
}
