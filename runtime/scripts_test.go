package runtime_test

import (
	"testing"

	"starlab/runtime/runtimetest"
)

func TestScripts(t *testing.T) {
	runtimetest.RunScripts(t, "testdata/scripts/*.star", runtimetest.Options{})
}
