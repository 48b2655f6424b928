package experiments_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The workloads on the real engine: a trace replayed at 2x sends every row on schedule, one ramp
// finds the knee, and chat turns whose prompts extend earlier ones are answered well under the
// time of cold prompts of the same length (the engine's prompt cache finds the shared prefix the
// dataset generated, so real servers cache what the simulator caches).
func TestWorkloadsOnTheRealEngine(t *testing.T) {
	dir := runOnRealEngine(t, "real_workloads.star")
	var rep struct {
		Hypotheses []struct{ ID, Verdict, Evidence string } `json:"hypotheses"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range rep.Hypotheses {
		seen[h.ID] = true
		if h.Verdict != "supported" {
			t.Errorf("%s: %s (%s)", h.ID, h.Verdict, h.Evidence)
		}
	}
	for _, id := range []string{"P-1", "P-2", "P-3"} {
		if !seen[id] {
			t.Errorf("%s is not in the report", id)
		}
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
}
