package twin_test

import (
	"path/filepath"
	"testing"

	_ "starlab/builtins/all"
	"starlab/builtins/sim"
	"starlab/runtime/runtimetest"
)

func TestScripts(t *testing.T) {
	runtimetest.RunScripts(t, "testdata/*_virtual.star", runtimetest.Options{})
}

// calibrate() writes calibrations/NAME.json, which the simulator loads back as it was fitted.
func TestCalibrationFile(t *testing.T) {
	dir := runtimetest.RunScript(t, "testdata/calibrate_virtual.star", runtimetest.Options{})
	matches, _ := filepath.Glob(filepath.Join(dir, "calibrations", "*.json"))
	if len(matches) != 2 {
		t.Fatalf("calibrations: %v", matches)
	}
	for _, m := range matches {
		c, err := sim.LoadCalibration(m)
		if err != nil {
			t.Fatal(err)
		}
		if c.Engine != "sim" || c.Limits.MaxNumSeqs != 16 || len(c.Fit.Points) != 3 || c.Source.Samples == 0 {
			t.Errorf("%s: %+v", m, c)
		}
	}
}
