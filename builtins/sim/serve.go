package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// ServeOptions is a parsed `vllm serve` command line plus the simulator's own --sim-* flags.
type ServeOptions struct {
	Config       Config
	Host         string
	Port         int
	Seed         uint64
	StartupDelay time.Duration
	// Unknown lists flags accepted but ignored (vLLM has hundreds).
	Unknown []string
}

// boolFlags are vLLM switches that take no value, so the parser does not swallow the next word.
var boolFlags = map[string]bool{
	"enforce-eager": true, "trust-remote-code": true, "enable-prefix-caching": true, "no-enable-prefix-caching": true,
	"enable-chunked-prefill": true, "no-enable-chunked-prefill": true, "disable-log-requests": true,
	"disable-log-stats": true, "enable-auto-tool-choice": true, "disable-frontend-multiprocessing": true,
	"enable-log-requests": true, "disable-custom-all-reduce": true, "enable-expert-parallel": true,
	"headless": true, "async-scheduling": true,
}

// ParseServeArgs parses `[serve] MODEL [flags]` (or --model MODEL) as `vllm serve` does. Flags
// may use dashes or underscores and `--flag value` or `--flag=value`.
func ParseServeArgs(args []string) (ServeOptions, error) {
	o := ServeOptions{Host: "0.0.0.0", Port: 8000}
	c := &o.Config
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			if c.Model != "" {
				return o, fmt.Errorf("unrecognized arguments: %s", a)
			}
			c.Model = a
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		name = strings.ReplaceAll(name, "_", "-")
		if !hasVal && !boolFlags[name] && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			i++
			val, hasVal = args[i], true
		}
		need := func() error {
			if !hasVal {
				return fmt.Errorf("argument --%s: expected one argument", name)
			}
			return nil
		}
		var err error
		num := func(dst *int) {
			if err = need(); err == nil {
				*dst, err = strconv.Atoi(val)
			}
		}
		flt := func(dst *float64) {
			if err = need(); err == nil {
				*dst, err = strconv.ParseFloat(val, 64)
			}
		}
		str := func(dst *string) { err = need(); *dst = val }
		dur := func(dst *time.Duration) {
			if err = need(); err == nil {
				if *dst, err = time.ParseDuration(val); err != nil {
					var s float64
					if s, err = strconv.ParseFloat(val, 64); err == nil {
						*dst = time.Duration(s * float64(time.Second))
					}
				}
			}
		}
		switch name {
		case "model":
			str(&c.Model)
		case "tensor-parallel-size", "tp":
			num(&c.TensorParallel)
		case "data-parallel-size", "dp":
			num(&c.DataParallel)
		case "max-num-seqs":
			num(&c.MaxNumSeqs)
		case "max-model-len":
			if err = need(); err == nil {
				c.MaxModelLen, err = parseLen(val)
			}
		case "gpu-memory-utilization":
			flt(&c.GPUMemoryUtilization)
		case "max-num-batched-tokens":
			num(&c.MaxNumBatchedTokens)
		case "num-gpu-blocks-override":
			num(&c.NumGPUBlocksOverride)
		case "kv-cache-dtype":
			str(&c.KVCacheDType)
		case "port":
			num(&o.Port)
		case "host":
			str(&o.Host)
		case "quantization", "q":
			str(&c.Quantization)
		case "served-model-name":
			str(&c.ServedModelName)
		case "seed", "sim-seed":
			if err = need(); err == nil {
				o.Seed, err = strconv.ParseUint(val, 10, 64)
			}
		case "enable-prefix-caching", "no-enable-prefix-caching":
			// vLLM's BooleanOptionalAction switch: on by default in V1, the last one given wins.
			if hasVal {
				return o, fmt.Errorf("argument --%s: ignored explicit argument %q", name, val)
			}
			c.NoPrefixCaching = name == "no-enable-prefix-caching"
		case "sim-gpu":
			str(&c.GPU)
		case "calibration", "sim-calibration":
			if err = need(); err == nil {
				c.Calibration, err = LoadCalibration(val)
			}
		case "sim-startup-delay":
			dur(&o.StartupDelay)
		case "sim-balancer":
			str(&c.Balancer)
		case "sim-mean-output-tokens":
			flt(&c.MeanOutputTokens)
		case "sim-error-rate":
			flt(&c.Faults.ErrorRate)
		case "sim-stall-rate":
			flt(&c.Faults.StallRate)
		case "sim-stall-after-tokens":
			num(&c.Faults.StallAfterTokens)
		case "sim-stall-for":
			dur(&c.Faults.StallFor)
		case "sim-crash-after":
			num(&c.Faults.CrashAfter)
		case "sim-fail-at-start":
			str(&c.Faults.FailAtStart)
		default:
			o.Unknown = append(o.Unknown, "--"+name)
		}
		if err != nil {
			return o, fmt.Errorf("argument --%s: invalid value %q: %v", name, val, err)
		}
	}
	if c.Model == "" {
		return o, errors.New("the following arguments are required: model_tag")
	}
	return o, nil
}

// parseLen accepts vLLM's human-readable lengths: 4096, 8k, 32K, 1m.
func parseLen(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1000, s[:len(s)-1]
		if strings.HasSuffix(s, "K") {
			mult = 1024
		}
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1_000_000, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	return n * mult, err
}

// logger writes lines in vLLM's format: "(Proc pid=N) LEVEL MM-DD hh:mm:ss [file.py:line] msg".
type logger struct {
	out, errOut io.Writer
	pid         int
}

func (l logger) log(w io.Writer, proc, level, src, format string, a ...any) {
	fmt.Fprintf(w, "(%s pid=%d) %s %s [%s] %s\n", proc, l.pid, level, time.Now().Format("01-02 15:04:05"), src, fmt.Sprintf(format, a...))
}

// commas formats n with thousands separators, as vLLM's f"{n:,}".
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ServeMain is `starlab sim serve`: it parses vllm-serve-style args, prints vLLM's start-up
// lines, serves the OpenAI API on HOST:PORT until ctx ends, and returns the exit code (0 after a
// clean shutdown, 1 when start-up fails or an injected crash kills the engine, 2 for bad flags).
func ServeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := ParseServeArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "usage: vllm serve [model_tag] [options]\nvllm serve: error: %v\n", err)
		return 2
	}
	return Serve(ctx, o, args, stdout, stderr, nil)
}

// Serve runs a parsed `vllm serve` until ctx ends, as ServeMain does; ready, when not nil, is
// called once the API listens, with the engine and the port, so an in-process caller can sample
// the engine's GPUs. args is only echoed in the "non-default args" log line.
func Serve(ctx context.Context, o ServeOptions, args []string, stdout, stderr io.Writer, ready func(srv *WallServer, port int)) int {
	l := logger{out: stdout, errOut: stderr, pid: os.Getpid()}
	l.log(stdout, "APIServer", "INFO", "api_server.py:1839", "vLLM API server version %s (starlab simulator)", VLLMVersion)
	l.log(stdout, "APIServer", "INFO", "utils.py:233", "non-default args: %s", strings.Join(args, " "))
	for _, u := range o.Unknown {
		l.log(stdout, "APIServer", "WARNING", "arg_utils.py:1150", "starlab sim ignores %s", u)
	}
	fail := func(proc string, err error) int {
		l.log(stderr, proc, "ERROR", "core.py:708", "EngineCore failed to start.")
		fmt.Fprintf(stderr, "%v\n", err)
		fmt.Fprintln(stderr, "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}")
		return 1
	}
	cfg, err := Resolve(o.Config)
	if err != nil {
		return fail("EngineCore_DP0", err)
	}
	if o.StartupDelay > 0 {
		select {
		case <-time.After(o.StartupDelay):
		case <-ctx.Done():
			return 0
		}
	}
	if err := cfg.startError(); err != nil {
		return fail("EngineCore_DP0", err)
	}
	for dp := 0; dp < cfg.DataParallel; dp++ {
		p := fmt.Sprintf("EngineCore_DP%d", dp)
		l.log(stdout, p, "INFO", "gpu_model_runner.py:2653", "Model loading took %.4f GiB and %.6f seconds", cfg.Memory.WeightBytes/(1<<30), o.StartupDelay.Seconds())
		l.log(stdout, p, "INFO", "gpu_worker.py:298", "Available KV cache memory: %.2f GiB", cfg.KVCacheGiB())
		l.log(stdout, p, "INFO", "kv_cache_utils.py:1087", "GPU KV cache size: %s tokens", commas(cfg.KVTokens))
		l.log(stdout, p, "INFO", "kv_cache_utils.py:1091", "Maximum concurrency for %s tokens per request: %.2fx", commas(cfg.MaxModelLen), cfg.MaxConcurrency)
	}
	srv, err := NewWall(o.Config, o.Seed)
	if err != nil {
		return fail("EngineCore_DP0", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		l.log(stderr, "APIServer", "ERROR", "api_server.py:1850", "%v", err)
		return 1
	}
	port := ln.Addr().(*net.TCPAddr).Port
	l.log(stdout, "APIServer", "INFO", "api_server.py:1880", "Starting vLLM API server 0 on http://%s:%d", o.Host, port)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "(APIServer pid=%d) INFO:     Started server process [%d]\n", l.pid, l.pid)
	fmt.Fprintf(stdout, "(APIServer pid=%d) INFO:     Waiting for application startup.\n", l.pid)
	fmt.Fprintf(stdout, "(APIServer pid=%d) INFO:     Application startup complete.\n", l.pid)
	if ready != nil {
		ready(srv, port)
	}
	code := 0
	select {
	case <-ctx.Done():
		fmt.Fprintf(stdout, "(APIServer pid=%d) INFO:     Shutting down\n", l.pid)
	case <-srv.Crashed():
		l.log(stderr, "EngineCore_DP0", "ERROR", "core.py:1026", "EngineCore encountered a fatal error.")
		fmt.Fprintln(stderr, "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.")
		code = 1
	case err := <-errc:
		l.log(stderr, "APIServer", "ERROR", "api_server.py:1850", "%v", err)
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Close() // end open streams so Shutdown does not wait for them
	hs.Shutdown(sctx)
	return code
}
