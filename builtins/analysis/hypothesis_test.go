package analysis

import (
	"strings"
	"testing"
)

func TestVerdictTable(t *testing.T) {
	yes, no := true, false
	var hs Hypotheses
	for _, in := range []struct {
		id, st string
		sup    *bool
		ev     string
	}{
		{"E-12", "the 1-vs-4 GPU test never saturated 1 GPU", &yes, "load-limited: both runs achieved ≈ their offered 10 req/s"},
		{"A-1", "sequential decoding | is the limit", &no, "speedup 3.4\nat 60 req/s"},
		{"B-2", "batch size matters", nil, ""},
	} {
		h, err := NewHypothesis(in.id, in.st, in.sup, in.ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := hs.Add(h); err != nil {
			t.Fatal(err)
		}
	}
	want := "| ID | Hypothesis | Verdict | Evidence |\n|----|------------|---------|----------|\n" +
		"| E-12 | the 1-vs-4 GPU test never saturated 1 GPU | ✅ supported | load-limited: both runs achieved ≈ their offered 10 req/s |\n" +
		"| A-1 | sequential decoding \\| is the limit | ❌ refuted | speedup 3.4<br>at 60 req/s |\n" +
		"| B-2 | batch size matters | ❔ undecided |  |\n"
	if got := VerdictTable(hs.List()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if VerdictTable(nil) != "" {
		t.Error("empty table should render as empty string")
	}
}

func TestHypothesisErrors(t *testing.T) {
	if _, err := NewHypothesis(" ", "x", nil, ""); err == nil {
		t.Error("empty id accepted")
	}
	if _, err := NewHypothesis("E-1", "", nil, ""); err == nil || !strings.Contains(err.Error(), "E-1") {
		t.Errorf("empty statement: %v", err)
	}
	var hs Hypotheses
	h, _ := NewHypothesis("E-1", "a", nil, "")
	_ = hs.Add(h)
	if err := hs.Add(h); err == nil || !strings.Contains(err.Error(), "already stated") {
		t.Errorf("duplicate id: %v", err)
	}
	if Undecided.String() != "undecided" || Supported.String() != "supported" || Refuted.String() != "refuted" {
		t.Error("verdict strings")
	}
}
