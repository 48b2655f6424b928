package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"starlab/runtime/paramerr"
)

// ggufFile writes a stand-in model file (the fakes only check that it exists).
func ggufFile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func serverLog(t *testing.T, m *Manager, name string) string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(m.Dir, "servers", name+".log"))
	return string(data)
}

func TestLlamaCppLifecycle(t *testing.T) {
	fakeEngines(t)
	m := newTestManager(t)
	model := ggufFile(t, "tiny.gguf")
	h, err := m.Start(context.Background(), Spec{Backend: EngineLlamaCpp, Model: model, MaxNumSeqs: 2, MaxModelLen: 1024,
		ExtraArgs: []string{"--fake-child"}})
	if err != nil {
		t.Fatal(err)
	}
	info := h.Info()
	want := &KVCache{MemoryGiB: 0.5 / 1024, Tokens: 2048, MaxConcurrency: 2, TokensPerRequest: 1024, Slots: 2, SlotContext: 1024}
	if !reflect.DeepEqual(info.KVCache, want) {
		t.Errorf("capacity: got %+v, want %+v", info.KVCache, want)
	}
	if info.Name != "tiny-llamacpp-cpu" || info.Model != "tiny" || info.EngineVersion != "b4524-6171c9d2" || info.Backend != "llama.cpp" ||
		len(info.Devices) != 0 || info.Config["parallel"] != 2 {
		t.Errorf("info: %+v", info)
	}
	if h.Metrics().Running != "llamacpp:requests_processing" {
		t.Errorf("metrics: %+v", h.Metrics())
	}
	log := serverLog(t, m, info.Name)
	pids := pidsIn(t, log)
	if len(pids) != 2 || !strings.Contains(log, "--ctx-size") {
		t.Fatalf("the fake did not start as expected:\n%s", log)
	}
	h.Stop()
	if !allGone(pids) {
		t.Fatal("a process of llama-server's group survived Stop")
	}
}

func TestSGLangLifecycle(t *testing.T) {
	fakeEngines(t)
	m := newTestManager(t)
	h, err := m.Start(context.Background(), Spec{Backend: EngineSGLang, Model: "meta-llama/Llama-3.1-8B-Instruct", GPUs: 2, DataParallel: 2,
		MaxNumSeqs: 64, MaxModelLen: 8192})
	if err != nil {
		t.Fatal(err)
	}
	info := h.Info()
	want := &KVCache{MemoryGiB: 2.84, Tokens: 46611, MaxConcurrency: 5.69, TokensPerRequest: 8192, Slots: 64, SlotContext: 8192}
	if !reflect.DeepEqual(info.KVCache, want) {
		t.Errorf("capacity: got %+v, want %+v", info.KVCache, want)
	}
	if info.Name != "Llama-3.1-8B-Instruct-sglang-2gpu-dp2" || info.Model != "meta-llama/Llama-3.1-8B-Instruct" || info.EngineVersion != "0.4.3.post2" ||
		!reflect.DeepEqual(info.Devices, []int{0, 1}) || !reflect.DeepEqual(h.Devices(), []int{0, 1}) {
		t.Errorf("info: %+v", info)
	}
	if !strings.Contains(strings.Join(info.Command, " "), "-m sglang.launch_server --model-path meta-llama/Llama-3.1-8B-Instruct") {
		t.Errorf("command: %q", info.Command)
	}
}

// ollama: serve with its state in the run directory, create from the file, load; the model is
// the name ollama serves; its runner is a child in serve's process group and stops with it.
func TestOllamaLifecycle(t *testing.T) {
	fakeEngines(t)
	m := newTestManager(t)
	model := ggufFile(t, "Tiny.gguf")
	h, err := m.Start(context.Background(), Spec{Backend: EngineOllama, Model: model, MaxNumSeqs: 2, MaxModelLen: 512})
	if err != nil {
		t.Fatal(err)
	}
	info := h.Info()
	want := &KVCache{MemoryGiB: 2.0 / 1024, Tokens: 1024, MaxConcurrency: 2, TokensPerRequest: 512, Slots: 2, SlotContext: 512}
	if !reflect.DeepEqual(info.KVCache, want) {
		t.Errorf("capacity: got %+v, want %+v", info.KVCache, want)
	}
	if info.Model != "tiny:latest" || info.EngineVersion != "0.6.5" || info.Name != "Tiny-ollama-cpu" {
		t.Errorf("info: %+v", info)
	}
	if h.Metrics().Path != "" {
		t.Errorf("ollama has no /metrics: %+v", h.Metrics())
	}
	dir := filepath.Join(m.Dir, "servers", "Tiny-ollama-cpu.ollama")
	mf, _ := os.ReadFile(filepath.Join(dir, "Modelfile"))
	if string(mf) != "FROM "+model+"\nTEMPLATE {{ .Prompt }}\nPARAMETER num_ctx 512\n" {
		t.Errorf("Modelfile:\n%s", mf)
	}
	if from, _ := os.ReadFile(filepath.Join(dir, "models", "manifest-tiny")); string(from) != model {
		t.Errorf("the model was not created in OLLAMA_MODELS inside the run directory: %q", from)
	}
	log := serverLog(t, m, info.Name)
	if !strings.Contains(log, "OLLAMA_KEEP_ALIVE:-1 OLLAMA_NOPRUNE:1 OLLAMA_NUM_PARALLEL:2") || !strings.Contains(log, "\nsuccess\n") {
		t.Errorf("serve's environment or create's output is missing:\n%s", log)
	}
	pids := pidsIn(t, log)
	if len(pids) != 3 { // serve, create, runner
		t.Fatalf("want the pids of serve, create and the runner:\n%s", log)
	}
	resp, err := http.Get(info.URL + "/api/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.Stop()
	if !allGone(pids) {
		t.Fatal("a process of ollama's group (the runner?) survived Stop")
	}
}

func TestMissingExecutableSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, v := range []string{"STARLAB_VLLM", "STARLAB_SGLANG", "STARLAB_LLAMA_CPP", "STARLAB_OLLAMA"} {
		t.Setenv(v, "")
	}
	m := newTestManager(t)
	model := ggufFile(t, "tiny.gguf")
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Backend: EngineOllama, Model: model}, "cannot start ollama: not found on PATH; run scripts/get-ollama.sh and set STARLAB_OLLAMA"},
		{Spec{Backend: EngineLlamaCpp, Model: model}, "cannot start llama-server: not found on PATH; build llama.cpp"},
		{Spec{Backend: EngineSGLang, Model: "m", GPUs: 1}, `cannot start python3: not found on PATH; install SGLang (pip install "sglang[all]")`},
		{Spec{Backend: EngineVLLM, Model: "m", GPUs: 1}, "cannot start vllm: not found on PATH; install vLLM"},
	}
	for _, tt := range tests {
		_, err := m.Start(context.Background(), tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.spec.Backend, err, tt.want)
		}
	}
	t.Setenv("STARLAB_OLLAMA", "/nonexistent/ollama")
	_, err := m.Start(context.Background(), Spec{Backend: EngineOllama, Model: model})
	if want := "cannot start /nonexistent/ollama: no such file; run scripts/get-ollama.sh"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a STARLAB_OLLAMA that names no file: got %v, want %q", err, want)
	}
	if len(m.Handles()) != 0 || len(m.vllmAlloc.held) != 0 {
		t.Fatal("a failed start left a server or GPUs held")
	}
}

func TestMissingModelFileNamesTheParameter(t *testing.T) {
	fakeEngines(t)
	m := newTestManager(t)
	for _, engine := range []string{EngineLlamaCpp, EngineOllama} {
		missing := filepath.Join(t.TempDir(), "nope.gguf")
		_, err := m.Start(context.Background(), Spec{Backend: engine, Model: missing})
		var pe *paramerr.Error
		if !errors.As(err, &pe) || pe.Param != "model" || !strings.Contains(err.Error(), missing+": no such file") {
			t.Errorf("%s: %v", engine, err)
		}
	}
}

func TestEngineExitingAtStartGivesItsLastLines(t *testing.T) {
	fakeEngines(t)
	m := newTestManager(t)
	_, err := m.Start(context.Background(), Spec{Backend: EngineLlamaCpp, Model: ggufFile(t, "bad.gguf"), ExtraArgs: []string{"--fake-exit-at-start"}})
	if err == nil || !strings.Contains(err.Error(), "server bad-llamacpp-cpu failed to start: the server exited before it was ready (exit status 1); last log lines") ||
		!strings.Contains(err.Error(), "error loading model: tensor 'token_embd.weight' data is not within the file bounds") {
		t.Fatalf("got %v", err)
	}
	// A launcher whose Python lacks the engine exits at start too: the message says how to install.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "python3"), []byte("#!/bin/sh\necho \"/usr/bin/python3: Error while finding module specification for 'sglang.launch_server' (ModuleNotFoundError: No module named 'sglang')\" >&2\nexit 1\n"), 0o755)
	t.Setenv("STARLAB_SGLANG", filepath.Join(dir, "python3")+" -m sglang.launch_server")
	_, err = m.Start(context.Background(), Spec{Backend: EngineSGLang, Model: "m", GPUs: 1})
	if err == nil || !strings.Contains(err.Error(), "No module named 'sglang'") || !strings.Contains(err.Error(), `(install SGLang (pip install "sglang[all]")`) {
		t.Fatalf("sglang without its module: %v", err)
	}
}

// Ctrl-C while the engine loads, and while ollama creates its model: the start returns at once
// and no process of the server's group, nor the helper's, is left.
func TestInterruptDuringEngineStart(t *testing.T) {
	fakeEngines(t)
	tests := []struct {
		name string
		spec Spec
		env  string
		want int // processes the fakes report
	}{
		{"llama.cpp loading", Spec{Backend: EngineLlamaCpp, ExtraArgs: []string{"--fake-loading", "1h", "--fake-child"}}, "", 2},
		{"ollama create", Spec{Backend: EngineOllama}, "STARLAB_FAKE_CREATE_HANG", 2},
	}
	for _, tt := range tests {
		if tt.env != "" {
			t.Setenv(tt.env, "1")
		}
		m := newTestManager(t)
		tt.spec.Model = ggufFile(t, "tiny.gguf")
		ctx, cancel := context.WithCancel(context.Background())
		name := normalized(t, tt.spec).DefaultName()
		go func() { // cancel once every process is up
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if len(pidsIn(t, serverLog(t, m, name))) >= tt.want {
					break
				}
			}
			cancel()
		}()
		start := time.Now()
		_, err := m.Start(ctx, tt.spec)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "start interrupted; the process was stopped") || time.Since(start) > 25*time.Second {
			t.Fatalf("%s: got %v after %v", tt.name, err, time.Since(start))
		}
		pids := pidsIn(t, serverLog(t, m, name))
		if len(pids) < tt.want || !allGone(pids) {
			t.Fatalf("%s: processes %v (want %d) are not all gone:\n%s", tt.name, pids, tt.want, serverLog(t, m, name))
		}
		if tt.env != "" {
			t.Setenv(tt.env, "")
		}
	}
}
