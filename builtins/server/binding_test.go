package server

import (
	"testing"

	"starlab/runtime/runtimetest"
)

func TestScripts(t *testing.T) {
	fakeVLLMOnPath(t)
	fakeEngines(t)
	runtimetest.RunScripts(t, "testdata/scripts/*.star", runtimetest.Options{Wall: true})
}
