package analysis

import (
	"testing"

	"starlab/runtime/runtimetest"
)

// TestBindingScripts runs the Starlark scripts that use the analysis
// builtins the way plans do, on the seeds' tables.
func TestBindingScripts(t *testing.T) {
	runtimetest.RunScripts(t, "testdata/*.star", runtimetest.Options{})
}
