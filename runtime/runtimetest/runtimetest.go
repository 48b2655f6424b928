package runtimetest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	"starlab/runtime"
)

// Options adjusts the runs RunScripts makes.
type Options struct {
	// Sets are --set values given to every script.
	Sets map[string]string
	// Wall runs scripts on the wall clock instead of the virtual one.
	Wall bool
}

// RunScripts runs every file matching pattern (for example "testdata/*.star") as a subtest.
// A script fails the test through assert.* calls or by failing (an uncaught error or fail()).
func RunScripts(t *testing.T, pattern string, opts Options) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no scripts match %s", pattern)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			RunScript(t, file, opts)
		})
	}
}

// RunScript runs one script and returns its run directory for further checks.
func RunScript(t *testing.T, file string, opts Options) string {
	t.Helper()
	dir := t.TempDir()
	out, err := runtime.Execute(context.Background(), runtime.Options{
		PlanPath: file,
		Sets:     opts.Sets,
		Seed:     runtime.DefaultSeed,
		Out:      filepath.Join(dir, "run"),
		Virtual:  !opts.Wall,
		LogOut:   zerolog.NewTestWriter(t),
		LogLevel: zerolog.InfoLevel,
		PrintOut: testPrinter{t},
		Extra:    assertModule(t),
		Hooks: []func(*runtime.Run){func(r *runtime.Run) {
			r.OnThread(func(th *starlark.Thread) { starlarktest.SetReporter(th, t) })
		}},
	})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if out.Err != nil {
		t.Fatalf("%s", runtime.FormatError(out.Err))
	}
	return out.Dir
}

// testPrinter shows a script's print() lines in the test's log.
type testPrinter struct{ t *testing.T }

func (p testPrinter) Write(b []byte) (int, error) {
	p.t.Helper()
	p.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func assertModule(t *testing.T) starlark.StringDict {
	t.Helper()
	mod, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// Manifest reads a run directory's manifest.json, failing the test when it is missing or invalid.
func Manifest(t testing.TB, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	return m
}
