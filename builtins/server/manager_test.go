package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"starlab/runtime/paramerr"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func newTestManager(t *testing.T) *Manager {
	t.Helper()
	m := NewManager(t.TempDir(), 4, zerolog.New(zerolog.NewTestWriter(t)))
	m.Grace = 5 * time.Second
	t.Cleanup(m.StopAll)
	return m
}

// groupGone reports whether no process of the group is left.
func groupGone(pgid int) bool {
	return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

func TestVLLMProcessLifecycle(t *testing.T) {
	fakeVLLMOnPath(t)
	m := newTestManager(t)
	h, err := m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 2, DataParallel: 2, MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	info := h.Info()
	if info.KVCache == nil || info.KVCache.Tokens <= 0 || info.KVCache.TokensPerRequest != 4096 || info.KVCache.MemoryGiB <= 0 {
		t.Fatalf("kv_cache from the start-up log: %+v", info.KVCache)
	}
	if strings.Join(info.Command[:3], " ") != "vllm serve Llama-3.1-8B" || info.Devices[0] != 0 || info.Devices[1] != 1 {
		t.Fatalf("info %+v", info)
	}
	resp, err := http.Get(info.URL + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v", err)
	}
	resp.Body.Close()
	log, _ := os.ReadFile(filepath.Join(m.Dir, "servers", info.Name+".log"))
	if !strings.Contains(string(log), "GPU KV cache size") {
		t.Fatalf("server log lacks the start-up lines:\n%s", log)
	}

	// The same configuration is reused, another gets other GPUs.
	again, err := m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 2, DataParallel: 2, MaxModelLen: 4096})
	if err != nil || again != h {
		t.Fatalf("identical spec was not reused: %v", err)
	}
	if _, err := m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 4}); err == nil || !strings.Contains(err.Error(), "only 2 of 4 are free (server Llama-3.1-8B-2gpu-dp2 holds GPU 0,1)") {
		t.Fatalf("overlapping GPUs: %v", err)
	}

	pgid := h.proc.cmd.Process.Pid
	h.Stop()
	if !groupGone(pgid) {
		t.Fatal("a process of the server's group survived Stop")
	}
	if !portFree("127.0.0.1", portOf(t, info.URL)) {
		t.Fatal("the port is still taken after Stop")
	}
}

func portOf(t *testing.T, url string) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	var n int
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestStartFailures(t *testing.T) {
	fakeVLLMOnPath(t)
	m := newTestManager(t)

	_, err := m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", ExtraArgs: []string{"--sim-fail-at-start", "oom"}, GPUs: 1, DataParallel: 1})
	if err == nil || !strings.Contains(err.Error(), "failed to start") || !strings.Contains(strings.ToLower(err.Error()), "out of memory") {
		t.Fatalf("OOM start: %v", err)
	}
	if len(m.Handles()) != 0 || len(m.vllmAlloc.held) != 0 {
		t.Fatalf("a failed start left a server or GPUs held")
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 1, DataParallel: 1, Port: l.Addr().(*net.TCPAddr).Port})
	var pe *paramerr.Error
	if !errors.As(err, &pe) || pe.Param != "port" || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("port in use: %v", err)
	}

	_, err = m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 1, DataParallel: 1, ReadyTimeout: 300 * time.Millisecond,
		ExtraArgs: []string{"--sim-startup-delay", "30s"}})
	if err == nil || !strings.Contains(err.Error(), "not ready after 300ms") {
		t.Fatalf("ready timeout: %v", err)
	}
}

func TestInterruptDuringStartStopsTheProcess(t *testing.T) {
	fakeVLLMOnPath(t)
	m := newTestManager(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	_, err := m.Start(ctx, Spec{Model: "Llama-3.1-8B", GPUs: 1, DataParallel: 1, ExtraArgs: []string{"--sim-startup-delay", "1m"}})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
	out, _ := os.ReadFile(filepath.Join(m.Dir, "servers", "Llama-3.1-8B-1gpu.log"))
	if !strings.Contains(string(out), "vLLM API server version") {
		t.Fatalf("the process never ran: %s", out)
	}
}

func TestServerDeathIsReported(t *testing.T) {
	fakeVLLMOnPath(t)
	m := newTestManager(t)
	h, err := m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 1, DataParallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(-h.proc.cmd.Process.Pid, syscall.SIGKILL)
	<-h.proc.exited
	err = h.Alive()
	if err == nil || !strings.Contains(err.Error(), "server Llama-3.1-8B-1gpu died (signal: killed); last log lines") {
		t.Fatalf("Alive after a kill: %v", err)
	}
	if _, err := h.Ensure(context.Background()); err == nil {
		t.Fatal("Ensure on a dead server succeeded")
	}
}

func TestSimAndExternalBackends(t *testing.T) {
	m := newTestManager(t)
	h, err := m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 1, DataParallel: 1, Backend: BackendSim, SimGPU: "A100-80G"})
	if err != nil {
		t.Fatal(err)
	}
	info := h.Info()
	if info.KVCache == nil || info.KVCache.Tokens == 0 || h.SimGPUs() == nil || h.SimGPUs()()[0].Name == "" {
		t.Fatalf("sim server: %+v", info)
	}
	ext, err := m.Start(context.Background(), Spec{Backend: BackendExternal, URL: info.URL + "/v1/"})
	if err != nil {
		t.Fatal(err)
	}
	if ext.Info().Model != "Llama-3.1-8B" || ext.Info().URL != info.URL {
		t.Fatalf("external: %+v", ext.Info())
	}
	ext.Stop()
	if _, err := http.Get(info.URL + "/health"); err != nil {
		t.Fatal("stopping an external server stopped the server behind it")
	}
	h.Stop()
	if _, err := http.Get(info.URL + "/health"); err == nil {
		t.Fatal("the in-process simulator still answers after Stop")
	}
}

func TestVirtualServersHaveNoProcess(t *testing.T) {
	m := newTestManager(t)
	m.Virtual = true
	h, err := m.Start(context.Background(), Spec{Model: "Gemma-3-12B", GPUs: 1, DataParallel: 1, SimGPU: "RTX 3090",
		Quantization: "bitsandbytes", MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if !h.Virtual() || h.Info().KVCache == nil || h.Info().KVCache.TokensPerRequest != 4096 {
		t.Fatalf("virtual server: %+v", h.Info())
	}
	vs, err := h.NewVirtual(1)
	if err != nil || vs.Config().ModelInfo.Layers != 48 {
		t.Fatalf("virtual engine: %v", err)
	}
}
