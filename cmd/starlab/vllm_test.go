package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeVLLM puts testdata/vllm (the simulator behind vLLM's command line) first on PATH.
func fakeVLLM(t *testing.T) {
	t.Helper()
	dir, _ := filepath.Abs("testdata")
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("STARLAB_BIN", os.Args[0])
}

// serverPIDs reads the simulator's process ids from the server logs of a run.
func serverPIDs(t *testing.T, dir string) []int {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "servers", "*.log"))
	re := regexp.MustCompile(`\(APIServer pid=(\d+)\)`)
	seen := map[int]bool{}
	var pids []int
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			pid, _ := strconv.Atoi(m[1])
			if !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		alive := 0
		for _, pid := range pids {
			if !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server processes survived the run", alive)
		}
	}
}

const vllmPlan = `
crash = param("crash_after", 0)
extra = ["--sim-crash-after", str(crash)] if crash else []
s = start_vllm("Llama-3.1-8B", sim_gpu = "L40S", max_model_len = 4096, extra_args = extra, ready_timeout = "60s")
print("kv tokens=%d concurrency=%s" % (s.kv_cache.tokens, s.kv_cache.max_concurrency))
r = sweep(s, rates = [4, 6, 8], duration = "1500ms", warmup = "500ms", name = "ramp",
          dataset = dataset(input_len = 64, output_len = 16))
print("points=%d completed=%d" % (len(r.points), r.points[-1]["completed"]))
`

func TestVLLMExecutableEndToEnd(t *testing.T) {
	fakeVLLM(t)
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "plan.star", vllmPlan)

	dir := filepath.Join(tmp, "ok")
	code, stdout, stderr := runCLI("run", plan, "--out", dir, "--log-format", "json")
	if code != 0 || !strings.Contains(stdout, "points=3") || !strings.Contains(stdout, "kv tokens=") {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	pids := serverPIDs(t, dir)
	if len(pids) != 1 {
		t.Fatalf("server pids %v", pids)
	}
	waitGone(t, pids)
	data, _ := os.ReadFile(filepath.Join(dir, "sweeps", "ramp.json"))
	if strings.Count(string(data), `"request_rate"`) != 3 {
		t.Fatalf("ramp.json: %s", data)
	}
}

func TestServerDyingMidSweepIsReported(t *testing.T) {
	fakeVLLM(t)
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "plan.star", vllmPlan)
	dir := filepath.Join(tmp, "crash")
	code, _, stderr := runCLI("run", plan, "--set", "crash_after=12", "--out", dir, "--log-format", "json")
	if code != 1 || !strings.Contains(stderr, "died") || !strings.Contains(stderr, "sweeps/ramp.json") {
		t.Fatalf("exit %d, want 1 with the server's death named:\n%s", code, stderr)
	}
	// The point the crash hit is kept, its failures counted by reason, but not journaled.
	data, _ := os.ReadFile(filepath.Join(dir, "sweeps", "ramp.json"))
	if !strings.Contains(string(data), `"failed"`) || !regexp.MustCompile(`"failed": [1-9]`).Match(data) {
		t.Fatalf("ramp.json lacks the failed requests:\n%.2000s", data)
	}
	journal, _ := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
	if journaled, kept := strings.Count(string(journal), `"builtin":"sweep"`), strings.Count(string(data), `"request_rate"`); journaled != kept-1 {
		t.Fatalf("%d points journaled, %d kept: the broken point must be kept but not journaled", journaled, kept)
	}
	waitGone(t, serverPIDs(t, dir))
}

func TestKilledRunLeavesNoServerAndResumes(t *testing.T) {
	fakeVLLM(t)
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "plan.star", vllmPlan)
	dir := filepath.Join(tmp, "killed")
	cmd := starlabProcess(t, "run", plan, "--out", dir, "--log-format", "json")
	var out bytes.Buffer
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		journal, _ := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
		if strings.Count(string(journal), `"builtin":"sweep"`) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sweep point was journaled:\n%s", out.String())
		}
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	waitGone(t, serverPIDs(t, dir)) // the server got SIGTERM when starlab died

	code, stdout, stderr := runCLI("run", "--resume", dir, plan, "--log-format", "json")
	if code != 0 || !strings.Contains(stdout, "points=3") {
		t.Fatalf("resume exit %d:\n%s%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "sweep: measuring point"); n < 1 || n > 2 {
		t.Fatalf("resume measured %d points, want only the ones not journaled", n)
	}
	if !strings.Contains(stderr, "starting the server now") {
		t.Fatalf("the resumed run did not start its server lazily:\n%s", stderr)
	}
	waitGone(t, serverPIDs(t, dir))
}
