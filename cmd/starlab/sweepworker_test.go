package main

import (
	"bytes"
	"strings"
	"testing"
)

// `starlab sweep-worker` is dispatched (a real starlab is what sweep's coordinator starts), and
// reads its job from stdin: a line that is not one is an error that says so. It stays out of the
// usage, which is for people.
func TestSweepWorkerSubcommand(t *testing.T) {
	cmd := starlabProcess(t, "sweep-worker")
	cmd.Stdin = strings.NewReader("not a job\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), "starlab sweep-worker: reading the job from stdin") {
		t.Fatalf("exit %v, stderr %q", err, stderr.String())
	}
	if code, _, stderr := runCLI("sweep-worker", "extra"); code != 2 || !strings.Contains(stderr, "takes no arguments") {
		t.Errorf("with an argument: exit %d, %q", code, stderr)
	}
	if strings.Contains(usage(), "sweep-worker") {
		t.Error("the usage lists the hidden sweep-worker")
	}
}
