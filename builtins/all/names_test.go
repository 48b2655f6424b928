package all_test

import (
	"os"
	"path/filepath"
	"testing"

	"starlab/runtime/runtimetest"
)

// No name a plan gives can write outside the run directory: every builtin that writes refuses
// the bad ones (testdata/names.star), and nothing appears beside the run directory.
func TestNamesStayInTheRunDirectory(t *testing.T) {
	dir := runtimetest.RunScript(t, "testdata/names.star", runtimetest.Options{})
	parent := filepath.Dir(dir)
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Join(parent, e.Name()) != dir {
			t.Errorf("%s was written beside the run directory", e.Name())
		}
	}
}
