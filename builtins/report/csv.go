package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"

	"starlab/builtins/sweep/pointschema"
)

// sweepCSV flattens a sweep's points (nested objects become dotted columns, lists JSON) so that
// a spreadsheet sees every field; the load columns come first, the rest sorted by name. Columns
// are addressed by name, not position: a field new to some points adds a column in its sorted
// place. A field with an interval (the point's ci) is followed by <field>_lo and <field>_hi, so
// the ci object itself gets no column of its own.
func sweepCSV(s Sweep) ([]byte, error) {
	flat := make([]map[string]any, len(s.Rows))
	cols := map[string]bool{}
	withCI := map[string]bool{}
	for i, r := range s.Rows {
		flat[i] = map[string]any{}
		rest := make(map[string]any, len(r))
		for k, v := range r {
			if k != "ci" {
				rest[k] = v
			}
		}
		flatten("", rest, flat[i])
		ci, _ := r["ci"].(map[string]any)
		for field, pair := range ci {
			ends, _ := pair.([]any)
			if len(ends) != 2 {
				continue
			}
			flat[i][field+"_lo"], flat[i][field+"_hi"] = ends[0], ends[1]
			withCI[field] = true
		}
		for k := range flat[i] {
			cols[k] = true
		}
	}
	var order []string
	for _, k := range []string{pointschema.RequestRate, pointschema.MaxConcurrency} {
		if cols[k] {
			order = append(order, k)
			delete(cols, k)
		}
	}
	// Each field with an interval is followed by its ends, whether or not the field itself is a
	// column.
	keys := map[string]bool{}
	for k := range cols {
		keys[k] = true
	}
	for f := range withCI {
		delete(keys, f+"_lo")
		delete(keys, f+"_hi")
		keys[f] = true
	}
	for _, k := range sortedKeys(keys) {
		if cols[k] {
			order = append(order, k)
		}
		if withCI[k] {
			order = append(order, k+"_lo", k+"_hi")
		}
	}
	return tableCSV(order, flat)
}

func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = v
	}
}

// tableCSV writes rows under the given columns; numbers in shortest round-trip form.
func tableCSV(cols []string, rows []map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(cols); err != nil {
		return nil, err
	}
	for _, r := range rows {
		rec := make([]string, len(cols))
		for j, c := range cols {
			rec[j] = csvValue(r[c])
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case []any, map[string]any:
		data, err := json.Marshal(jsonSafe(x))
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(data)
	}
	return fmt.Sprint(v)
}
