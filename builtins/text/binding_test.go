package text_test

import (
	"testing"

	_ "starlab/builtins/text"
	"starlab/runtime/runtimetest"
)

func TestScript(t *testing.T) {
	runtimetest.RunScript(t, "testdata/text.star", runtimetest.Options{})
}
