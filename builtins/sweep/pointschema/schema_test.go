package pointschema_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"starlab/builtins/sweep"
	ps "starlab/builtins/sweep/pointschema"
)

// Every name constant is a field of the whole schema (gpu included) with the kind its readers
// expect: renaming a tag, or changing a field's type, fails here.
func TestNamesAreInTheSchema(t *testing.T) {
	want := map[string]ps.Kind{
		ps.Engine: ps.KindString, ps.EngineVersion: ps.KindString, ps.Server: ps.KindString, ps.Calibration: ps.KindString,
		ps.RequestRate: ps.KindFloat, ps.MaxConcurrency: ps.KindInt, ps.Completed: ps.KindInt, ps.Failed: ps.KindInt,
		ps.Errors: ps.KindMap, ps.Incomplete: ps.KindInt, ps.TotalOutputTokens: ps.KindInt,
		ps.OutputTokensFromChunks: ps.KindInt, ps.RequestThroughput: ps.KindFloat, ps.OutputThroughput: ps.KindFloat,
		ps.TotalTokenThroughput: ps.KindFloat, ps.MeanTTFTMs: ps.KindFloat, ps.MedianTTFTMs: ps.KindFloat,
		ps.P99TTFTMs: ps.KindFloat, ps.MeanE2ELMs: ps.KindFloat, ps.MedianE2ELMs: ps.KindFloat, ps.P99E2ELMs: ps.KindFloat,
		ps.StoppedEarly: ps.KindBool, ps.StopReason: ps.KindString,
		ps.ClientAchievedSendRate: ps.KindFloat, ps.ClientBottleneck: ps.KindBool, ps.ClientBottleneckReason: ps.KindString,
		ps.ServerMaxKVCacheUsage: ps.KindFloat, ps.ServerScrapeErrors: ps.KindInt, ps.ServerUnavailable: ps.KindString,
		ps.GPU: ps.KindObject, ps.GPUDevices: ps.KindList, ps.GPUJoulesPerOutputToken: ps.KindFloat,
		ps.GPUDevices + "[]." + ps.DeviceMaxMemoryUsedBytes: ps.KindInt,
	}
	fields := sweep.PointFields()
	for path, kind := range want {
		f, ok := ps.Lookup(fields, path)
		switch {
		case !ok:
			t.Errorf("%q is not a field of the point schema (sweep.PointFields)", path)
		case f.Kind != kind:
			t.Errorf("%q is a %s in the point schema; its readers expect a %s", path, f.Kind, kind)
		}
	}
	// Each constant of names.go must be checked above.
	checked := map[string]bool{ps.DeviceMaxMemoryUsedBytes: true}
	for path := range want {
		checked[path] = true
	}
	file, err := parser.ParseFile(token.NewFileSet(), "names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(file, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, _ := strconv.Unquote(lit.Value); !checked[s] {
				t.Errorf("names.go declares %s, which this test does not check", lit.Value)
			}
		}
		return true
	})
}

// runtime.FromJSON types a value by its key alone, so a key must be an int everywhere or nowhere.
func TestIntKeysAreUnambiguous(t *testing.T) {
	kinds := map[string][]ps.Kind{}
	for _, f := range sweep.PointFields() {
		kinds[f.Key()] = append(kinds[f.Key()], f.Kind)
	}
	for key, ks := range kinds {
		if slices.Contains(ks, ps.KindInt) && slices.ContainsFunc(ks, func(k ps.Kind) bool { return k != ps.KindInt }) {
			t.Errorf("key %q is an int in one place and not in another: %v", key, ks)
		}
	}
}

// Describe follows encoding/json: tags, omitempty, "-", unexported and embedded fields, pointers,
// lists of structs, raw JSON and times.
func TestDescribe(t *testing.T) {
	type inner struct {
		N int `json:"n"`
	}
	type Embedded struct {
		E float64 `json:"e"`
	}
	type sample struct {
		Embedded
		A       *float32 `json:"a,omitempty"`
		Skip    string   `json:"-"`
		hidden  int
		NoTag   bool
		In      *inner          `json:"in"`
		List    []inner         `json:"list"`
		Strings []string        `json:"strings"`
		Counts  map[string]int  `json:"counts"`
		Raw     json.RawMessage `json:"raw"`
		At      time.Time       `json:"at"`
	}
	_ = sample{}.hidden
	got := ps.Describe(reflect.TypeFor[sample]())
	want := []ps.Field{
		{Path: "e", Go: "E", Kind: ps.KindFloat}, {Path: "a", Go: "A", Kind: ps.KindFloat},
		{Path: "NoTag", Go: "NoTag", Kind: ps.KindBool},
		{Path: "in", Go: "In", Kind: ps.KindObject}, {Path: "in.n", Go: "In.N", Kind: ps.KindInt},
		{Path: "list", Go: "List", Kind: ps.KindList}, {Path: "list[].n", Go: "List[].N", Kind: ps.KindInt},
		{Path: "strings", Go: "Strings", Kind: ps.KindList}, {Path: "counts", Go: "Counts", Kind: ps.KindMap},
		{Path: "raw", Go: "Raw", Kind: ps.KindObject}, {Path: "at", Go: "At", Kind: ps.KindString},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Describe =\n%v\nwant\n%v", got, want)
	}
	if k := (ps.Field{Path: "list[].n"}).Key(); k != "n" {
		t.Errorf("Key of list[].n = %q, want n", k)
	}
}
