package sweep_test

import (
	"testing"
	"time"

	"starlab/runtime/runtimetest"
	"starlab/runtime/slurmtest"
)

// workerJobs are the Slurm job names of a sweep's two workers in a runtimetest run (its run
// directory is named "run"), each cancelled when the test ends.
func workerJobs(t *testing.T, sweep string) []string {
	names := []string{"starlab-run-" + sweep + "-client-w0", "starlab-run-" + sweep + "-client-w1"}
	for _, n := range names {
		t.Cleanup(func() { slurmtest.CancelAll(t, n) })
	}
	return names
}

// clients = 2 as Slurm job steps on the wall clock: valid merged metrics (the script's asserts),
// one job per worker was submitted, and none is left.
func TestClientsSlurmWallScript(t *testing.T) {
	slurmtest.Cluster(t)
	name := slurmtest.Name(t)
	names := workerJobs(t, name)
	runtimetest.RunScript(t, "testdata/scripts/clients_slurm_wall.star",
		runtimetest.Options{Wall: true, Sets: map[string]string{"name": name}})
	for _, n := range names {
		ids := slurmtest.Jobs(t, n)
		if len(ids) != 1 {
			t.Fatalf("jobs named %s: %v, want one", n, ids)
		}
		if st := slurmtest.Wait(t, ids[0], 10*time.Second); st == "PENDING" || st == "RUNNING" {
			t.Errorf("job %s: %s", ids[0], st)
		}
	}
}

// clients = 2 with a Slurm client_launcher in virtual time gives the points of clients = 1, and
// submits no job.
func TestClientsSlurmVirtualScript(t *testing.T) {
	slurmtest.Cluster(t)
	name := slurmtest.Name(t)
	names := append(workerJobs(t, name), workerJobs(t, name+"-closed2")...)
	runtimetest.RunScript(t, "testdata/scripts/clients_slurm_vtime.star",
		runtimetest.Options{Sets: map[string]string{"name": name}})
	for _, n := range names {
		if ids := slurmtest.Jobs(t, n); len(ids) != 0 {
			t.Errorf("virtual time submitted jobs named %s: %v", n, ids)
		}
	}
}
