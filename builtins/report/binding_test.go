package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starlab/runtime/runtimetest"
)

// TestReportScript runs a plan over the seeds' tables twice: the reports must be byte-identical,
// contain what the plan computed, and be rebuilt identically by Regenerate.
func TestReportScript(t *testing.T) {
	script := filepath.Join("testdata", "scripts", "seeds_report.star")
	dir1 := runtimetest.RunScript(t, script, runtimetest.Options{})
	dir2 := runtimetest.RunScript(t, script, runtimetest.Options{})
	md1, err := os.ReadFile(filepath.Join(dir1, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md2, err := os.ReadFile(filepath.Join(dir2, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(md1, md2) {
		t.Errorf("two runs with the same seed gave different report.md:\n%s\n---\n%s", md1, md2)
	}
	for _, want := range []string{"# Seeds", "### seed003_ramp: knee at request_rate = 10 (offered)", "the knee lies in [10, 20]",
		"load-limited", "| E-12 | the 1-vs-4 GPU test never saturated 1 GPU | ✅ supported", "## Table: sla",
		"](plots/one_vs_four.png)", "table given by the plan",
		"## Comparisons", "| request_throughput |", "| C-0 | the two runs differ by less than 2x | ✅ supported | ratio ",
		"< 2 at 95% | before the evidence |", "| C-1 | the second run delivers at least 5% more | ❔ inconclusive (~",
		">= 1.05 at 95% | after the evidence |", "± is the half-width of the 95% interval (confidence from the run)"} {
		if !strings.Contains(string(md1), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md1)
		}
	}
	checkPlots(t, dir1, md1)
	if err := Regenerate(dir1); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(filepath.Join(dir1, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(md1, again) {
		t.Errorf("Regenerate changed report.md:\n%s", again)
	}
}
