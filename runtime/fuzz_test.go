package runtime_test

// Fuzzers for what the runtime reads from outside: --set values and the journal a killed or
// copied run left behind. scripts/fuzz.sh runs them.

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"starlab/runtime"
)

// paramDefaults are the defaults a plan's param() may declare, by kind: every type ConvertParam
// takes, one it refuses, and list defaults whose element is itself a list (a cycle included, as
// `l = []; l.append(l)` makes one).
func paramDefaults() []starlark.Value {
	cyclic := starlark.NewList(nil)
	cyclic.Append(cyclic)
	return []starlark.Value{
		starlark.None, starlark.String("meta-llama/Llama-3.1-8B"), starlark.MakeInt(3), starlark.Float(0.5),
		starlark.True, starlark.NewList([]starlark.Value{starlark.MakeInt(10), starlark.MakeInt(20)}),
		starlark.NewList(nil), starlark.NewList([]starlark.Value{starlark.Float(1.5)}),
		starlark.NewList([]starlark.Value{starlark.String("vllm")}), starlark.Tuple{starlark.MakeInt(1)},
		starlark.NewDict(0), starlark.NewList([]starlark.Value{starlark.NewList([]starlark.Value{starlark.MakeInt(1)})}),
		cyclic,
	}
}

// FuzzConvertParam: any --set value converts to its default's type or fails with a reason, and
// CheckSets says the same with the flag, name and value in front.
func FuzzConvertParam(f *testing.F) {
	defaults := paramDefaults()
	for i, raw := range []string{"7", "7.5", "inf", "x", "true", "No", "meta-llama/Llama-3.1-8B", "10,20,40",
		"0.5, 1,2", "1,2.5", "a,b", "1,x", "", " , ", "nan", "1e400", "-0", "0x10", "9223372036854775808", "1,,2"} {
		f.Add(raw, uint8(i))
	}
	f.Fuzz(func(t *testing.T, raw string, kind uint8) {
		def := defaults[int(kind)%len(defaults)]
		v, err := runtime.ConvertParam(raw, def)
		decl := []runtime.ParamDecl{{Name: "p", Default: def}}
		setErr := runtime.CheckSets(decl, map[string]string{"p": raw})
		if (err == nil) != (setErr == nil) {
			t.Fatalf("ConvertParam %v, CheckSets %v", err, setErr)
		}
		if err != nil {
			if err.Error() == "" || !strings.HasPrefix(setErr.Error(), "--set p="+raw+": ") {
				t.Fatalf("errors %q and %q", err, setErr)
			}
			return
		}
		trimmed := strings.TrimSpace(raw)
		switch def.(type) {
		case starlark.NoneType, starlark.String:
			if s, ok := v.(starlark.String); !ok || string(s) != trimmed {
				t.Fatalf("%q as a string: %v", raw, v)
			}
		case starlark.Int:
			i, isInt := v.(starlark.Int)
			n, ok := i.Int64()
			if want, err := strconv.ParseInt(trimmed, 10, 64); !isInt || !ok || err != nil || n != want {
				t.Fatalf("%q as an int: %v", raw, v)
			}
		case starlark.Float:
			if _, ok := v.(starlark.Float); !ok {
				t.Fatalf("%q as a float: %v (%s)", raw, v, v.Type())
			}
		case starlark.Bool:
			if _, ok := v.(starlark.Bool); !ok {
				t.Fatalf("%q as a bool: %v", raw, v)
			}
		case *starlark.List, starlark.Tuple:
			if v.Type() != def.Type() {
				t.Fatalf("%q as a %s: %v (%s)", raw, def.Type(), v, v.Type())
			}
			n, want := v.(starlark.Indexable).Len(), 0
			if trimmed != "" {
				want = strings.Count(trimmed, ",") + 1
			}
			if n != want {
				t.Fatalf("%q: %d elements, want %d", raw, n, want)
			}
			for i := range n {
				switch e := v.(starlark.Indexable).Index(i).(type) {
				case starlark.Int, starlark.String, starlark.Bool, *starlark.List, starlark.Tuple:
					// a list default whose elements are lists gives lists, one per part
				case starlark.Float:
					if math.IsNaN(float64(e)) {
						t.Fatalf("%q: element %d is NaN", raw, i+1)
					}
				default:
					t.Fatalf("%q: element %d is a %s", raw, i+1, e.Type())
				}
			}
		default:
			t.Fatalf("a %s default converted: %v", def.Type(), v)
		}
	})
}

// FuzzOpenJournal: any journal.jsonl opens, keeping the records it can read and counting the
// lines it cannot; a step appended after it is read back, and skips nothing more.
func FuzzOpenJournal(f *testing.F) {
	// A journal the runtime wrote, as the seed: a few steps with typical results, then torn.
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.jsonl")
	j, err := runtime.OpenJournal(seed, false)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range []runtime.JournalEntry{
		{Key: `start_vllm("Llama-3.1-8B", max_model_len=8192)#1`, Builtin: "start_vllm", Args: `"Llama-3.1-8B", max_model_len=8192`,
			Ordinal: 1, Pos: "plan.star:1:15", Result: json.RawMessage(`{"name":"Llama-3.1-8B-1gpu","kv_cache":{"memory_gib":23.78,"tokens":194864}}`)},
		{Key: `sweep(server, rates=[1, 2])#1`, Builtin: "sweep", Args: `server, rates=[1, 2]`, Ordinal: 1,
			Result: json.RawMessage(`{"__type__":"Sweep","points":[{"request_rate":1,"median_ttft_ms":null}]}`)},
		{Key: `param("n")#1`, Builtin: "param", Result: json.RawMessage(`3`)},
	} {
		if err := j.Append(e); err != nil {
			f.Fatal(err)
		}
	}
	j.Close()
	written, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(written)
	f.Add(written[:len(written)-20])
	f.Add(append(bytes.ReplaceAll(written, []byte("\n"), []byte("\r\n")), "\n\n  \n"...))
	f.Add([]byte(`{"seq":2,"key":"b#1","res`))
	f.Add([]byte(`{"seq":9223372036854775807,"key":"x","started":"bad"}` + "\n" + `{"key":""}` + "\n" + `[1]`))
	path := filepath.Join(dir, "journal.jsonl")
	const probe = "probe()#1"
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ro, err := runtime.OpenJournal(path, true)
		if err != nil {
			t.Fatalf("read-only open: %v", err)
		}
		n, skipped := ro.Len(), ro.Skipped
		_, hadProbe := ro.Lookup(probe)
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if n+skipped > lines || skipped < 0 {
			t.Fatalf("%d records and %d skipped from %d lines", n, skipped, lines)
		}
		w, err := runtime.OpenJournal(path, false)
		if err != nil {
			t.Fatalf("open for appending: %v", err)
		}
		if err := w.Append(runtime.JournalEntry{Key: probe, Builtin: "probe", Result: json.RawMessage(`{"x":1}`)}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		again, err := runtime.OpenJournal(path, true)
		if err != nil {
			t.Fatal(err)
		}
		want := n + 1
		if hadProbe {
			want = n
		}
		rec, ok := again.Lookup(probe)
		if !ok || string(rec.Result) != `{"x":1}` || again.Len() != want || again.Skipped != skipped {
			t.Fatalf("after an append: probe %+v %v, %d records (want %d), %d skipped (want %d)",
				rec, ok, again.Len(), want, again.Skipped, skipped)
		}
	})
}
