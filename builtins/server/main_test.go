package server

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"starlab/builtins/sim"
)

// With STARLAB_SIM_SERVE=1 the test binary is `vllm serve` (see testdata/vllm); with
// STARLAB_FAKE_ENGINE it is another engine (fakeengine_test.go).
func TestMain(m *testing.M) {
	if role := os.Getenv("STARLAB_FAKE_ENGINE"); role != "" {
		os.Exit(fakeEngineMain(role, os.Args[1:]))
	}
	if os.Getenv("STARLAB_SIM_SERVE") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		os.Exit(sim.ServeMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// fakeVLLMOnPath puts testdata/vllm first on PATH.
func fakeVLLMOnPath(t *testing.T) {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("STARLAB_SIM_BIN", os.Args[0])
	t.Setenv("STARLAB_VLLM", "") // the fake, not a vLLM the environment names
}
