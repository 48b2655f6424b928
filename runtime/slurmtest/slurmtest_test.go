package slurmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sbatch submits a batch job named name that runs in dir and writes its output to dir/ID.out.
func sbatch(t *testing.T, name, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	all := append([]string{"--parsable", "--job-name=" + name, "--chdir=" + dir,
		"--output=" + filepath.Join(dir, "%j.out")}, args...)
	out, err := command(ctx, currentConf(t), "sbatch", all...)
	if err != nil {
		t.Fatalf("sbatch %v: %v", all, err)
	}
	id := strings.TrimSpace(out)
	if _, err := strconv.Atoi(id); err != nil {
		t.Fatalf("sbatch --parsable printed %q, not a job id", out)
	}
	return id
}

// gpus parses the CUDA_VISIBLE_DEVICES line a job printed first: distinct indices of the node's
// four fake GPUs.
func gpus(t *testing.T, dir, id string) []int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, id+".out"))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	var out []int
	for f := range strings.SplitSeq(line, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 3 || slices.Contains(out, n) {
			t.Fatalf("job %s: CUDA_VISIBLE_DEVICES=%q is not a list of distinct GPUs 0-3; output:\n%s", id, line, data)
		}
		out = append(out, n)
	}
	return out
}

func TestBatchJobGetsTwoGPUs(t *testing.T) {
	Cluster(t)
	name, dir := Name(t), t.TempDir()
	id := sbatch(t, name, dir, "--gres=gpu:2", "--wrap", "echo $CUDA_VISIBLE_DEVICES; sleep 1")
	if state := Wait(t, id, 60*time.Second); state != "COMPLETED" {
		t.Fatalf("job %s ended %s", id, state)
	}
	if got := gpus(t, dir, id); len(got) != 2 {
		t.Errorf("job %s got GPUs %v, want 2", id, got)
	}
	if got := Jobs(t, name); !slices.Equal(got, []string{id}) {
		t.Errorf("Jobs(%s) = %v, want the finished job [%s]", name, got, id)
	}
}

func TestConcurrentJobsGetDisjointGPUs(t *testing.T) {
	Cluster(t)
	name, dir := Name(t), t.TempDir()
	// Each job holds its GPUs until it has seen the other one start, so the two surely ran at the
	// same time; a job that never saw its partner exits 3.
	script := `echo $CUDA_VISIBLE_DEVICES; touch started.$SLURM_JOB_ID
for i in $(seq 1 600); do [ $(ls started.* | wc -l) -ge 2 ] && exit 0; sleep 0.1; done
echo the other job never started; exit 3`
	a := sbatch(t, name, dir, "--gres=gpu:2", "--wrap", script)
	b := sbatch(t, name, dir, "--gres=gpu:2", "--wrap", script)
	for _, id := range []string{a, b} {
		if state := Wait(t, id, 90*time.Second); state != "COMPLETED" {
			out, _ := os.ReadFile(filepath.Join(dir, id+".out"))
			t.Fatalf("job %s ended %s; output:\n%s", id, state, out)
		}
	}
	ga, gb := gpus(t, dir, a), gpus(t, dir, b)
	if len(ga) != 2 || len(gb) != 2 {
		t.Fatalf("jobs got GPUs %v and %v, want 2 each", ga, gb)
	}
	for _, g := range ga {
		if slices.Contains(gb, g) {
			t.Errorf("concurrent jobs share GPU %d: %v and %v", g, ga, gb)
		}
	}
}

func TestCancelAllKillsTheJobsProcesses(t *testing.T) {
	Cluster(t)
	name, dir := Name(t), t.TempDir()
	id := sbatch(t, name, dir, "--wrap", "echo $$ > pid; sleep 300")
	var pid int
	deadline := time.Now().Add(60 * time.Second)
	for pid == 0 {
		if data, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil && strings.HasSuffix(string(data), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not start in 60 s: %s", id, State(t, id))
		}
		time.Sleep(100 * time.Millisecond)
	}
	CancelAll(t, name)
	if state := State(t, id); state != "CANCELLED" {
		t.Errorf("job %s is %s after CancelAll, want CANCELLED", id, state)
	}
	// The job runs on this machine: its shell must be gone, not just forgotten by Slurm.
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("job %s's shell (pid %d) still runs after CancelAll", id, pid)
	}
}

// recorder is a testing.TB that records Skip and Fatal instead of ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func cluster(r *recorder) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		Cluster(r)
	}()
	<-done
}

// Without a cluster, Cluster skips with the command that starts one, and under CI it fails.
// These cases hold whether or not a cluster runs here.
func TestClusterAbsent(t *testing.T) {
	cases := map[string]func(t *testing.T){
		"no commands": func(t *testing.T) { t.Setenv("PATH", t.TempDir()) },
		"no conf":     func(t *testing.T) { t.Setenv("SLURM_CONF", filepath.Join(t.TempDir(), "slurm.conf")) },
		"controller down": func(t *testing.T) {
			// Port 1 on loopback: nothing answers; auth/none needs no munge.
			conf := filepath.Join(t.TempDir(), "slurm.conf")
			text := "ClusterName=dead\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=1\n" +
				"AuthType=auth/none\nCredType=cred/none\nNodeName=localhost CPUs=1\nPartitionName=p Nodes=localhost\n"
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("SLURM_CONF", conf)
		},
		"no state dir": func(t *testing.T) {
			t.Setenv("SLURM_CONF", "") // restored after the case
			os.Unsetenv("SLURM_CONF")
			t.Setenv("STARLAB_SLURM_DIR", t.TempDir())
		},
	}
	for what, setup := range cases {
		for _, ci := range []string{"", "1"} {
			t.Run(fmt.Sprintf("%s/CI=%q", what, ci), func(t *testing.T) {
				t.Setenv("CI", ci)
				setup(t)
				r := &recorder{}
				cluster(r)
				msg := r.skipped
				if ci != "" {
					msg = r.failed
					if r.skipped != "" {
						t.Errorf("under CI Cluster skipped: %s", r.skipped)
					}
				} else if r.failed != "" {
					t.Errorf("outside CI Cluster failed: %s", r.failed)
				}
				t.Log(msg)
				if _, err := exec.LookPath("scontrol"); err == nil && what == "controller down" &&
					!strings.Contains(msg, "scontrol ping") {
					t.Errorf("message %q does not name the failed scontrol ping", msg)
				}
				if !strings.Contains(msg, StartHint) {
					t.Errorf("message %q does not say to run %s", msg, StartHint)
				}
			})
		}
	}
}
