package runtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"starlab/runtime"
	"starlab/runtime/runtimetest"
)

// execute runs a plan written to a temp dir and returns its outcome and captured JSON log.
func execute(t *testing.T, ctx context.Context, opts runtime.Options) (*runtime.Outcome, string) {
	t.Helper()
	var log bytes.Buffer
	opts.LogOut = &syncBuffer{buf: &log}
	if opts.PrintOut == nil {
		opts.PrintOut = opts.LogOut // print() lines land among the log lines the tests read
	}
	opts.LogLevel = zerolog.InfoLevel
	if opts.Seed == 0 {
		opts.Seed = runtime.DefaultSeed
	}
	out, err := runtime.Execute(ctx, opts)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return out, log.String()
}

type syncBuffer struct{ buf *bytes.Buffer }

func (s *syncBuffer) Write(p []byte) (int, error) { return s.buf.Write(p) }

func writePlan(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plan.star")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func journalKeys(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec runtime.JournalEntry
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		keys = append(keys, rec.Key)
	}
	return keys
}

func manifestField(t *testing.T, dir, key string) any {
	t.Helper()
	return runtimetest.Manifest(t, dir)[key]
}

const threeSteps = `
a = sleep_step(0, value = 1)
b = sleep_step(0, value = 2)
c = sleep_step(0, value = 1)   # same args as the first: a distinct step by its ordinal
print("sum=%d" % (a + b + c))
`

func TestJournalResumeAndReplay(t *testing.T) {
	plan := writePlan(t, threeSteps)
	dir := filepath.Join(t.TempDir(), "run")
	out, log := execute(t, context.Background(), runtime.Options{PlanPath: plan, Out: dir})
	if out.Err != nil || out.Status != "ok" {
		t.Fatalf("status %s: %v", out.Status, out.Err)
	}
	want := []string{"sleep_step(0, value=1)#1", "sleep_step(0, value=2)#1", "sleep_step(0, value=1)#2"}
	if got := journalKeys(t, dir); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("journal keys %q, want %q", got, want)
	}
	if n := strings.Count(log, "executing step"); n != 3 {
		t.Fatalf("fresh run executed %d steps, want 3", n)
	}

	// Resume of a complete run executes nothing and appends nothing.
	out, log = execute(t, context.Background(), runtime.Options{PlanPath: plan, Resume: dir})
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	if n := strings.Count(log, "executing step"); n != 0 {
		t.Fatalf("resume executed %d steps, want 0", n)
	}
	if !strings.Contains(log, "sum=4") {
		t.Fatalf("resumed plan did not see the journaled values: %s", log)
	}
	if got := journalKeys(t, dir); len(got) != 3 {
		t.Fatalf("resume appended to the journal: %q", got)
	}

	// Replay with an edited plan: analysis changes run, steps come from the journal.
	edited := writePlan(t, threeSteps+"print(\"product=%d\" % (a * b * c))\n")
	out, log = execute(t, context.Background(), runtime.Options{PlanPath: edited, Replay: dir})
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	if !strings.Contains(log, "product=2") || strings.Contains(log, "executing step") {
		t.Fatalf("replay log: %s", log)
	}
	if filepath.Dir(out.Dir) != dir {
		t.Fatalf("replay wrote to %s, want a directory inside %s", out.Dir, dir)
	}

	// Replay of a plan with a new step fails naming it.
	extra := writePlan(t, threeSteps+"sleep_step(0, value = 3)\n")
	out, _ = execute(t, context.Background(), runtime.Options{PlanPath: extra, Replay: dir})
	var missing *runtime.ReplayMissingError
	if !errors.As(out.Err, &missing) || missing.Key != "sleep_step(0, value=3)#1" || !strings.Contains(missing.Pos, "plan.star:6") {
		t.Fatalf("replay of a new step: got %v", out.Err)
	}
}

func TestResumeRunsOnlyMissingSteps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	first := writePlan(t, "sleep_step(0, value = 1)\n")
	if out, _ := execute(t, context.Background(), runtime.Options{PlanPath: first, Out: dir}); out.Err != nil {
		t.Fatal(out.Err)
	}
	// The plan grew (as if the first run had died after its first step).
	grown := writePlan(t, "sleep_step(0, value = 1)\nsleep_step(0, value = 2)\n")
	out, log := execute(t, context.Background(), runtime.Options{PlanPath: grown, Resume: dir})
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	if n := strings.Count(log, "executing step"); n != 1 {
		t.Fatalf("resume executed %d steps, want 1", n)
	}
	if got := journalKeys(t, dir); len(got) != 2 {
		t.Fatalf("journal %q", got)
	}
	if rs, _ := manifestField(t, dir, "resumes").([]any); len(rs) != 1 {
		t.Fatalf("manifest resumes = %v", rs)
	}
}

func TestFreshRunRefusesAnExistingRun(t *testing.T) {
	plan := writePlan(t, "sleep_step(0)\n")
	dir := filepath.Join(t.TempDir(), "run")
	execute(t, context.Background(), runtime.Options{PlanPath: plan, Out: dir})
	_, err := runtime.Execute(context.Background(), runtime.Options{PlanPath: plan, Out: dir, LogOut: &bytes.Buffer{}})
	var ue *runtime.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("got %v, want a usage error pointing at --resume", err)
	}
}

func TestCancellationInterruptsARunningStep(t *testing.T) {
	plan := writePlan(t, "sleep_step(0, value = 1)\nsleep_step(\"1h\")\nsleep_step(0, value = 3)\n")
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	out, _ := execute(t, ctx, runtime.Options{PlanPath: plan, Out: dir})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("cancellation took %v", took)
	}
	if out.Status != "interrupted" {
		t.Fatalf("status %q (%v), want interrupted", out.Status, out.Err)
	}
	if got := manifestField(t, dir, "status"); got != "interrupted" {
		t.Fatalf("manifest status %v", got)
	}
	if got := journalKeys(t, dir); len(got) != 1 {
		t.Fatalf("journal after interrupt: %q, want the one completed step", got)
	}
}

func TestCloseHooksRunOnError(t *testing.T) {
	plan := writePlan(t, "sleep_step(0)\nfail(\"boom\")\n")
	closed := false
	out, _ := execute(t, context.Background(), runtime.Options{PlanPath: plan, Out: filepath.Join(t.TempDir(), "r"),
		Hooks: []func(*runtime.Run){func(r *runtime.Run) { r.OnClose(func() { closed = true }) }}})
	if out.Status != "error" || !closed {
		t.Fatalf("status %s closed %v", out.Status, closed)
	}
	if got, _ := manifestField(t, out.Dir, "error").(string); !strings.Contains(got, "plan.star:2:5: in <toplevel>") || !strings.Contains(got, "boom") {
		t.Fatalf("manifest error %q", got)
	}
}

func TestLoadsAndErrors(t *testing.T) {
	t.Chdir("testdata/loads")
	tests := []struct {
		plan string
		want []string // substrings of the formatted error, in order
	}{
		{"plan_cycle.star", []string{"load cycle: a.star -> b.star -> a.star"}},
		{"plan_nested.star", []string{"plan_nested.star:3:7: in <toplevel>", "sub/helper.star:7:14: in broken", "unknown binary op: int + string"}},
		{"plan_missing_symbol.star", []string{"plan_missing_symbol.star:1:22: load: common.star does not define nothere"}},
		{"plan_private.star", []string{"plan_private.star:1:22", "_private"}},
		{"plan_syntax.star", []string{"plan_syntax.star:3:1: syntax error"}},
		{"plan_nofile.star", []string{"cannot load nowhere.star: no file nowhere.star"}},
		{"plan_undefined.star", []string{"plan_undefined.star:1:5: undefined: undefined_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.plan, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "r")
			out, err := runtime.Execute(context.Background(), runtime.Options{PlanPath: tt.plan, Out: dir, LogOut: &bytes.Buffer{}})
			if err == nil {
				err = out.Err
			}
			if err == nil {
				t.Fatal("plan succeeded, want an error")
			}
			msg := runtime.FormatError(err)
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestStaticErrorsStopBeforeAnythingRuns(t *testing.T) {
	plan := writePlan(t, "sleep_step(0)\nundefined_name()\n")
	dir := filepath.Join(t.TempDir(), "r")
	_, err := runtime.Execute(context.Background(), runtime.Options{PlanPath: plan, Out: dir, LogOut: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "plan.star:2:1: undefined: undefined_name") {
		t.Fatalf("got %v", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Fatalf("a plan that cannot run created its run directory")
	}
}

func TestCheck(t *testing.T) {
	t.Chdir("testdata/loads")
	rep, err := runtime.Check("plan_nested.star", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Files, ","); got != "plan_nested.star,sub/helper.star,common.star" {
		t.Fatalf("files %s", got)
	}
	for plan, want := range map[string]string{
		"plan_cycle.star":          "load cycle: a.star -> b.star -> a.star",
		"plan_missing_symbol.star": "plan_missing_symbol.star:1:22: load: common.star does not define nothere",
		"plan_undefined.star":      "plan_undefined.star:1:5: undefined: undefined_name",
		"plan_syntax.star":         "plan_syntax.star:3:1",
	} {
		_, err := runtime.Check(plan, nil, nil)
		if err == nil || !strings.Contains(runtime.FormatError(err), want) {
			t.Errorf("check %s: got %v, want %q", plan, err, want)
		}
	}
}

func TestDefaultRunDirectoriesNeverCollide(t *testing.T) {
	plan := writePlan(t, "sleep_step(0)\n")
	t.Chdir(t.TempDir())
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		out, _ := execute(t, context.Background(), runtime.Options{PlanPath: plan})
		if out.Err != nil || seen[out.Dir] || !strings.HasPrefix(out.Dir, filepath.Join("runs", "")) {
			t.Fatalf("run %d: dir %q err %v (seen %v)", i, out.Dir, out.Err, seen)
		}
		seen[out.Dir] = true
	}
}
