package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --dry-run says what a plan would launch, without launching it or keeping anything: each
// server's command line, environment and GPUs, a Slurm job's batch script, and the time the real
// run would take.
func TestDryRunSaysWhatWouldLaunch(t *testing.T) {
	t.Setenv("STARLAB_VLLM", "")
	t.Setenv("PATH", t.TempDir()) // no vllm here: the dry run says so
	dir := t.TempDir()
	plan := writeFile(t, dir, "plan.star", `
one = start_vllm("Llama-3.1-8B", gpus = 2, tensor_parallel = 2, sim_gpu = "H100", max_model_len = 4096, env = {"VLLM_LOGGING_LEVEL": "DEBUG"})
far = start_vllm("Llama-3.1-8B", sim_gpu = "H100", launcher = slurm(partition = "gpu", time = "01:00:00"), name = "batch")
r = sweep(one, rates = [2, 4], duration = "30s", warmup = "5s")
print("points=%d" % len(r.points))
`)
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	code, stdout, stderr := runCLI("run", plan, "--dry-run", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"server Llama-3.1-8B-2gpu (vllm): run on this machine",
		"GPUs: 0,1",
		"env CUDA_VISIBLE_DEVICES=0,1",
		"env VLLM_LOGGING_LEVEL=DEBUG",
		"vllm serve Llama-3.1-8B",
		"--tensor-parallel-size 2",
		"(vllm is not found on this machine",
		"server batch (vllm): submit Slurm job",
		"#SBATCH --partition=gpu",
		"points=2",
		"on real servers this run would take about",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
		t.Error("a dry run left a run directory")
	}
	if code, _, stderr := runCLI("run", plan, "--dry-run", "--out", filepath.Join(dir, "x")); code != 2 || !strings.Contains(stderr, "keeps nothing") {
		t.Errorf("--dry-run --out: exit %d: %s", code, stderr)
	}
}
