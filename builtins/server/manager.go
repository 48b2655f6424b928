package server

import (
	"context"
	"errors"
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
	// EngineCmds overrides engines' commands by engine name (--engine-cmd NAME=CMD); an engine
	// not in it comes from its environment variable (STARLAB_VLLM, ...) or its default.
	EngineCmds map[string]string
	// OnChange, when set, gets every server's Info after one starts or is adopted (the manifest).
	OnChange func([]Info)
	// Virtual makes every server the simulator in virtual time.
	Virtual bool
	// DryRun (with Virtual) has every start say what it would launch (describeLaunch) through
	// Say, while the simulator stands in for the server.
	DryRun  bool
	Say     func(text string)
	dryGPUs int // GPUs a dry run has handed out
	// SeedFor seeds the in-process simulator of the named server (nil: seed 1).
	SeedFor func(name string) uint64
	// Grace is how long a server has to exit after SIGTERM before SIGKILL.
	Grace time.Duration
	// Host is the address local servers listen on.
	Host string
	// BusyCheck, when set, fails a GPU engine's start on GPUs that other processes already use (NVML).
	BusyCheck func(devices []int) error
	// SlurmBind is the address a Slurm job's engine listens on and is reached at; "" listens on
	// 0.0.0.0 and reaches the node by its host name (tests bind 127.0.0.1).
	SlurmBind string

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
	m.changed()
	return h
}

// changed tells OnChange about every server of the run.
func (m *Manager) changed() {
	if m.OnChange == nil {
		return
	}
	hs := m.Handles()
	infos := make([]Info, len(hs))
	for i, h := range hs {
		infos[i] = h.Info()
	}
	m.OnChange(infos)
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
	m.cancelLeftJobs()
}

// launch brings h's server up and records its Info.
func (m *Manager) launch(ctx context.Context, h *Handle) (Info, error) {
	spec := h.Spec
	info := Info{Name: h.Name(), Backend: spec.Backend, Model: spec.Model, GPUs: spec.GPUs,
		TensorParallel: spec.TensorParallel, DataParallel: spec.DataParallel, Config: specConfig(spec)}
	var err error
	switch {
	case m.Virtual || spec.Twin():
		if m.DryRun && m.Say != nil {
			text, derr := m.describeLaunch(h, info.Name)
			if derr != nil {
				return Info{}, derr
			}
			m.Say(text)
		}
		err = m.launchVirtual(h, &info)
	case spec.Backend == BackendExternal:
		err = m.launchExternal(ctx, &info)
	case spec.Backend == BackendSim:
		err = m.launchSim(ctx, h, &info)
	case spec.Launcher != nil:
		err = m.launchSlurm(ctx, h, &info)
	default:
		err = m.launchProcess(ctx, h, &info)
	}
	if err != nil {
		return Info{}, err
	}
	h.mu.Lock()
	h.info, h.running, h.stopped = info, true, false
	h.mu.Unlock()
	ev := m.log.Info().Str("server", info.Name).Str("engine", info.Backend).Str("version", info.EngineVersion).
		Str("model", info.Model).Str("url", info.URL)
	if kv := info.KVCache; kv != nil {
		ev = ev.Int("kv_tokens", kv.Tokens).Float64("max_concurrency", kv.MaxConcurrency)
		if kv.Slots > 0 {
			ev = ev.Int("slots", kv.Slots).Int("slot_context", kv.SlotContext)
		}
	}
	ev.Msg("server ready")
	m.changed()
	return info, nil
}

// launchVirtual makes h the simulator in virtual time: every server of a --virtual run, and a
// calibrated twin in any run. A calibration makes the simulator that server's twin.
func (m *Manager) launchVirtual(h *Handle, info *Info) error {
	spec := h.Spec
	if spec.Backend == BackendExternal && spec.Model == "" {
		return paramerr.New("model", "--virtual simulates every server: an external server needs model= to be simulated")
	}
	if slotEngine(spec.Backend) && spec.Calibration == nil {
		return paramerr.New("calibration", "--virtual simulates every server, and the simulator has no step time for %s: "+
			"give calibration= (calibrate() on a real run of this server) to run its twin instead", spec.Backend)
	}
	if strings.HasSuffix(strings.ToLower(spec.Model), ".gguf") {
		if err := checkModelFile(spec.Model); err != nil {
			return err
		}
	}
	cfg, err := simConfig(spec)
	if err != nil {
		return err
	}
	slots := slotEngine(spec.Backend) || (spec.Calibration != nil && slotEngine(spec.Calibration.Cal.Engine))
	kv, weights, err := simResolve(cfg, slots)
	if err != nil {
		return fmt.Errorf("server %s failed to start (simulated): %v", info.Name, err)
	}
	h.mu.Lock()
	h.realStart = realStartTime(spec.Backend, weights)
	h.mu.Unlock()
	info.Virtual, info.KVCache, info.URL, info.EngineVersion = true, kv, "virtual://"+info.Name, SimVersion
	if spec.Calibration != nil {
		info.Calibration = spec.Calibration.Name
	}
	return nil
}

func (m *Manager) launchExternal(ctx context.Context, info *Info) error {
	url := strings.TrimRight(info.Config["url"].(string), "/")
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second}
	models, err := listModels(ctx, hc, url)
	if err != nil {
		return fmt.Errorf("cannot attach to %s: %v", url, err)
	}
	if info.Model == "" {
		info.Model = models[0]
	} else if served, ok := matchModel(models, info.Model); ok {
		info.Model = served
	} else {
		return paramerr.New("model", "%s serves %s, not %q", url, strings.Join(models, ", "), info.Model)
	}
	info.URL, info.EngineVersion = url, externalEngine{}.Version(ctx, hc, url, "")
	return nil
}

// takeGPUs allocates the spec's GPUs (none for a CPU engine) and checks, for a real machine, that
// no other process uses them.
func (m *Manager) takeGPUs(h *Handle, info *Info) ([]int, error) {
	spec := h.Spec
	m.mu.Lock()
	alloc := m.vllmAlloc
	if spec.Backend == BackendSim {
		alloc = m.simAlloc
	}
	devices, err := alloc.take(info.Name, spec.GPUs)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if spec.Backend != BackendSim && len(devices) > 0 && m.BusyCheck != nil && !spec.AllowBusy {
		if err := m.BusyCheck(devices); err != nil {
			m.release(h, devices)
			return nil, err
		}
	}
	return devices, nil
}

// logPath makes servers/ and names the server's log in it.
func (m *Manager) logPath(name string) (string, error) {
	p := filepath.Join(m.Dir, "servers", name+".log")
	return p, os.MkdirAll(filepath.Dir(p), 0o755)
}

// launchSim serves the simulator in-process on GPUs of the simulated node.
func (m *Manager) launchSim(ctx context.Context, h *Handle, info *Info) error {
	spec := h.Spec
	if spec.Port != 0 && !portFree(m.Host, spec.Port) {
		return paramerr.New("port", "%s:%d is already in use", m.Host, spec.Port)
	}
	devices, err := m.takeGPUs(h, info)
	if err != nil {
		return err
	}
	logPath, err := m.logPath(info.Name)
	if err != nil {
		m.release(h, devices)
		return err
	}
	seed := uint64(1)
	if m.SeedFor != nil {
		seed = m.SeedFor(info.Name)
	}
	srv, err := startSim(ctx, spec, m.Host, spec.Port, seed, logPath)
	if err != nil {
		m.release(h, devices)
		return fmt.Errorf("server %s failed to start: %v", info.Name, err)
	}
	info.Devices, info.URL, info.KVCache, info.EngineVersion = devices, srv.url, ParseKVCache(srv.startupLog), SimVersion
	h.mu.Lock()
	h.simSrv, h.devices = srv, devices
	h.mu.Unlock()
	return nil
}

// launchProcess starts an engine's process group on GPUs of its own (or the CPU), waits until it
// is ready, runs its post-start step, and reads its model name, version and capacity.
func (m *Manager) launchProcess(ctx context.Context, h *Handle, info *Info) error {
	spec := h.Spec
	e := engines[spec.Backend].(ProcessEngine)
	if strings.HasSuffix(strings.ToLower(spec.Model), ".gguf") {
		if err := checkModelFile(spec.Model); err != nil {
			return err
		}
	}
	port := spec.Port
	if port != 0 && !portFree(m.Host, port) {
		return paramerr.New("port", "%s:%d is already in use", m.Host, port)
	}
	devices, err := m.takeGPUs(h, info)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			m.release(h, devices)
		}
	}()
	logPath, err := m.logPath(info.Name)
	if err != nil {
		return err
	}
	if port == 0 {
		if port, err = freePort(m.Host); err != nil {
			return err
		}
	}
	prefix := resolveCommand(e, m.EngineCmds)
	dir := filepath.Join(m.Dir, "servers", info.Name+"."+strings.ReplaceAll(e.Name(), ".", ""))
	cmd := e.Command(prefix, spec, m.Host, port, dir)
	for _, d := range cmd.Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	env := append(append(os.Environ(), cmd.Env...), envList(spec.Env)...)
	env = append(env, "CUDA_VISIBLE_DEVICES="+visibleDevices(devices, os.Getenv("CUDA_VISIBLE_DEVICES")))
	m.log.Info().Str("server", info.Name).Str("engine", e.Name()).Strs("command", cmd.Argv).Strs("env", cmd.Env).
		Ints("gpus", devices).Str("log", logPath).Msg("starting the server")
	proc, err := startProcess(cmd.Argv, env, logPath, m.Host, port, e.Executable().Install)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		proc.stop(m.Grace)
		if ctx.Err() != nil {
			return fmt.Errorf("server %s: start interrupted; the process was stopped: %w", info.Name, ctx.Err())
		}
		tail := proc.tail.Tail(25)
		msg := fmt.Sprintf("server %s failed to start: %v; last log lines (%s):\n%s", info.Name, err, logPath, tail)
		if strings.Contains(tail, "No module named") {
			msg += "\n(" + e.Executable().Install + ")"
		}
		return errors.New(msg)
	}
	deadline := time.Now().Add(spec.ReadyTimeout)
	hc := &http.Client{Timeout: 5 * time.Second}
	if err := waitReady(ctx, func(ctx context.Context) error { return e.Ready(ctx, hc, proc.url()) }, deadline, spec.ReadyTimeout, proc.exitErr); err != nil {
		return fail(err)
	}
	pctx, cancel := context.WithDeadline(ctx, deadline)
	err = e.PostStart(pctx, &Started{Spec: spec, URL: proc.url(), Command: cmd, Prefix: prefix, Env: env, Dir: dir, Log: proc.out, Client: hc})
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("the server was not ready after %v (ready_timeout): %v", spec.ReadyTimeout, err)
		}
		if dead := proc.exitErr(); dead != nil && ctx.Err() == nil {
			err = fmt.Errorf("%v (the server exited: %v)", err, dead)
		}
		return fail(err)
	}
	models, err := listModels(ctx, hc, proc.url())
	if err != nil {
		return fail(err)
	}
	info.Model = models[0]
	if want := e.ServedName(spec); want != "" {
		if served, ok := matchModel(models, want); ok {
			info.Model = served
		}
	}
	info.Devices, info.URL, info.Command = devices, proc.url(), cmd.Argv
	info.EngineVersion = e.Version(ctx, hc, proc.url(), proc.tail.Peek())
	info.KVCache = capacity(ctx, e, proc.tail)
	h.mu.Lock()
	h.proc, h.devices = proc, devices
	h.mu.Unlock()
	ok = true
	return nil
}

// capacity parses the start-up output once the capacity lines are in: they were printed before
// the server answered, but may still be on their way through the output pipe.
func capacity(ctx context.Context, e Engine, tail *tailBuffer) *KVCache {
	for i := 0; i < 10; i++ {
		if kv := e.Capacity(tail.Peek()); kv != nil {
			break
		}
		if sleepCtx(ctx, 50*time.Millisecond) != nil {
			break
		}
	}
	return e.Capacity(tail.Startup())
}

// specConfig is the configuration a plan reads as server.config.
func specConfig(s Spec) map[string]any {
	c := map[string]any{"model": s.Model, "gpus": s.GPUs, "tensor_parallel": s.TensorParallel,
		"data_parallel": s.DataParallel, "backend": s.Backend}
	if s.MaxNumSeqs > 0 {
		c["max_num_seqs"] = s.MaxNumSeqs
		if s.Backend == EngineLlamaCpp || s.Backend == EngineOllama {
			c["parallel"] = s.MaxNumSeqs
		}
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
	if s.Calibration != nil {
		c["calibration"] = s.Calibration.Name
	}
	if s.Launcher != nil {
		c["launcher"] = s.LauncherName()
	}
	if s.EnablePrefixCaching != nil {
		c["enable_prefix_caching"] = *s.EnablePrefixCaching
	}
	return c
}
