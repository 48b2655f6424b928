package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestParseServeArgs(t *testing.T) {
	o, err := ParseServeArgs(strings.Fields("serve meta-llama/Llama-3.1-8B-Instruct --tensor-parallel-size 2 " +
		"--data_parallel_size=2 --max-model-len 8k --gpu-memory-utilization 0.85 --enforce-eager --port 0 " +
		"--sim-gpu A100-80G --sim-startup-delay 1.5 --sim-error-rate 0.1 --sim-crash-after 9 --swap-space 4 --quantization fp8"))
	if err != nil {
		t.Fatal(err)
	}
	c := o.Config
	if c.Model != "meta-llama/Llama-3.1-8B-Instruct" || c.TensorParallel != 2 || c.DataParallel != 2 || c.MaxModelLen != 8000 ||
		c.GPUMemoryUtilization != 0.85 || o.Port != 0 || c.GPU != "A100-80G" || o.StartupDelay != 1500*time.Millisecond ||
		c.Faults.ErrorRate != 0.1 || c.Faults.CrashAfter != 9 || c.Quantization != "fp8" ||
		len(o.Unknown) != 2 || o.Unknown[0] != "--enforce-eager" || o.Unknown[1] != "--swap-space" {
		t.Errorf("%+v", o)
	}
	for _, bad := range []string{"--port", "--max-num-seqs x m", "serve a b"} {
		if _, err := ParseServeArgs(strings.Fields(bad)); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

// TestServeMain starts the CLI entry point, waits for vLLM's start-up lines, makes a request and
// shuts it down through the context.
func TestServeMain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr syncBuf
	code := make(chan int, 1)
	go func() {
		code <- ServeMain(ctx, strings.Fields("serve Llama-3.1-8B --host 127.0.0.1 --port 0 --max-model-len 4096 --foo"), pw, &stderr)
		pw.Close()
	}()
	var log strings.Builder
	var url string
	sc := bufio.NewScanner(pr)
	re := regexp.MustCompile(`Starting vLLM API server 0 on (http://\S+)`)
	for url == "" && sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\(EngineCore_DP0 pid=\d+\) INFO \d\d-\d\d \d\d:\d\d:\d\d \[gpu_worker.py:\d+\] Available KV cache memory: \d+\.\d\d GiB`),
		regexp.MustCompile(`GPU KV cache size: \d{3},\d{3} tokens`),
		regexp.MustCompile(`Maximum concurrency for 4,096 tokens per request: \d+\.\d\dx`),
		regexp.MustCompile(`WARNING .* ignores --foo`),
	} {
		if !want.MatchString(log.String()) {
			t.Errorf("log lacks %s:\n%s", want, log.String())
		}
	}
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"hi","max_tokens":3}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d, stderr %s", c, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeMain did not return after cancel")
	}
}

func TestServeMainFailures(t *testing.T) {
	for _, tc := range []struct {
		args string
		code int
		want string
	}{
		{"serve Llama-3.1-8B --port 0 --sim-fail-at-start oom", 1, "torch.OutOfMemoryError: CUDA out of memory"},
		{"serve Llama-3.1-70B --port 0 --sim-gpu RTX-4090", 1, "Engine core initialization failed"},
		{"serve --port 0", 2, "required: model_tag"},
	} {
		var out, errb syncBuf
		if c := ServeMain(context.Background(), strings.Fields(tc.args), &out, &errb); c != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d %q", tc.args, c, errb.String(), tc.code, tc.want)
		}
	}
	// An injected crash ends ServeMain with exit 1.
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- ServeMain(context.Background(), strings.Fields("serve Llama-3.2-1B --host 127.0.0.1 --port 0 --sim-crash-after 1"), pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	re := regexp.MustCompile(`on (http://\S+)`)
	url := ""
	for url == "" && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	for i := 0; i < 2; i++ {
		if resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"hi","max_tokens":2}`)); err == nil {
			resp.Body.Close()
		}
	}
	select {
	case c := <-code:
		if c != 1 {
			t.Errorf("crash exit %d", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit after crash")
	}
}

func TestGPUStates(t *testing.T) {
	s := mustVirtual(t, Config{Model: "Llama-3.1-70B", GPU: "H100", TensorParallel: 4, DataParallel: 2}, 1)
	p := poisson(s, 5, 20*time.Second, 512, 128, true, 3)
	_ = p
	st := s.GPUStates()
	if len(st) != 8 {
		t.Fatalf("%d GPUs", len(st))
	}
	for _, g := range st {
		if g.MemoryUsedBytes == 0 || g.MemoryUsedBytes > g.MemoryTotalBytes || g.Utilization <= 0 || g.Utilization > 1 ||
			g.PowerWatts < 70 || g.PowerWatts > 700 || g.EnergyMillijoules == 0 || g.SMClockMHz != 1980 {
			t.Errorf("%+v", g)
		}
	}
	// An idle interval reads as idle power and zero utilisation; energy keeps counting.
	s.RunUntil(s.Now() + time.Minute)
	s.GPUStates()
	s.RunUntil(s.Now() + 10*time.Second)
	idle := s.GPUStates()[0]
	if idle.Utilization != 0 || idle.PowerWatts < 69.9 || idle.PowerWatts > 70.1 || idle.EnergyMillijoules <= st[0].EnergyMillijoules {
		t.Errorf("idle %+v", idle)
	}
}

// `starlab sim serve --calibration FILE` serves the twin: the calibrated step time instead of the
// roofline, and the measured engine's limits wherever the command line sets none.
func TestServeCalibration(t *testing.T) {
	cal := Calibration{Name: "l40s-llama8b", Engine: "vllm", Model: "Llama-3.1-8B", GPU: "L40S", Confidence: 0.95,
		Step:   LinearCost{FixedMs: 100, PerPrefillTokenMs: 0.01, PerDecodeSeqMs: 0.5, PerContextTokenMs: 0.0001, RequestOverheadMs: 2},
		Limits: Limits{MaxNumSeqs: 6, MaxNumBatchedTokens: 512, KVTokens: 8192, MaxModelLen: 2048, TensorParallel: 1}}
	data, _ := json.Marshal(cal)
	path := filepath.Join(t.TempDir(), "cal.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := ParseServeArgs(strings.Fields("serve Llama-3.1-8B --max-num-seqs 8 --calibration " + path))
	if err != nil {
		t.Fatal(err)
	}
	if o.Config.Calibration == nil || o.Config.Calibration.Name != "l40s-llama8b" {
		t.Fatalf("calibration not loaded: %+v", o.Config.Calibration)
	}
	r, err := Resolve(o.Config)
	if err != nil {
		t.Fatal(err)
	}
	if l := r.Cost.Linear; l == nil || l.FixedMs != 100 || l.PerDecodeSeqMs != 0.5 || l.CalibratedTP != 1 {
		t.Fatalf("step time: %+v", r.Cost.Linear)
	}
	// --max-num-seqs wins; the rest are the calibration's, on its GPU.
	if r.MaxNumSeqs != 8 || r.MaxNumBatchedTokens != 512 || r.MaxModelLen != 2048 || r.KVTokens != 8192 || r.GPUInfo.Name != "L40S" {
		t.Errorf("limits: seqs %d, batch %d, len %d, kv %d, gpu %s", r.MaxNumSeqs, r.MaxNumBatchedTokens, r.MaxModelLen, r.KVTokens, r.GPUInfo.Name)
	}
	// Four decodes over 400 tokens of context: 100 + 4 × 0.5 + 400 × 0.0001 ms.
	if d, _ := r.stepTime(batchShape{seqs: 4, tokens: 4, decodes: 4, decodeCtx: 400, ctxTokens: 400}); (d - 102040*time.Microsecond).Abs() > time.Microsecond {
		t.Errorf("decode step %v, want 102.04ms", d)
	}
	for _, bad := range []string{"--calibration", "--calibration " + path + ".missing"} {
		if _, err := ParseServeArgs(strings.Fields("serve Llama-3.1-8B " + bad)); err == nil || !strings.Contains(err.Error(), "argument --calibration") {
			t.Errorf("%q: %v", bad, err)
		}
	}

	// Served: the start-up lines are the twin's and a request of 4 tokens takes 4 steps of at
	// least 100 ms (the roofline's step for this model on an L40S is ~20 ms).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- ServeMain(ctx, strings.Fields("serve --host 127.0.0.1 --port 0 --calibration "+path+" Llama-3.1-8B"), pw, io.Discard)
		pw.Close()
	}()
	var log strings.Builder
	url := ""
	sc := bufio.NewScanner(pr)
	re := regexp.MustCompile(`on (http://\S+)`)
	for url == "" && sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	if !strings.Contains(log.String(), "GPU KV cache size: 8,192 tokens") || !strings.Contains(log.String(), "Maximum concurrency for 2,048 tokens per request") {
		t.Errorf("start-up lines are not the twin's:\n%s", log.String())
	}
	start := time.Now()
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"model":"Llama-3.1-8B","prompt":"hi","max_tokens":4,"ignore_eos":true}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("4 tokens took %v: the served twin does not use the calibrated 100 ms step", took)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeMain did not return after cancel")
	}
}
