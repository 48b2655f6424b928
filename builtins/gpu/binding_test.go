package gpu

import (
	"os"
	"path/filepath"
	"testing"

	"starlab/runtime/runtimetest"
)

func TestScriptsWall(t *testing.T) {
	runtimetest.RunScripts(t, "testdata/wall/*.star", runtimetest.Options{Wall: true})
}

func TestScriptsVirtual(t *testing.T) {
	runtimetest.RunScripts(t, "testdata/virtual/*.star", runtimetest.Options{})
}

// TestRunHookManifest runs the real nvml.Init through the run hook: on a
// machine without a driver the manifest says so and the run goes on; with
// one it lists the devices.
func TestRunHookManifest(t *testing.T) {
	plan := filepath.Join(t.TempDir(), "empty.star")
	if err := os.WriteFile(plan, []byte("x = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gpus := manifestGPUsOf(t, runtimetest.RunScript(t, plan, runtimetest.Options{Wall: true}))
	p, ok, reason := Open()
	if ok {
		defer p.Close()
		devs, _ := gpus["devices"].([]any)
		if gpus["available"] != true || len(devs) == 0 {
			t.Fatalf("NVML is here but the manifest says %v", gpus)
		}
		return
	}
	if gpus["available"] != false || gpus["reason"] != reason {
		t.Fatalf("manifest gpus = %v, want available=false with %q", gpus, reason)
	}

	virtual := manifestGPUsOf(t, runtimetest.RunScript(t, plan, runtimetest.Options{}))
	if virtual["available"] != false || virtual["reason"] == "" {
		t.Fatalf("virtual run: manifest gpus = %v", virtual)
	}
}

func manifestGPUsOf(t *testing.T, dir string) map[string]any {
	t.Helper()
	m := runtimetest.Manifest(t, dir)
	gpus, ok := m["gpus"].(map[string]any)
	if !ok {
		t.Fatalf("manifest has no gpus entry: %v", m)
	}
	return gpus
}
