package sweep

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"starlab/builtins/server"
	"starlab/runtime/slurmtest"
)

// The srun command line carries the settings that apply to one task, and inside an allocation
// leaves the job-level ones to the job.
func TestSlurmWorkerArgs(t *testing.T) {
	full := &server.Slurm{Partition: "gpu", Account: "lab", QOS: "high", Time: "1:00:00", Constraint: "a100",
		CPUsPerTask: 4, Mem: "8G", Nodes: 2, GPUsPerNode: 4, Setup: []string{"module load x"}, SbatchArgs: []string{"--exclusive"}}
	head := []string{"srun", "--job-name=starlab-r-s-client-w1", "--ntasks=1", "--nodes=1", "--export=ALL", "--immediate=60"}
	worker := []string{"/opt/starlab", "sweep-worker"}
	tests := []struct {
		name       string
		s          *server.Slurm
		allocation string
		want       []string
	}{
		{"defaults", &server.Slurm{}, "", nil},
		{"partition", &server.Slurm{Partition: "debug"}, "", []string{"--partition=debug"}},
		{"all", full, "", []string{"--partition=gpu", "--account=lab", "--qos=high", "--time=1:00:00",
			"--constraint=a100", "--cpus-per-task=4", "--mem=8G"}},
		{"in an allocation", full, "123", []string{"--time=1:00:00", "--constraint=a100", "--cpus-per-task=4", "--mem=8G"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &slurmWorkers{slurm: tc.s, name: "starlab-r-s-client", worker: worker, allocation: tc.allocation}
			want := slices.Concat(head, tc.want, worker)
			if got := l.srunArgs(1); !slices.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
	l, err := newSlurmWorkers(&server.Slurm{}, "2026 run", "my/sweep")
	if err != nil {
		t.Fatal(err)
	}
	if l.jobName(0) != "starlab-2026_run-my_sweep-client-w0" || !slices.Equal(l.worker[1:], []string{WorkerCommandName}) {
		t.Errorf("name %q, worker %q", l.jobName(0), l.worker)
	}
}

// slurmTestWorkers makes o's workers this test binary as Slurm job steps on the test cluster and
// returns their srun processes so far and the workers' job names (cancelled when the test ends).
func slurmTestWorkers(t *testing.T, o *Options, n int) (func() []*exec.Cmd, []string) {
	t.Helper()
	slurmtest.Cluster(t)
	l := &slurmWorkers{slurm: &server.Slurm{Partition: "debug"}, name: slurmtest.Name(t), worker: []string{os.Args[0]}}
	var names []string
	for w := range n {
		name := l.jobName(w)
		names = append(names, name)
		t.Cleanup(func() { slurmtest.CancelAll(t, name) })
	}
	var mu sync.Mutex
	var cmds []*exec.Cmd
	o.WorkerCommand = func(w int) (*exec.Cmd, error) {
		cmd, err := l.command(w)
		mu.Lock()
		cmds = append(cmds, cmd)
		mu.Unlock()
		return cmd, err
	}
	o.WorkerStop = l.stop
	return func() []*exec.Cmd {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(cmds)
	}, names
}

// assertNoJobs fails if Slurm still has an unfinished job of one of the names, and unless
// submitted, if it never had one.
func assertNoJobs(t *testing.T, names []string, submitted bool) {
	t.Helper()
	for _, name := range names {
		if left, err := slurmRun("squeue", "-h", "--name="+name, "-o", "%i %T"); err != nil || strings.TrimSpace(left) != "" {
			t.Errorf("jobs named %s left: %q %v", name, left, err)
		}
		if ids := slurmtest.Jobs(t, name); submitted && len(ids) == 0 {
			t.Errorf("no job named %s was submitted", name)
		}
	}
}

// Cancelling the run mid-point stops both workers' steps: the partial point comes back at once
// and no job is left in the queue.
func TestSlurmWorkersCancelled(t *testing.T) {
	f := &fakeServer{StallAfter: 1}
	s := f.start(t)
	o := testOptions(t)
	o.Duration, o.Timeout, o.Grace, o.Clients = time.Minute, time.Minute, time.Minute, 2
	cmds, names := slurmTestWorkers(t, &o, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once both steps run and requests are in flight.
		for f.requests.Load() < 4 && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	p, err := RunPoint(ctx, Target{URL: s.URL, Model: "m"}, o, PointSpec{Rate: 20})
	if err == nil || !p.StoppedEarly || p.Incomplete == 0 || len(cmds()) != 2 || time.Since(start) > 40*time.Second {
		t.Fatalf("err %v after %v, %d workers, point %+v", err, time.Since(start), len(cmds()), p)
	}
	assertReaped(t, cmds())
	assertNoJobs(t, names, true)
}

// A worker whose resources are not granted in time fails the point's start instead of hanging,
// and its pending job does not stay behind.
func TestSlurmWorkerPending(t *testing.T) {
	o := testOptions(t)
	o.Clients, o.Duration = 2, time.Second
	cmds, names := slurmTestWorkers(t, &o, 2)
	blocker := slurmtest.Name(t)
	// The node's every CPU, so that the workers pend.
	if _, err := slurmRun("sbatch", "--parsable", "--job-name="+blocker, "--partition=debug", "--cpus-per-task=2",
		"--wrap=sleep 300"); err != nil {
		t.Fatal(err)
	}
	old := slurmStepPending
	slurmStepPending = 2 * time.Second
	defer func() { slurmStepPending = old }()
	start := time.Now()
	_, err := RunPoint(context.Background(), Target{URL: "http://127.0.0.1:1", Model: "m"}, o, PointSpec{Rate: 5})
	if err == nil || !strings.Contains(err.Error(), "before it was ready") || time.Since(start) > 30*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	t.Logf("the error: %v", err)
	assertReaped(t, cmds())
	assertNoJobs(t, names, false)
}
