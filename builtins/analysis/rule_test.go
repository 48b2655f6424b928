package analysis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	// compare.star measures on the simulator.
	_ "starlab/builtins/server"
	_ "starlab/builtins/sweep"
	"starlab/runtime"
	"starlab/runtime/runtimetest"
)

// TestRuleDecisions runs expect() and within() the way plans call them, one assertion per case.
func TestRuleDecisions(t *testing.T) {
	for _, c := range []struct {
		call, verdict, rule, need string
	}{
		{`expect((10, [8, 12]), ">=", 7)`, "supported", "value 10 [8, 12] >= 7 at 95%", ""},
		{`expect((10, [8, 12]), ">=", 9)`, "inconclusive", "value 10 [8, 12] >= 9 at 95%", "~4x more data needed"},
		{`expect((10, [8, 12]), ">=", 13)`, "refuted", "value 10 [8, 12] >= 13 at 95%", ""},
		{`expect((10, [8, 12]), ">", 12)`, "refuted", "value 10 [8, 12] > 12 at 95%", ""},
		{`expect((10, [8, 12]), ">=", 12)`, "inconclusive", "value 10 [8, 12] >= 12 at 95%", "~1x more data needed"},
		{`expect((10, [8, 12]), "<", 12.5)`, "supported", "value 10 [8, 12] < 12.5 at 95%", ""},
		{`expect((10, [8, 12]), "<=", 8)`, "inconclusive", "value 10 [8, 12] <= 8 at 95%", "~1x more data needed"},
		{`expect((10, [8, 12]), "<", 7)`, "refuted", "value 10 [8, 12] < 7 at 95%", ""},
		{`expect((10, [10, 10]), ">=", 10)`, "supported", "value 10 [10, 10] >= 10 at 95%", ""},
		{`expect((10, None), ">=", 9.9)`, "supported", "value 10 (no interval: treated as exact) >= 9.9", ""},
		{`expect(3.5, ">=", 3)`, "supported", "value 3.5 (no interval: treated as exact) >= 3", ""},
		{`expect(3, "<", 3)`, "refuted", "value 3 (no interval: treated as exact) < 3", ""},
		{`expect(struct(value = 3.4, ci = (2.9, 3.9), quantity = "speedup"), ">=", 3)`, "inconclusive", "speedup 3.4 [2.9, 3.9] >= 3 at 95%", "~1.6x more data needed"},
		{`expect({"value": 3.4, "ci": [3.1, 3.9]}, ">=", 3)`, "supported", "value 3.4 [3.1, 3.9] >= 3 at 95%", ""},
		{`expect((10, [8, 12]), ">=", 10)`, "inconclusive", "value 10 [8, 12] >= 10 at 95%", "the estimate sits on the threshold: more data alone may not decide it"},
		{`within((10, [8, 12]), 7, 13)`, "supported", "value 10 [8, 12] within [7, 13] at 95%", ""},
		{`within((10, [8, 12]), 9, 13)`, "inconclusive", "value 10 [8, 12] within [9, 13] at 95%", "~4x more data needed"},
		{`within((10, [8, 12]), 13, 20)`, "refuted", "value 10 [8, 12] within [13, 20] at 95%", ""},
		{`within(5, 5, 5)`, "supported", "value 5 (no interval: treated as exact) within [5, 5]", ""},
	} {
		t.Run(c.call, func(t *testing.T) {
			src := fmt.Sprintf("r = %s\nassert.eq(r.verdict, %q)\nassert.eq(r.rule, %q)\nassert.eq(r.need, %q)\nassert.eq(r.level, 0.95)\n",
				c.call, c.verdict, c.rule, c.need)
			runSnippet(t, src)
		})
	}
}

func TestRuleErrors(t *testing.T) {
	for _, c := range []struct{ call, want string }{
		{`expect((1, [0, 2]), "==", 1)`, `expect: for parameter op: unknown operator "=="`},
		{`within((1, [0, 2]), 3, 2)`, "within: for parameter lo: empty range [3, 2]"},
		{`expect("fast", ">=", 1)`, "expect: for parameter quantity: got string"},
		{`expect((1, 2, 3), ">=", 1)`, "expect: for parameter quantity: got a tuple of 3"},
		{`expect((1, [2, 0]), ">=", 1)`, "for parameter quantity: ci: [2, 0] is not an interval"},
		{`expect(struct(value = 1), ">=", 1)`, "for parameter quantity: struct has no value and ci"},
		{`expect(float("nan"), ">=", 1)`, "for parameter quantity: got nan"},
		{`expect(None, ">=", 1)`, "for parameter quantity: got NoneType"},
		{`expect(1, ">=", "2")`, "expect: for parameter threshold"},
	} {
		t.Run(c.call, func(t *testing.T) {
			runSnippet(t, fmt.Sprintf("assert.fails(lambda: %s, %q)\n", c.call, regexpQuote(c.want)))
		})
	}
}

// TestQuantityLookup checks the estimate registry from the rule's side: a noted value brings its
// label, interval and time; two intervals for one value are ambiguous; an explicit interval equal
// to a noted one keeps the noted label and time.
func TestQuantityLookup(t *testing.T) {
	r := &runtime.Run{}
	r.NoteEstimate("speedup", 3.4, 2.9, 3.9)
	q, err := quantityOf(r, starlark.Float(3.4))
	if err != nil || q.Label != "speedup" || q.CI.Lo != 2.9 || q.CI.Hi != 3.9 || q.Seq != 1 {
		t.Fatalf("noted value: %+v, %v", q, err)
	}
	q, err = quantityOf(r, starlark.Tuple{starlark.Float(3.4), starlark.Tuple{starlark.Float(2.9), starlark.Float(3.9)}})
	if err != nil || q.Label != "speedup" || q.Seq != 1 {
		t.Fatalf("explicit form of a noted value: %+v, %v", q, err)
	}
	r.NoteEstimate("efficiency", 3.4, 3.0, 3.8)
	_, err = quantityOf(r, starlark.Float(3.4))
	if err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), "(value, [lo, hi])") ||
		!strings.Contains(err.Error(), "speedup [2.9, 3.9]") || !strings.Contains(err.Error(), "for parameter quantity") {
		t.Fatalf("ambiguous value: %v", err)
	}
	q, err = quantityOf(r, starlark.Float(7))
	if err != nil || q.Label != "value" || !q.CI.Unknown() || q.Seq != 0 {
		t.Fatalf("unknown value: %+v, %v", q, err)
	}
}

// TestCompareScript runs testdata/compare.star and checks what the journal kept of its hypotheses.
func TestCompareScript(t *testing.T) {
	dir := runtimetest.RunScript(t, "testdata/compare.star", runtimetest.Options{})
	data, err := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, `"builtin":"hypothesis"`) {
			continue
		}
		for _, ev := range []string{"declared", "decided", "stated"} {
			if strings.Contains(line, `"event":"`+ev+`"`) {
				events = append(events, ev)
			}
		}
		if strings.Contains(line, `"id":"C-1"`) && strings.Contains(line, `"event":"decided"`) &&
			(!strings.Contains(line, `"declared":"before the evidence"`) || !strings.Contains(line, `"rule":"ratio p99_ttft_ms`)) {
			t.Errorf("C-1's decision lacks its rule or its timing: %s", line)
		}
	}
	if got, want := strings.Join(events, " "), "declared decided stated declared decided stated"; got != want {
		t.Errorf("journaled hypothesis events: got %q, want %q", got, want)
	}

	// A replay measures nothing: compare() reads the requests of the run it replays, and every
	// assertion of the script holds again (the same seeds, the same sequence of events).
	mod, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	out, err := runtime.Execute(context.Background(), runtime.Options{
		PlanPath: "testdata/compare.star", Replay: dir, Out: filepath.Join(t.TempDir(), "replay"),
		LogOut: zerolog.NewTestWriter(t), LogLevel: zerolog.WarnLevel, Extra: mod,
		Hooks: []func(*runtime.Run){func(r *runtime.Run) {
			r.OnThread(func(th *starlark.Thread) { starlarktest.SetReporter(th, t) })
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Err != nil {
		t.Fatalf("replay: %s", runtime.FormatError(out.Err))
	}
}

func runSnippet(t *testing.T, src string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snippet.star")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	runtimetest.RunScript(t, path, runtimetest.Options{})
}

// regexpQuote escapes the pattern assert.fails matches against.
func regexpQuote(s string) string {
	r := strings.NewReplacer(`[`, `\[`, `]`, `\]`, `(`, `\(`, `)`, `\)`, `.`, `\.`, `*`, `\*`, `+`, `\+`, `?`, `\?`)
	return r.Replace(s)
}
