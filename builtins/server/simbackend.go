package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"starlab/builtins/sim"
	"starlab/runtime/paramerr"
)

// simArgs is the `vllm serve` command line for spec without the executable: the simulator parses
// exactly what a real vLLM would get, plus the GPU model it simulates and the calibration that
// makes it a twin.
func simArgs(spec Spec, host string, port int) []string {
	args := VLLMCommand("vllm", spec, host, port)[1:]
	if spec.SimGPU != "" {
		args = append(args, "--sim-gpu", spec.SimGPU)
	}
	return append(args, calibrationArgs(spec)...)
}

// simConfig is the simulator configuration for spec. A calibration file that changed since the
// server started is an error: the server's identity is the calibration it started with.
func simConfig(spec Spec) (sim.Config, error) {
	o, err := sim.ParseServeArgs(simArgs(spec, "127.0.0.1", 0))
	if err != nil {
		if spec.Calibration != nil && strings.Contains(err.Error(), "--calibration") {
			return sim.Config{}, paramerr.New("calibration", "%v", err)
		}
		return sim.Config{}, paramerr.New("extra_args", "%v", err)
	}
	if ref := spec.Calibration; ref != nil && calibrationHash(o.Config.Calibration) != ref.SHA256 {
		return sim.Config{}, paramerr.New("calibration", "%s changed since the server started with it: start the twin again", ref.Path)
	}
	return o.Config, nil
}

// simKVCache is what the simulator's start-up log would report for cfg. A twin of llama.cpp or
// ollama (slots) also states its slots and each slot's context, as those engines do.
func simKVCache(cfg sim.Config, slots bool) (*KVCache, error) {
	kv, _, err := simResolve(cfg, slots)
	return kv, err
}

// simResolve is simKVCache with the resolved model's weight bytes (all ranks).
func simResolve(cfg sim.Config, slots bool) (*KVCache, float64, error) {
	r, err := sim.Resolve(cfg)
	if err != nil {
		return nil, 0, err
	}
	kv := &KVCache{MemoryGiB: r.KVCacheGiB(), Tokens: r.KVTokens, MaxConcurrency: r.MaxConcurrency, TokensPerRequest: r.MaxModelLen}
	if slots {
		kv.Slots, kv.SlotContext, kv.MaxConcurrency = r.MaxNumSeqs, r.MaxModelLen, 0
		kv.perRequest()
	}
	return kv, r.WeightBytes, nil
}

// simServer is the simulator serving HTTP in this process: same API, logs and /metrics as a
// `starlab sim serve` process, with its GPUs readable for telemetry.
type simServer struct {
	wall       *sim.WallServer
	url        string
	startupLog string
	tail       *tailBuffer
	log        *os.File
	cancel     context.CancelFunc
	done       chan struct{}
	mu         sync.Mutex
	code       int
}

// startSim serves spec in-process on host:port (0 = any free port) and waits until it listens.
func startSim(ctx context.Context, spec Spec, host string, port int, seed uint64, logPath string) (*simServer, error) {
	args := simArgs(spec, host, port)
	o, err := sim.ParseServeArgs(args)
	if err != nil {
		return nil, paramerr.New("extra_args", "%v", err)
	}
	o.Seed = seed
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "# starlab: simulator in-process: vllm serve %q\n", args)
	s := &simServer{tail: newTailBuffer(200), log: logFile, done: make(chan struct{})}
	out := io.MultiWriter(logFile, s.tail)
	srvCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan struct{})
	go func() {
		code := sim.Serve(srvCtx, o, args, out, out, func(w *sim.WallServer, p int) {
			s.wall, s.url = w, "http://"+net.JoinHostPort(host, strconv.Itoa(p))
			close(ready)
		})
		s.mu.Lock()
		s.code = code
		s.mu.Unlock()
		close(s.done)
	}()
	select {
	case <-ready:
		s.startupLog = s.tail.Startup()
		return s, nil
	case <-s.done:
		logFile.Close()
		return nil, fmt.Errorf("the simulator exited with status %d before it was ready; last log lines:\n%s", s.exitCode(), s.tail.Tail(15))
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

func (s *simServer) exitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code
}

// exitErr is nil while the simulator serves.
func (s *simServer) exitErr() error {
	select {
	case <-s.done:
		return fmt.Errorf("exit status %d", s.exitCode())
	default:
		return nil
	}
}

func (s *simServer) stop() {
	s.cancel()
	<-s.done
	s.log.Close()
}

// simEngine is the simulator: vLLM's command line, logs, API and metrics, served in-process.
type simEngine struct{}

// SimVersion is what a simulated server reports as its engine version.
var SimVersion = "vLLM " + sim.VLLMVersion + " (starlab simulator)"

func (simEngine) Name() string        { return EngineSim }
func (simEngine) Check(s *Spec) error { return checkGPUEngine(s) }
func (simEngine) Ready(ctx context.Context, hc *http.Client, url string) error {
	return readyModels(ctx, hc, url)
}
func (simEngine) Version(context.Context, *http.Client, string, string) string { return SimVersion }
func (simEngine) Capacity(log string) *KVCache                                 { return ParseKVCache(log) }
func (simEngine) Metrics() MetricNames                                         { return vllmMetrics }
