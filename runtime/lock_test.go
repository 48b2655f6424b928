package runtime_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"starlab/runtime"
)

// lockHolderEnv makes this test binary hold a run directory's lock, as a run would, until killed.
const lockHolderEnv = "STARLAB_TEST_HOLD_LOCK"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHolderEnv); dir != "" {
		plan := filepath.Join(dir, "..", "hold.star")
		os.WriteFile(plan, []byte(`sleep_step("1h")`+"\n"), 0o644)
		runtime.Execute(context.Background(), runtime.Options{PlanPath: plan, Out: dir, Seed: 1, LogOut: os.Stderr})
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// One run per directory: while a run holds D, a second run --out D, a resume of D and a replay of
// D fail at once, naming the holder's pid; once the holder is killed (SIGKILL: no clean-up), the
// stale lock file is no obstacle.
func TestOneRunPerDirectory(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "run")
	holder := exec.Command(os.Args[0], "-test.run=XXX")
	holder.Env = append(os.Environ(), lockHolderEnv+"="+dir)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for !fileHas(filepath.Join(dir, "journal.jsonl")) || !fileHas(filepath.Join(dir, runtime.LockName)) {
		if time.Now().After(deadline) {
			t.Fatal("the holder did not start its run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	plan := filepath.Join(tmp, "plan.star")
	os.WriteFile(plan, []byte(`sleep_step("1ms")`+"\n"), 0o644)
	pid := strconv.Itoa(holder.Process.Pid)
	for name, opts := range map[string]runtime.Options{
		"run --out": {PlanPath: plan, Out: dir},
		"--resume":  {PlanPath: plan, Resume: dir},
		"replay":    {PlanPath: plan, Replay: dir},
	} {
		opts.Seed, opts.LogOut = 1, &strings.Builder{}
		_, err := runtime.Execute(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), "in use by starlab (pid "+pid+")") {
			t.Errorf("%s while the run holds %s: %v", name, dir, err)
		}
	}
	holder.Process.Kill()
	holder.Wait()
	if !fileHas(filepath.Join(dir, runtime.LockName)) {
		t.Fatal("a killed run leaves its lock file (the test needs it to check a stale one)")
	}
	out, err := runtime.Execute(context.Background(), runtime.Options{PlanPath: plan, Resume: dir, Seed: 1, LogOut: &strings.Builder{}})
	if err != nil || out.Err != nil {
		t.Fatalf("resume after the holder died: %v %v", err, out.Err)
	}
	if fileHas(filepath.Join(dir, runtime.LockName)) {
		t.Error("a run that ended left its lock file")
	}
}

func fileHas(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() >= 0
}
