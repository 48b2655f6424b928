package stdlib_test

import (
	"testing"

	_ "starlab/builtins/all"
	"starlab/runtime/runtimetest"
)

// TestStdlibScripts runs the stdlib's script tests in virtual time: the plans' helpers used the
// way plans use them, on the simulator.
func TestStdlibScripts(t *testing.T) {
	runtimetest.RunScripts(t, "testdata/*.star", runtimetest.Options{})
}
