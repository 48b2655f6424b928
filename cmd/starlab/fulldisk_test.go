package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const fullDiskPlan = `
s = start_vllm("Llama-3.1-8B", sim_gpu = "L40S", max_model_len = 4096)
for i in range(6):
    sweep(s, rates = [5, 10], duration = "30s", warmup = "2s", name = "s%d" % i,
          dataset = dataset(input_len = 64, output_len = 16))
report()
`

// A run directory on a small tmpfs fills up mid-run: the run stops with an error naming the file,
// the journal holds only whole lines, and --resume, once there is room, finishes with the same
// report and the same files as a run that never ran out of space.
func TestFullDiskStopsCleanlyAndResumes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	tmp := t.TempDir()
	mnt := filepath.Join(tmp, "small")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	defer exec.Command("umount", "-l", mnt).Run()
	plan := writeFile(t, tmp, "plan.star", fullDiskPlan)
	dir := filepath.Join(mnt, "run")
	code, _, stderr := runCLI("run", plan, "--virtual", "--quiet", "--out", dir)
	if code != 1 || !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, filepath.Join(dir, "sweeps")) {
		t.Fatalf("exit %d, want 1 with the file named:\n%s", code, stderr)
	}
	journal, _ := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
	sc := bufio.NewScanner(bytes.NewReader(journal))
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("journal line %d is not whole: %.80s", n, sc.Text())
		}
	}
	if len(journal) > 0 && journal[len(journal)-1] != '\n' {
		t.Fatal("the journal ends inside a line")
	}

	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	if code, _, stderr := runCLI("run", "--resume", dir, "--quiet"); code != 0 {
		t.Fatalf("resume exit %d:\n%s", code, stderr)
	}
	ref := filepath.Join(tmp, "ref")
	if code, _, stderr := runCLI("run", plan, "--virtual", "--quiet", "--out", ref); code != 0 {
		t.Fatalf("reference run exit %d:\n%s", code, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(ref, "sweeps", "*"))
	for _, f := range append(files, filepath.Join(ref, "report.md")) {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(f, ref)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the run that had room (%v)", strings.TrimPrefix(f, ref+"/"), err)
		}
	}
}
