package sweep_test

import (
	"testing"

	"starlab/runtime/runtimetest"
)

// clients = 2 through sweep() on the wall clock: the coordinator starts this executable as its
// workers, and this test binary's TestMain runs them (sweep.WorkerEnv).
func TestClientsWallScript(t *testing.T) {
	runtimetest.RunScript(t, "testdata/scripts/clients_wall.star", runtimetest.Options{Wall: true})
}

// Conversations, trace replay, ramps and sampling parameters on the wall clock, over HTTP.
func TestWorkloadsWallScript(t *testing.T) {
	runtimetest.RunScript(t, "testdata/scripts/workloads_wall.star", runtimetest.Options{Wall: true})
}
