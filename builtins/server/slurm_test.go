package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"starlab/runtime/slurmtest"
)

// End-to-end tests against the real one-node Slurm cluster (scripts/slurm-up.sh: 4 fake GPUs);
// they skip when its daemons are absent. The job's `vllm` is testdata/vllm, the test binary
// serving the simulator, found through the PATH sbatch passes on to the job.

// slurmManager is a manager whose run directory has a name of its own, so its jobs'
// names (starlab-<run>-<server>) are this test's; its engines listen on loopback.
func slurmManager(t *testing.T) *Manager {
	t.Helper()
	slurmtest.Cluster(t)
	fakeVLLMOnPath(t)
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("run-%s-%d", reJobName.ReplaceAllString(t.Name(), "_"), os.Getpid()))
	m := NewManager(dir, -1, zerolog.New(zerolog.NewTestWriter(t)))
	m.Grace, m.SlurmBind = 5*time.Second, "127.0.0.1"
	t.Cleanup(m.StopAll)
	return m
}

// slurmSpec is a 1-GPU simulated vLLM named name on the Slurm launcher.
func slurmSpec(t *testing.T, m *Manager, name string, extra ...string) Spec {
	t.Helper()
	job := m.slurmJobName(name)
	t.Cleanup(func() { slurmtest.CancelAll(t, job) })
	return Spec{Name: name, Model: "Llama-3.1-8B", GPUs: 1, MaxModelLen: 4096, ExtraArgs: extra,
		ReadyTimeout: time.Minute, Launcher: &Slurm{Time: "10:00", GPUsPerNode: 4}}
}

// activeJobs lists the ids of the queued or running jobs named name.
func activeJobs(t *testing.T, name string) []string {
	t.Helper()
	out, err := exec.Command("squeue", "-h", "-n", name, "-o", "%i").Output()
	if err != nil {
		t.Fatalf("squeue: %v", err)
	}
	return strings.Fields(string(out))
}

func TestSlurmServerLifecycle(t *testing.T) {
	m := slurmManager(t)
	spec := slurmSpec(t, m, "one")
	h, err := m.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	info := h.Info()
	if info.Launcher != "slurm" || info.JobID == "" || info.ScriptSHA256 == "" || info.KVCache == nil || info.KVCache.Tokens <= 0 {
		t.Fatalf("info %+v", info)
	}
	if len(info.Devices) != 1 {
		t.Errorf("the job's GPU (CUDA_VISIBLE_DEVICES from --gres) is not recorded: %v", info.Devices)
	}
	if jobs := activeJobs(t, m.slurmJobName("one")); len(jobs) != 1 || jobs[0] != info.JobID {
		t.Fatalf("jobs %v, want [%s]", jobs, info.JobID)
	}
	resp, err := http.Get(info.URL + "/v1/models")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the job's engine does not answer: %v", err)
	}
	resp.Body.Close()
	if err := h.Alive(); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(m.Dir, "servers", "one.log"))
	if !strings.Contains(string(log), "GPU KV cache size") || !strings.Contains(string(log), "# starlab: job "+info.JobID) {
		t.Fatalf("servers/one.log is not the job's output:\n%s", log)
	}
	if entries := ManifestEntries([]Info{info}); entries[0].Launcher != "slurm" || entries[0].JobID != info.JobID {
		t.Fatalf("manifest entry %+v", entries[0])
	}
	h.Stop()
	if st, err := queryJob(info.JobID); err != nil || st.active() {
		t.Fatalf("after Stop the job is %+v (%v)", st, err)
	}
	if err := h.Alive(); err != nil {
		t.Fatal("a stopped server's Alive reports its cancelled job")
	}
}

func TestSlurmTwoServersDisjointGPUs(t *testing.T) {
	m := slurmManager(t)
	a, b := slurmSpec(t, m, "a"), slurmSpec(t, m, "b")
	a.GPUs, b.GPUs = 2, 2
	b.MaxNumSeqs = 64 // another configuration: an identical one would be reused
	ha, err := m.Start(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := m.Start(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	da, db := ha.Info().Devices, hb.Info().Devices
	if len(da) != 2 || len(db) != 2 {
		t.Fatalf("devices %v and %v", da, db)
	}
	for _, x := range da {
		for _, y := range db {
			if x == y {
				t.Fatalf("both jobs got GPU %d: %v and %v", x, da, db)
			}
		}
	}
	if ha.Info().URL == hb.Info().URL {
		t.Fatal("two jobs, one URL")
	}
	m.StopAll()
	for _, n := range []string{"a", "b"} {
		if jobs := activeJobs(t, m.slurmJobName(n)); len(jobs) != 0 {
			t.Errorf("server %s left jobs %v", n, jobs)
		}
	}
}

func TestSlurmFailAtStartGivesLogTail(t *testing.T) {
	m := slurmManager(t)
	_, err := m.Start(context.Background(), slurmSpec(t, m, "oom", "--sim-fail-at-start", "oom"))
	if err == nil || !strings.Contains(err.Error(), "CUDA out of memory") || !strings.Contains(err.Error(), "Slurm job") {
		t.Fatalf("error %v, want the job's log tail", err)
	}
	if jobs := activeJobs(t, m.slurmJobName("oom")); len(jobs) != 0 {
		t.Fatalf("jobs %v left", jobs)
	}
}

func TestSlurmPendingPastReadyTimeoutIsCancelled(t *testing.T) {
	m := slurmManager(t)
	spec := slurmSpec(t, m, "later")
	spec.Launcher.SbatchArgs = []string{"--begin=now+1hour"} // never starts within the test
	spec.ReadyTimeout = 2 * time.Second
	start := time.Now()
	_, err := m.Start(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "still PENDING (reason: BeginTime)") || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("error %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %v", took)
	}
	if jobs := activeJobs(t, m.slurmJobName("later")); len(jobs) != 0 {
		t.Fatalf("jobs %v left", jobs)
	}
}

// Cancelling the run's context (Ctrl-C) cancels the job, whether it pends or its engine loads.
func TestSlurmCancelCancelsTheJob(t *testing.T) {
	m := slurmManager(t)
	for _, c := range []struct {
		name  string
		spec  func(*Spec)
		after time.Duration
	}{
		{"pending", func(s *Spec) { s.Launcher.SbatchArgs = []string{"--begin=now+1hour"} }, time.Second},
		{"loading", func(s *Spec) { s.ExtraArgs = []string{"--sim-startup-delay", "60s"} }, 3 * time.Second},
	} {
		spec := slurmSpec(t, m, c.name)
		c.spec(&spec)
		ctx, cancel := context.WithTimeout(context.Background(), c.after)
		_, err := m.Start(ctx, spec)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "start interrupted") {
			t.Fatalf("%s: error %v", c.name, err)
		}
		if jobs := activeJobs(t, m.slurmJobName(c.name)); len(jobs) != 0 {
			t.Fatalf("%s: jobs %v left", c.name, jobs)
		}
	}
}

// A run killed after starting a server (its manager never stops anything) and resumed: the start
// taken from the journal re-attaches to the same job; a start that never reached the journal finds
// its job through the record file; a changed script cancels the old job. Never two jobs, none at
// the end.
func TestSlurmResumeAfterKill(t *testing.T) {
	m1 := slurmManager(t)
	spec := slurmSpec(t, m1, "srv")
	h1, err := m1.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	journaled := h1.Info()
	job := m1.slurmJobName("srv")
	forget := func(m *Manager) { // the kill: the process is gone, its handles with it
		m.mu.Lock()
		m.handles = nil
		m.mu.Unlock()
	}
	forget(m1)

	// --resume: the start comes from the journal; the first step that needs the server re-attaches.
	m2 := NewManager(m1.Dir, -1, zerolog.New(zerolog.NewTestWriter(t)))
	m2.Grace, m2.SlurmBind = 5*time.Second, "127.0.0.1"
	h2 := m2.Adopt(spec, journaled)
	if _, err := h2.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if id := h2.Info().JobID; id != journaled.JobID {
		t.Fatalf("resumed on job %s, the killed run's was %s", id, journaled.JobID)
	}
	if jobs := activeJobs(t, job); len(jobs) != 1 {
		t.Fatalf("jobs %v", jobs)
	}
	forget(m2)

	// Killed before the start was journaled: a fresh start finds the job in the record file.
	m3 := NewManager(m1.Dir, -1, zerolog.New(zerolog.NewTestWriter(t)))
	m3.Grace, m3.SlurmBind = 5*time.Second, "127.0.0.1"
	h3, err := m3.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if id := h3.Info().JobID; id != journaled.JobID {
		t.Fatalf("started job %s next to the recorded %s", id, journaled.JobID)
	}
	forget(m3)

	// The plan changed the server's script: the old job is cancelled, one new job runs.
	m4 := NewManager(m1.Dir, -1, zerolog.New(zerolog.NewTestWriter(t)))
	m4.Grace, m4.SlurmBind = 5*time.Second, "127.0.0.1"
	changed := spec
	changed.Env = map[string]string{"STARLAB_TEST_CHANGED": "1"}
	h4 := m4.Adopt(changed, journaled)
	if _, err := h4.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if id := h4.Info().JobID; id == journaled.JobID {
		t.Fatal("re-attached to a job whose script differs")
	}
	if jobs := activeJobs(t, job); len(jobs) != 1 || jobs[0] != h4.Info().JobID {
		t.Fatalf("jobs %v, want only %s", jobs, h4.Info().JobID)
	}
	forget(m4)

	// A resumed run whose steps all come from the journal never needs the server: its end still
	// cancels the recorded job.
	m5 := NewManager(m1.Dir, -1, zerolog.New(zerolog.NewTestWriter(t)))
	m5.Adopt(changed, h4.Info())
	m5.StopAll()
	if jobs := activeJobs(t, job); len(jobs) != 0 {
		t.Fatalf("jobs %v left at the end", jobs)
	}
}

// FakeVLLMOnPath is fakeVLLMOnPath for the package's external tests.
func FakeVLLMOnPath(t *testing.T) { fakeVLLMOnPath(t) }
