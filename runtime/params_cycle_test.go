package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starlab/runtime"
)

// TestCyclicParamDefault: a param whose default list holds itself (found by FuzzConvertParam)
// used to overflow the stack, killing the process: writing it to the manifest, and converting a
// --set value for it. The run now finishes, and the --set is refused with a reason.
func TestCyclicParamDefault(t *testing.T) {
	plan := writePlan(t, "l = []\nl.append(l)\nx = param(\"x\", l, doc = \"holds itself\")\nprint(\"after\")\n")
	dir := filepath.Join(t.TempDir(), "run")
	out, log := execute(t, context.Background(), runtime.Options{PlanPath: plan, Out: dir})
	if out.Err != nil || !strings.Contains(log, "after") {
		t.Fatalf("run: %v\n%s", out.Err, log)
	}
	if m, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err != nil || !strings.Contains(string(m), `"[[...]]"`) {
		t.Errorf("manifest: %v\n%s", err, m)
	}
	out, _ = execute(t, context.Background(), runtime.Options{PlanPath: plan, Out: filepath.Join(t.TempDir(), "set"),
		Sets: map[string]string{"x": "1"}})
	if out.Err == nil || !strings.Contains(out.Err.Error(), "--set x=1: the default nests lists more than 32 deep") {
		t.Fatalf("--set on a cyclic default: %v", out.Err)
	}
}
