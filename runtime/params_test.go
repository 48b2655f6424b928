package runtime_test

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"starlab/runtime"
)

func TestConvertParam(t *testing.T) {
	list := func(vs ...starlark.Value) *starlark.List { return starlark.NewList(vs) }
	tests := []struct {
		raw     string
		def     starlark.Value
		want    string // starlark repr
		wantErr string
	}{
		{"7", starlark.MakeInt(3), "7", ""},
		{"7.5", starlark.MakeInt(3), "", "want an int"},
		{"7", starlark.Float(1), "7.0", ""},
		{"inf", starlark.Float(1), "+inf", ""},
		{"x", starlark.Float(1), "", "want a number"},
		{"true", starlark.False, "True", ""},
		{"No", starlark.True, "False", ""},
		{"maybe", starlark.True, "", "want true or false"},
		{"meta-llama/Llama-3.1-8B", starlark.String(""), `"meta-llama/Llama-3.1-8B"`, ""},
		{"x", starlark.None, `"x"`, ""},
		{"10,20,40", list(starlark.MakeInt(1)), "[10, 20, 40]", ""},
		{"0.5, 1,2", list(starlark.MakeInt(1)), "[0.5, 1.0, 2.0]", ""},
		{"1,2", list(), "[1, 2]", ""},
		{"1,2.5", list(), "[1.0, 2.5]", ""},
		{"a,b", list(starlark.String("x")), `["a", "b"]`, ""},
		{"1,x", list(starlark.MakeInt(1)), "", "element 2: want a number"},
		{"1,2", starlark.Tuple{starlark.MakeInt(1)}, "(1, 2)", ""},
		{"{}", starlark.NewDict(0), "", "cannot be set from the command line"},
	}
	for _, tt := range tests {
		got, err := runtime.ConvertParam(tt.raw, tt.def)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ConvertParam(%q, %s) error = %v, want %q", tt.raw, tt.def, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ConvertParam(%q, %s) = %v, %v; want %s", tt.raw, tt.def, got, err, tt.want)
		}
	}
}

func TestScanAndCheckSets(t *testing.T) {
	plan := writePlan(t, `
load("@stdlib//loads.star", "geometric")
model = param("model", "Llama-3.1-8B", doc = "model")
rates = param(name = "rates", default = [10, 20], doc = "rates")
n = param("n", len(rates))   # not a literal: checked when it runs
`)
	decls, err := runtime.ScanParams(plan)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range decls {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "model,rates,n" {
		t.Fatalf("params %v", names)
	}
	if decls[1].Doc != "rates" || decls[1].Default.String() != "[10, 20]" || decls[2].Default != nil {
		t.Fatalf("decls %+v", decls)
	}
	for sets, want := range map[string]string{
		"rates=10,x":  `--set rates=10,x: element 2: want a number, got "x" (param declared at `,
		"modle=x":     `--set modle: the plan has no param "modle" (it has: model, n, rates)`,
		"n=whatever":  "",
		"rates=1,2,3": "",
	} {
		name, value, _ := strings.Cut(sets, "=")
		err := runtime.CheckSets(decls, map[string]string{name: value})
		if want == "" {
			if err != nil {
				t.Errorf("CheckSets(%s) = %v", sets, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("CheckSets(%s) = %v, want prefix %q", sets, err, want)
		}
	}
}
