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
