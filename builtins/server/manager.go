package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"starlab/runtime/paramerr"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Manager owns the servers of one run: it allocates GPUs, reuses servers with identical
// configuration, and stops everything when the run ends.
type Manager struct {
	// Dir is the run directory; logs go to Dir/servers/<name>.log.
	Dir string
	// VLLMCmd starts vLLM ("vllm" when empty).
	VLLMCmd string
	// Virtual makes every server the simulator in virtual time.
	Virtual bool
	// SeedFor seeds the in-process simulator of the named server (nil: seed 1).
	SeedFor func(name string) uint64
	// Grace is how long a server has to exit after SIGTERM before SIGKILL.
	Grace time.Duration
	// Host is the address local servers listen on.
	Host string
	// BusyCheck, when set, fails a vLLM start on GPUs that other processes already use (NVML).
	BusyCheck func(devices []int) error

	log       zerolog.Logger
	mu        sync.Mutex
	handles   []*Handle
	vllmAlloc *allocator
	simAlloc  *allocator
}

// SimulatedGPUs is the size of the simulated node that backend "sim" allocates from.
const SimulatedGPUs = 8

// NewManager makes a manager; vllmGPUs is the machine's GPU count (-1 when unknown).
func NewManager(dir string, vllmGPUs int, log zerolog.Logger) *Manager {
	return &Manager{Dir: dir, Grace: 20 * time.Second, Host: "127.0.0.1", log: log,
		vllmAlloc: newAllocator(vllmGPUs), simAlloc: newAllocator(SimulatedGPUs)}
}

// SetGPUs tells the manager how many GPUs the machine has (from NVML) and how to check that
// devices are not already used by other processes.
func (m *Manager) SetGPUs(count int, busy func(devices []int) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vllmAlloc.total, m.BusyCheck = count, busy
}

// Handles returns every server of the run, in start order.
func (m *Manager) Handles() []*Handle {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Handle(nil), m.handles...)
}

// Start starts a server for spec, or returns the running one with the same configuration.
func (m *Manager) Start(ctx context.Context, spec Spec) (*Handle, error) {
	if err := spec.Normalize(); err != nil {
		return nil, err
	}
	if h := m.reusable(spec.Key()); h != nil {
		m.log.Info().Str("server", h.Name()).Msg("reusing the running server with the same configuration")
		return h, nil
	}
	h := m.newHandle(spec)
	if _, err := m.launch(ctx, h); err != nil {
		m.forget(h)
		return nil, err
	}
	return h, nil
}

// Adopt makes a handle for a server whose start was taken from the journal: it starts only when
// a step that needs it must run (Handle.Ensure).
func (m *Manager) Adopt(spec Spec, info Info) *Handle {
	if err := spec.Normalize(); err != nil {
		spec.Backend = info.Backend
	}
	if h := m.reusable(spec.Key()); h != nil {
		return h
	}
	h := m.newHandle(spec)
	h.mu.Lock()
	h.info = info
	h.mu.Unlock()
	return h
}

func (m *Manager) reusable(key string) *Handle {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.handles {
		h.mu.Lock()
		ok := h.Key == key && !h.stopped
		h.mu.Unlock()
		if ok {
			return h
		}
	}
	return nil
}

func (m *Manager) newHandle(spec Spec) *Handle {
	m.mu.Lock()
	defer m.mu.Unlock()
	name := spec.Name
	if name == "" {
		name = spec.DefaultName()
		for n := 2; m.nameTaken(name); n++ {
			name = fmt.Sprintf("%s-%d", spec.DefaultName(), n)
		}
	}
	h := &Handle{Spec: spec, Key: spec.Key(), mgr: m, info: Info{Name: name, Backend: spec.Backend, Model: spec.Model}}
	m.handles = append(m.handles, h)
	return h
}

func (m *Manager) nameTaken(name string) bool {
	for _, h := range m.handles {
		if h.info.Name == name {
			return true
		}
	}
	return false
}

func (m *Manager) forget(h *Handle) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.handles {
		if x == h {
			m.handles = append(m.handles[:i], m.handles[i+1:]...)
			return
		}
	}
}

func (m *Manager) release(h *Handle, devices []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.Spec.Backend == BackendSim {
		m.simAlloc.release(devices)
	} else {
		m.vllmAlloc.release(devices)
	}
}

// StopAll stops every server (the end of the plan, an error, Ctrl-C), in reverse start order.
func (m *Manager) StopAll() {
	hs := m.Handles()
	for i := len(hs) - 1; i >= 0; i-- {
		hs[i].Stop()
	}
}

// launch brings h's server up and records its Info.
func (m *Manager) launch(ctx context.Context, h *Handle) (Info, error) {
	spec := h.Spec
	info := Info{Name: h.Name(), Backend: spec.Backend, Model: spec.Model, GPUs: spec.GPUs,
		TensorParallel: spec.TensorParallel, DataParallel: spec.DataParallel, Config: specConfig(spec)}
	var err error
	switch {
	case m.Virtual:
		err = m.launchVirtual(h, &info)
	case spec.Backend == BackendExternal:
		err = m.launchExternal(ctx, &info)
	default:
		err = m.launchLocal(ctx, h, &info)
	}
	if err != nil {
		return Info{}, err
	}
	h.mu.Lock()
	h.info, h.running, h.stopped = info, true, false
	h.mu.Unlock()
	ev := m.log.Info().Str("server", info.Name).Str("backend", info.Backend).Str("url", info.URL)
	if info.KVCache != nil {
		ev = ev.Int("kv_tokens", info.KVCache.Tokens).Float64("max_concurrency", info.KVCache.MaxConcurrency)
	}
	ev.Msg("server ready")
	return info, nil
}

func (m *Manager) launchVirtual(h *Handle, info *Info) error {
	if h.Spec.Backend == BackendExternal && h.Spec.Model == "" {
		return paramerr.New("model", "--virtual simulates every server: an external server needs model= to be simulated")
	}
	cfg, err := simConfig(h.Spec)
	if err != nil {
		return err
	}
	kv, err := simKVCache(cfg)
	if err != nil {
		return fmt.Errorf("server %s failed to start (simulated): %v", info.Name, err)
	}
	info.Virtual, info.KVCache, info.URL = true, kv, "virtual://"+info.Name
	return nil
}

func (m *Manager) launchExternal(ctx context.Context, info *Info) error {
	url := strings.TrimRight(info.Config["url"].(string), "/")
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	models, err := listModels(ctx, &http.Client{Timeout: 10 * time.Second}, url)
	if err != nil {
		return fmt.Errorf("cannot attach to %s: %v", url, err)
	}
	if info.Model == "" {
		info.Model = models[0]
	} else if !contains(models, info.Model) {
		return paramerr.New("model", "%s serves %s, not %q", url, strings.Join(models, ", "), info.Model)
	}
	info.URL = url
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// launchLocal starts a vLLM process or an in-process simulator on GPUs of its own.
func (m *Manager) launchLocal(ctx context.Context, h *Handle, info *Info) error {
	spec := h.Spec
	m.mu.Lock()
	alloc := m.vllmAlloc
	if spec.Backend == BackendSim {
		alloc = m.simAlloc
	}
	devices, err := alloc.take(info.Name, spec.GPUs)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			m.release(h, devices)
		}
	}()
	if spec.Backend == BackendVLLM && m.BusyCheck != nil && !spec.AllowBusy {
		if err := m.BusyCheck(devices); err != nil {
			return err
		}
	}
	port := spec.Port
	if port != 0 && !portFree(m.Host, port) {
		return paramerr.New("port", "%s:%d is already in use", m.Host, port)
	}
	logPath := filepath.Join(m.Dir, "servers", info.Name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	info.Devices = devices
	if spec.Backend == BackendSim {
		seed := uint64(1)
		if m.SeedFor != nil {
			seed = m.SeedFor(info.Name)
		}
		srv, err := startSim(ctx, spec, m.Host, port, seed, logPath)
		if err != nil {
			return fmt.Errorf("server %s failed to start: %v", info.Name, err)
		}
		info.URL, info.KVCache = srv.url, ParseKVCache(srv.startupLog)
		h.mu.Lock()
		h.simSrv, h.devices = srv, devices
		h.mu.Unlock()
		ok = true
		return nil
	}
	if port == 0 {
		if port, err = freePort(m.Host); err != nil {
			return err
		}
	}
	argv := VLLMCommand(m.VLLMCmd, spec, m.Host, port)
	env := append(os.Environ(), envList(spec.Env)...)
	env = append(env, "CUDA_VISIBLE_DEVICES="+visibleDevices(devices, os.Getenv("CUDA_VISIBLE_DEVICES")))
	m.log.Info().Str("server", info.Name).Strs("command", argv).Ints("gpus", devices).Str("log", logPath).Msg("starting vLLM")
	proc, err := startProcess(argv, env, logPath, m.Host, port)
	if err != nil {
		return err
	}
	models, err := waitReady(ctx, proc.url(), spec.ReadyTimeout, proc.exitErr)
	if err != nil {
		proc.stop(m.Grace)
		if ctx.Err() != nil {
			return fmt.Errorf("server %s: start interrupted; the process was stopped: %w", info.Name, ctx.Err())
		}
		return fmt.Errorf("server %s failed to start: %v; last log lines (%s):\n%s", info.Name, err, logPath, proc.tail.Tail(25))
	}
	if info.Model == "" || !contains(models, info.Model) {
		info.Model = models[0]
	}
	info.URL, info.Command, info.KVCache = proc.url(), argv, ParseKVCache(proc.tail.Startup())
	h.mu.Lock()
	h.proc, h.devices = proc, devices
	h.mu.Unlock()
	ok = true
	return nil
}

// specConfig is the configuration a plan reads as server.config.
func specConfig(s Spec) map[string]any {
	c := map[string]any{"model": s.Model, "gpus": s.GPUs, "tensor_parallel": s.TensorParallel,
		"data_parallel": s.DataParallel, "backend": s.Backend}
	if s.MaxNumSeqs > 0 {
		c["max_num_seqs"] = s.MaxNumSeqs
	}
	if s.MaxModelLen > 0 {
		c["max_model_len"] = s.MaxModelLen
	}
	if s.GPUMemoryUtilization > 0 {
		c["gpu_memory_utilization"] = s.GPUMemoryUtilization
	}
	if s.Quantization != "" {
		c["quantization"] = s.Quantization
	}
	if len(s.ExtraArgs) > 0 {
		c["extra_args"] = s.ExtraArgs
	}
	if s.URL != "" {
		c["url"] = s.URL
	}
	if s.SimGPU != "" {
		c["sim_gpu"] = s.SimGPU
	}
	return c
}
