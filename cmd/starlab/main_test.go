package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"starlab/runtime/runtimetest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the starlab binary: with STARLAB_TEST_MAIN=1 it runs the CLI on
// its arguments, so tests can kill a real process mid-run and testdata/vllm can be
// `starlab sim serve`.
func TestMain(m *testing.M) {
	if os.Getenv("STARLAB_TEST_MAIN") == "1" {
		os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func starlabProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "STARLAB_TEST_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	return cmd
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli(args, &out, &errb)
	return code, out.String(), errb.String()
}

const stepsPlan = `
n = param("n", 6)
vals = []
for i in range(n):
    vals.append(sleep_step("150ms", value = {"i": i, "sq": i * i}))
def total(vs):
    t = 0
    for v in vs:
        t += v["sq"]
    return t
print("total=%d" % total(vals))
`

func writeFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// journalResults maps step keys to results and fails on a key recorded twice.
func journalResults(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Key    string          `json:"key"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			continue // a torn line from the kill
		}
		if _, dup := out[rec.Key]; dup {
			t.Fatalf("step %s recorded twice: it executed twice", rec.Key)
		}
		out[rec.Key] = string(rec.Result)
	}
	return out
}

func TestKilledRunResumesWithoutRepeatingSteps(t *testing.T) {
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "steps.star", stepsPlan)

	// The reference: an uninterrupted run.
	ref := filepath.Join(tmp, "ref")
	if code, _, stderr := runCLI("run", plan, "--out", ref, "--log-format", "json"); code != 0 {
		t.Fatalf("reference run exit %d: %s", code, stderr)
	}

	killed := filepath.Join(tmp, "killed")
	cmd := starlabProcess(t, "run", plan, "--out", killed, "--log-format", "json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(filepath.Join(killed, "journal.jsonl"))
		if bytes.Count(data, []byte("\n")) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never journaled two steps")
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	before := journalResults(t, killed)
	if len(before) >= 6 {
		t.Fatalf("the kill came too late: %d steps done", len(before))
	}

	code, stdout, stderr := runCLI("run", "--resume", killed, plan, "--log-format", "json")
	if code != 0 {
		t.Fatalf("resume exit %d: %s", code, stderr)
	}
	if got, want := strings.Count(stderr, "executing step"), 6-len(before); got != want {
		t.Fatalf("resume executed %d steps, want %d", got, want)
	}
	if !strings.Contains(stdout, "total=55") {
		t.Fatalf("resumed run's result: %s", stdout)
	}
	// The plan's output is on stdout and in output.txt, not in the log.
	if data, _ := os.ReadFile(filepath.Join(killed, "output.txt")); string(data) != "total=55\n" || strings.Contains(stderr, "total=55") {
		t.Fatalf("output.txt %q; stderr has the print: %v", data, strings.Contains(stderr, "total=55"))
	}
	after, want := journalResults(t, killed), journalResults(t, ref)
	if len(after) != len(want) {
		t.Fatalf("resumed journal has %d steps, uninterrupted %d", len(after), len(want))
	}
	for k, v := range want {
		if after[k] != v {
			t.Errorf("step %s: resumed %s, uninterrupted %s", k, after[k], v)
		}
	}
}

func TestInterruptStopsTheRunAndRecordsIt(t *testing.T) {
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "long.star", "sleep_step(0, value = 1)\nsleep_step(\"1h\")\n")
	dir := filepath.Join(tmp, "run")
	cmd := starlabProcess(t, "run", plan, "--out", dir, "--log-format", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(filepath.Join(dir, "journal.jsonl")); len(data) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started its steps")
		}
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Ctrl-C took %v to stop the run", took)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130; stderr: %s", err, stderr.String())
	}
	m := runtimetest.Manifest(t, dir)
	if m["status"] != "interrupted" {
		t.Fatalf("manifest status %v", m["status"])
	}
	if !strings.Contains(stderr.String(), "--resume "+dir) {
		t.Fatalf("no hint how to continue: %s", stderr.String())
	}
}

func TestExitCodesAndMessages(t *testing.T) {
	tmp := t.TempDir()
	good := writeFile(t, tmp, "good.star", "x = param(\"x\", 1)\nsleep_step(0)\n")
	bad := writeFile(t, tmp, "bad.star", "def f(x):\n    return x + \"a\"\nsleep_step(0)\nf(1)\n")
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run"}, 2, "want: starlab run PLAN.star"},
		{[]string{"run", good, "--set", "y=2", "--out", filepath.Join(tmp, "a")}, 2, `the plan has no param "y" (it has: x)`},
		{[]string{"run", good, "--set", "x=two", "--out", filepath.Join(tmp, "b")}, 2, `--set x=two: want an int, got "two"`},
		{[]string{"run", good, "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"run", bad, "--out", filepath.Join(tmp, "c"), "--log-format", "json"}, 1, "bad.star:2:14: in f"},
		{[]string{"run", good, "--out", filepath.Join(tmp, "d"), "--log-format", "json"}, 0, "results: "},
		{[]string{"check", good}, 0, "x                    default 1"},
		{[]string{"doc", "sleep_step"}, 0, `sleep_step(duration="0s", value=None)`},
		{[]string{"doc", "nothing"}, 2, `no builtin "nothing"`},
		{[]string{"doc"}, 0, "param(name, default, doc=\"\")"},
		{[]string{"version"}, 0, "starlab "},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(tt.args...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.contains) {
			t.Errorf("starlab %s: exit %d, want %d; output lacks %q:\n%s%s", strings.Join(tt.args, " "), code, tt.code, tt.contains, stdout, stderr)
		}
	}
	// A failed run keeps its results and says where they are.
	data, _ := os.ReadFile(filepath.Join(tmp, "c", "manifest.json"))
	if !bytes.Contains(data, []byte(`"status": "error"`)) || !bytes.Contains(data, []byte("bad.star:4:2: in ")) {
		t.Errorf("failed run manifest: %s", data)
	}
}

// `starlab report RUNDIR` rebuilds the report from the run directory alone.
func TestReportRegeneratesFromTheRunDirectory(t *testing.T) {
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "r.star", `
s = start_vllm("Llama-3.1-8B", sim_gpu = "L40S", max_model_len = 4096)
sweep(s, rates = [2, 4], duration = "10s", warmup = "2s", name = "r")
report(title = "r")
`)
	dir := filepath.Join(tmp, "run")
	if code, _, stderr := runCLI("run", plan, "--virtual", "--out", dir, "--log-format", "json"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	os.Remove(filepath.Join(dir, "report.md"))
	os.RemoveAll(filepath.Join(dir, "plots"))
	if code, stdout, stderr := runCLI("report", dir); code != 0 || !strings.Contains(stdout, "report.md") {
		t.Fatalf("report exit %d: %s%s", code, stdout, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !bytes.Equal(want, got) {
		t.Fatalf("regenerated report differs:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "plots", "throughput_r.png")); err != nil {
		t.Fatal("plots were not regenerated")
	}
	if code, _, _ := runCLI("report", filepath.Join(tmp, "nothing")); code == 0 {
		t.Fatal("report of a missing directory succeeded")
	}
}

// A --virtual run ends with the time the plan would take on real servers: its points' warmups,
// windows and drains, and the servers' start-ups; the manifest keeps the figures.
func TestVirtualRunEstimatesRealTime(t *testing.T) {
	plan := writeFile(t, t.TempDir(), "plan.star", `
s = start_vllm("Llama-3.1-8B", backend = "vllm", sim_gpu = "L40S", max_model_len = 4096)
sweep(s, rates = [2, 4], duration = "60s", warmup = "10s")
`)
	dir := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCLI("run", plan, "--virtual", "--quiet", "--out", dir)
	if code != 0 || !strings.Contains(stderr, "on real servers this run would take about") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m struct {
		Estimate struct {
			Total float64            `json:"total_s"`
			Parts map[string]float64 `json:"parts_s"`
		} `json:"real_time_estimate"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	points, starts := m.Estimate.Parts["load points"], m.Estimate.Parts["server starts"]
	// Two points of 10 s warmup + 60 s, plus the last answers; a vLLM start of a minute and more.
	if points < 140 || points > 160 || starts < 60 || m.Estimate.Total != points+starts {
		t.Fatalf("estimate %+v", m.Estimate)
	}
	if strings.Contains(stderr, `"level":"info"`) || strings.Contains(stderr, "INF") {
		t.Fatalf("--quiet logged info lines: %s", stderr)
	}
}
