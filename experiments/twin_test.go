package experiments_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"starlab/builtins/sim"
)

// The twin plan on the real engine: calibrated from closed loops of 1, 2 and 4 requests (75 s of
// measurement), the twin must predict the engine's capacity (the capacity search's estimate on
// Poisson arrivals) and TPOT at 4 in flight within 15%. Both errors are printed. The
// calibration file must load back into the simulator, and the report must set the twin's
// predictions beside the measurements.
func TestTwinOnTheRealEngine(t *testing.T) {
	dir := runOnRealEngine(t, "twin.star")

	var rep struct {
		Hypotheses []struct{ ID, Verdict, Evidence string } `json:"hypotheses"`
		Tables     []struct {
			Name string           `json:"name"`
			Rows []map[string]any `json:"rows"`
		} `json:"tables"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tab := range rep.Tables {
		if tab.Name != "twin-errors" {
			continue
		}
		found = true
		for _, row := range tab.Rows {
			e, ok := row["error"].(float64)
			t.Logf("%v: predicted %v, measured %v, error %+.1f%%", row["figure"], row["predicted"], row["measured"], 100*e)
			if !ok || math.Abs(e) > 0.15 {
				t.Errorf("%v: the twin is off by %v (predicted %v, measured %v); allowed 15%%", row["figure"], row["error"], row["predicted"], row["measured"])
			}
		}
	}
	if !found {
		t.Fatalf("no twin-errors table in report.json")
	}
	for _, h := range rep.Hypotheses {
		t.Logf("%s: %s (%s)", h.ID, h.Verdict, h.Evidence)
		if h.Verdict == "refuted" {
			t.Errorf("%s refuted: %s", h.ID, h.Evidence)
		}
	}
	cals, _ := filepath.Glob(filepath.Join(dir, "calibrations", "*.json"))
	if len(cals) != 1 {
		t.Fatalf("calibrations: %v", cals)
	}
	c, err := sim.LoadCalibration(cals[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calibration: %+v; R² %.3f, MAPE %.1f%%", c.Step, c.Fit.R2, c.Fit.MAPEPct)
	if c.Engine != "ollama" || c.Limits.MaxNumSeqs != 4 || c.Limits.KVSource != "startup log" || c.Range.Running != [2]float64{1, 4} {
		t.Errorf("calibration: engine %s, limits %+v, range %+v", c.Engine, c.Limits, c.Range)
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
}
