package analysis

import (
	"strings"
	"testing"

	"starlab/stats"
)

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

func TestHypothesisDeclaredThenDecided(t *testing.T) {
	var hs Hypotheses
	claim, err := Expect("speedup", 3.4, stats.Interval{Lo: 3.1, Hi: 3.9}, 5, ">=", 3, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := claim.Rule(), "speedup 3.4 [3.1, 3.9] >= 3 at 95%"; got != want {
		t.Errorf("rule %q, want %q", got, want)
	}
	h, err := hs.Apply(HypothesisCall{ID: "S-1", Statement: "4 GPUs give >= 3x", Seq: 2})
	if err != nil || h.Decided() || h.DeclaredSeq != 2 || h.Declared() != "" {
		t.Fatalf("declared: %+v, %v", h, err)
	}
	if _, err := hs.Apply(HypothesisCall{ID: "S-2", Statement: "other", Seq: 3}); err != nil {
		t.Fatal(err)
	}
	h, err = hs.Apply(HypothesisCall{ID: "S-1", Claim: &claim, Evidence: "ramp", Seq: 6})
	if err != nil || h.Verdict != Supported || h.DecidedSeq != 6 || h.Declared() != "before the evidence" || h.Evidence != "ramp" {
		t.Fatalf("decided: %+v, %v", h, err)
	}
	if ids := hs.List(); ids[0].ID != "S-1" || ids[0].Verdict != Supported || ids[1].ID != "S-2" {
		t.Errorf("order of declaration lost: %+v", ids)
	}
	for _, c := range []struct {
		call HypothesisCall
		want string
	}{
		{HypothesisCall{ID: "S-1", Claim: &claim, Seq: 7}, "S-1: already stated (\"4 GPUs give >= 3x\") and decided: supported"},
		{HypothesisCall{ID: "S-2", Statement: "changed", Claim: &claim, Seq: 7}, "S-2: already stated as \"other\""},
		{HypothesisCall{ID: "S-2", Seq: 7}, "S-2: already stated"},
		{HypothesisCall{ID: "S-3", Claim: &claim, Seq: 7}, "S-3: statement is empty"},
		{HypothesisCall{ID: "S-4", Statement: "x", Claim: &claim, Supported: new(bool), Seq: 7}, "not both"},
	} {
		if _, err := hs.Apply(c.call); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.call, err, c.want)
		}
	}
	// Stated together with its claim, after the measurement: a reading.
	h, _ = hs.Apply(HypothesisCall{ID: "S-5", Statement: "late", Claim: &claim, Seq: 8})
	if h.DeclaredBefore() || h.Declared() != "after the evidence" {
		t.Errorf("late: %+v", h)
	}
	// Unknown measurement time counts as after; the boolean form says nothing.
	exact, _ := Expect("value", 2, stats.NoInterval, 0, "<", 3, 0.95)
	if exact.Rule() != "value 2 (no interval: treated as exact) < 3" {
		t.Errorf("exact rule: %q", exact.Rule())
	}
	hs.Apply(HypothesisCall{ID: "S-6", Statement: "early, unknown time", Seq: 1})
	if h, _ := hs.Apply(HypothesisCall{ID: "S-6", Claim: &exact, Seq: 9}); h.Declared() != "after the evidence" {
		t.Errorf("unknown time: %+v", h)
	}
	yes := true
	if h, _ := hs.Apply(HypothesisCall{ID: "S-7", Statement: "boolean", Supported: &yes, Seq: 10}); h.Declared() != "" || h.Verdict != Supported {
		t.Errorf("boolean: %+v", h)
	}
	// Inconclusive claims give inconclusive hypotheses, shown as such.
	unsure, _ := Within("efficiency", 0.8, stats.Interval{Lo: 0.6, Hi: 1.0}, 3, 0.7, 1, 0.95)
	h, _ = hs.Apply(HypothesisCall{ID: "S-8", Statement: "efficiency in [0.7, 1]", Claim: &unsure, Seq: 11})
	if h.Verdict != Inconclusive || h.Verdict.String() != "inconclusive" {
		t.Errorf("inconclusive: %+v", h)
	}
}
