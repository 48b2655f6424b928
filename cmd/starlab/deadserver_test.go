package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startSimServe runs `starlab sim serve` on port as a process of its own (an external server this
// test can kill) and waits until it answers.
func startSimServe(t *testing.T, port int) *os.Process {
	t.Helper()
	cmd := starlabProcess(t, "sim", "serve", "Llama-3.2-1B", "--sim-gpu", "H200", "--max-model-len", "2048",
		"--host", "127.0.0.1", "--port", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/v1/models", port)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return cmd.Process
		}
	}
	t.Fatal("sim serve did not come up")
	return nil
}

// An external server killed with SIGKILL during the first of two points: the point is recorded as
// it was, the sweep stops with an error that names the server, its URL and the point, the run
// fails (exit 1), and --resume measures the rest once the server is back.
func TestDeadExternalServerStopsTheSweep(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sim := startSimServe(t, port)

	tmp := t.TempDir()
	plan := writeFile(t, tmp, "plan.star", fmt.Sprintf(`
s = start_vllm("Llama-3.2-1B", backend = "external", url = "http://127.0.0.1:%d", name = "ext")
r = sweep(s, rates = [8, 8], duration = "3s", warmup = "0s", gpu_sample = False, name = "two",
          dataset = dataset(input_len = 16, output_len = 8))
print("points=%%d" %% len(r.points))
`, port))
	dir := filepath.Join(tmp, "run")
	time.AfterFunc(1500*time.Millisecond, func() { syscall.Kill(-sim.Pid, syscall.SIGKILL) })
	code, stdout, stderr := runCLI("run", plan, "--out", dir, "--log-format", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the run failed):\n%s%s", code, stdout, stderr)
	}
	want := regexp.MustCompile(fmt.Sprintf(`server ext at http://127\.0\.0\.1:%d is gone: at rate=8, \d+ of \d+ requests failed to connect`, port))
	if !want.MatchString(stderr) || !strings.Contains(stderr, "sweeps/two.json") {
		t.Fatalf("the error does not name the server, its URL and the point:\n%s", stderr)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "sweeps", "two.json"))
	if n := strings.Count(string(data), `"request_rate"`); n != 1 || !strings.Contains(string(data), "connection_refused") {
		t.Fatalf("want the first point kept with its failures and no second point, got %d points:\n%.400s", n, data)
	}

	startSimServe(t, port)
	code, stdout, stderr = runCLI("run", "--resume", dir, "--log-format", "json")
	if code != 0 || !strings.Contains(stdout, "points=2") {
		t.Fatalf("resume exit %d:\n%s%s", code, stdout, stderr)
	}
}
