package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	_ "starlab/builtins/all"
	"starlab/builtins/server"
	"starlab/runtime"
	"starlab/runtime/runtimetest"
	"starlab/runtime/slurmtest"
)

// A plan starts a server with launcher=slurm(...), sweeps it and stops it: the job's output is
// servers/srv.log, the manifest names the job, and no job is left.
func TestSlurmPlanSweep(t *testing.T) {
	slurmtest.Cluster(t)
	server.FakeVLLMOnPath(t)
	base := fmt.Sprintf("run-slurm-plan-%d", os.Getpid())
	job := "starlab-" + base + "-srv"
	t.Cleanup(func() { slurmtest.CancelAll(t, job) })
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	out, err := runtime.Execute(context.Background(), runtime.Options{
		PlanPath: "testdata/slurm/sweep.star", Seed: runtime.DefaultSeed, Out: filepath.Join(t.TempDir(), base),
		LogOut: zerolog.NewTestWriter(t), LogLevel: zerolog.InfoLevel, Extra: assert,
		Hooks: []func(*runtime.Run){func(r *runtime.Run) {
			r.OnThread(func(th *starlark.Thread) { starlarktest.SetReporter(th, t) })
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Err != nil {
		t.Fatal(runtime.FormatError(out.Err))
	}
	servers, _ := runtimetest.Manifest(t, out.Dir)["servers"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["launcher"] != "slurm" || servers[0].(map[string]any)["job_id"] == nil {
		t.Fatalf("manifest servers %v", servers)
	}
	log, _ := os.ReadFile(filepath.Join(out.Dir, "servers", "srv.log"))
	if !strings.Contains(string(log), "setup ran on") || !strings.Contains(string(log), "GPU KV cache size") {
		t.Fatalf("servers/srv.log:\n%s", log)
	}
	if q, _ := exec.Command("squeue", "-h", "-n", job, "-o", "%i").Output(); len(strings.TrimSpace(string(q))) > 0 {
		t.Fatalf("jobs left: %s", q)
	}
}
