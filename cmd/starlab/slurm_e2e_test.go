package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"starlab/runtime/runtimetest"
	"starlab/runtime/slurmtest"
)

// End-to-end tests of a server as a Slurm batch job against the real one-node cluster
// (scripts/slurm-up.sh), with a real starlab process killed or interrupted mid-sweep. The job runs
// testdata/vllm, the test binary serving the simulator: sbatch exports starlab's environment, so
// the job finds the binary through STARLAB_BIN. They skip when the cluster is absent (fail under
// CI).

// slurmRun is a `starlab run` of testdata/slurm/sweep.star in a run directory named after the
// test, so the server's job (starlab-<run>-srv) is this test's and is cancelled when it ends.
type slurmRun struct {
	dir, job, plan string
	flags          []string
}

func newSlurmRun(t *testing.T) *slurmRun {
	t.Helper()
	slurmtest.Cluster(t) // also exports SLURM_CONF for the starlab processes and their jobs
	t.Setenv("STARLAB_BIN", os.Args[0])
	vllm, _ := filepath.Abs("testdata/vllm")
	plan, _ := filepath.Abs("testdata/slurm/sweep.star")
	base := slurmtest.Name(t)
	r := &slurmRun{dir: filepath.Join(t.TempDir(), base), job: "starlab-" + base + "-srv", plan: plan,
		flags: []string{"--engine-cmd", "vllm=" + vllm, "--log-format", "json"}}
	// Registered before any starlab process, so it runs after their process groups are killed:
	// nothing can submit the job again once it is cancelled.
	t.Cleanup(func() { slurmtest.CancelAll(t, r.job) })
	return r
}

// start runs starlab with args in its own process group, its stderr going to a file (a pipe
// could keep Wait waiting on the killed process's children).
func (r *slurmRun) start(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := starlabProcess(t, append(args, r.flags...)...)
	errPath := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, errPath
}

// waitFor polls cond every 50 ms until it holds; after timeout the test fails with what.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
	}
}

// firstPointDone waits until the server's start and the sweep's first point are journaled, and
// returns the server's job, then RUNNING.
func (r *slurmRun) firstPointDone(t *testing.T, errPath string) string {
	t.Helper()
	waitFor(t, 45*time.Second, "the sweep's first point was never journaled", func() bool {
		data, _ := os.ReadFile(filepath.Join(r.dir, "journal.jsonl"))
		return strings.Contains(string(data), "point=0:rate=2")
	})
	jobs := slurmtest.Jobs(t, r.job)
	if len(jobs) != 1 {
		out, _ := os.ReadFile(errPath)
		t.Fatalf("jobs named %s: %v, want one\n%s", r.job, jobs, out)
	}
	if st := slurmtest.State(t, jobs[0]); st != "RUNNING" {
		t.Fatalf("job %s is %s while the sweep runs", jobs[0], st)
	}
	return jobs[0]
}

// activeJobs lists the queued, running or completing jobs named name.
func activeJobs(t *testing.T, name string) []string {
	t.Helper()
	out, err := exec.Command("squeue", "-h", "-n", name, "-o", "%i").Output()
	if err != nil {
		t.Fatalf("squeue: %v", err)
	}
	return strings.Fields(string(out))
}

// logJobs lists the job ids that wrote a start marker to the server's log (the job script's
// first line; every job of the server appends to the same file).
func logJobs(t *testing.T, dir string) []string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(dir, "servers", "srv.log"))
	var ids []string
	for _, m := range regexp.MustCompile(`(?m)^# starlab: job (\d+) `).FindAllStringSubmatch(string(data), -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// SIGKILL leaves the server's job running, as a crash of starlab or its machine would; --resume
// re-attaches to it, finishes the sweep without repeating a point and cancels it. Exactly one job
// ever ran for the server. Accounting is off on the test cluster (no sacct), so the count comes
// from `squeue --states=all --name=JOB`, which lists finished jobs for MinJobAge (300 s, far
// longer than the test), cross-checked with the start markers each job writes to servers/srv.log.
func TestSlurmKilledRunResumesOnTheSameJob(t *testing.T) {
	r := newSlurmRun(t)
	cmd, errPath := r.start(t, "run", r.plan, "--out", r.dir)
	id := r.firstPointDone(t, errPath)
	pids := serverPIDs(t, r.dir)
	if len(pids) == 0 {
		t.Fatal("the job's simulator logged no pid")
	}

	cmd.Process.Kill() // starlab alone, not its group: its job is Slurm's, not its child
	cmd.Wait()
	before := journalResults(t, r.dir)
	if len(before) < 2 || len(before) >= 5 {
		t.Fatalf("the kill came at the wrong time: %d steps journaled, want the start and 1-3 points", len(before))
	}
	time.Sleep(500 * time.Millisecond)
	if st := slurmtest.State(t, id); st != "RUNNING" {
		t.Fatalf("job %s is %s after starlab was killed; a crash leaves it RUNNING", id, st)
	}
	if err := syscall.Kill(pids[0], 0); err != nil {
		t.Fatalf("the job's simulator (pid %d) died with starlab: %v", pids[0], err)
	}

	resume, errPath := r.start(t, "run", "--resume", r.dir)
	err := resume.Wait()
	stderr, _ := os.ReadFile(errPath)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	reattached := regexp.MustCompile(`(?m)^.*re-attaching to the Slurm job.*$`).FindString(string(stderr))
	output, _ := os.ReadFile(filepath.Join(r.dir, "output.txt")) // the plan's print()s
	if !strings.Contains(reattached, `"job":"`+id+`"`) || !strings.Contains(string(output), "points=4") {
		t.Fatalf("resume did not re-attach to job %s and finish the sweep:\n%s", id, stderr)
	}
	if strings.Contains(string(stderr), "submitted the server's Slurm job") {
		t.Fatalf("resume submitted a second job:\n%s", stderr)
	}
	if after := journalResults(t, r.dir); len(after) != 5 { // the start and four points, each once
		t.Fatalf("journal has %d steps after resume, want 5", len(after))
	}

	if jobs := slurmtest.Jobs(t, r.job); !slices.Equal(jobs, []string{id}) {
		t.Fatalf("jobs named %s over the test: %v, want only %s", r.job, jobs, id)
	}
	if jobs := logJobs(t, r.dir); !slices.Equal(jobs, []string{id}) {
		t.Fatalf("jobs that started the server (servers/srv.log): %v, want only %s", jobs, id)
	}
	if jobs := activeJobs(t, r.job); len(jobs) != 0 {
		t.Fatalf("jobs %v still queued or running after the resumed run", jobs)
	}
	if st := slurmtest.State(t, id); st != "CANCELLED" {
		t.Errorf("job %s ended %s, want CANCELLED by the run's end", id, st)
	}
	waitGone(t, serverPIDs(t, r.dir))

	m := runtimetest.Manifest(t, r.dir)
	servers, _ := m["servers"].([]any)
	if m["status"] != "ok" || len(servers) != 1 || servers[0].(map[string]any)["job_id"] != id {
		t.Fatalf("manifest status %v, servers %v; want ok and job %s", m["status"], servers, id)
	}
}

// Ctrl-C during the sweep: starlab cancels the job, exits 130 and keeps what it measured.
func TestSlurmInterruptCancelsTheJob(t *testing.T) {
	r := newSlurmRun(t)
	cmd, errPath := r.start(t, "run", r.plan, "--out", r.dir)
	id := r.firstPointDone(t, errPath)

	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	took := time.Since(start)
	stderr, _ := os.ReadFile(errPath)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130 (interrupted)\n%s", err, stderr)
	}
	if took > 15*time.Second {
		t.Errorf("Ctrl-C took %v to stop the run", took)
	}
	if !strings.Contains(string(stderr), "--resume "+r.dir) {
		t.Errorf("no hint how to continue:\n%s", stderr)
	}
	// cancelJob waited for the job to leave RUNNING before starlab exited; allow Slurm's
	// bookkeeping a few seconds anyway.
	waitFor(t, 5*time.Second, "job "+id+" still queued or running after Ctrl-C", func() bool {
		return len(activeJobs(t, r.job)) == 0
	})
	if st := slurmtest.State(t, id); st != "CANCELLED" {
		t.Errorf("job %s ended %s, want CANCELLED", id, st)
	}
	if jobs := slurmtest.Jobs(t, r.job); !slices.Equal(jobs, []string{id}) {
		t.Errorf("jobs named %s: %v, want only %s", r.job, jobs, id)
	}
	waitGone(t, serverPIDs(t, r.dir))

	if m := runtimetest.Manifest(t, r.dir); m["status"] != "interrupted" {
		t.Fatalf("manifest status %v, want interrupted", m["status"])
	}
	data, err := os.ReadFile(filepath.Join(r.dir, "sweeps", "pts.json"))
	if err != nil {
		t.Fatalf("no partial sweep results: %v", err)
	}
	var points []struct {
		RequestRate float64 `json:"request_rate"`
		Completed   int     `json:"completed"`
	}
	if err := json.Unmarshal(data, &points); err != nil || len(points) == 0 || points[0].RequestRate != 2 || points[0].Completed == 0 {
		t.Fatalf("sweeps/pts.json lacks the measured first point (%v):\n%s", err, data)
	}
}
