package sim

import (
	"bufio"
	"context"
	"io"
	"net/http"
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
