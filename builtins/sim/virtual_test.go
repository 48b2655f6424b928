package sim

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"starlab/builtins/virtual"
)

func mustVirtual(t testing.TB, c Config, seed uint64) *VirtualServer {
	t.Helper()
	s, err := NewVirtual(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLlama8BOnH100 pins the single-stream figures real H100s show for Llama-3.1-8B bf16.
func TestLlama8BOnH100(t *testing.T) {
	s := mustVirtual(t, Config{Model: "meta-llama/Llama-3.1-8B-Instruct", GPU: "H100"}, 1)
	var times []time.Duration
	var usage virtual.Usage
	s.Submit(0, virtual.Request{PromptTokens: 512, MaxTokens: 128, IgnoreEOS: true}, virtual.Events{
		Chunk: func(at time.Duration, n int) { times = append(times, at) },
		Done:  func(at time.Duration, u virtual.Usage, err error) { usage = u },
	})
	s.RunUntil(10 * time.Second)
	if len(times) != 128 || usage.CompletionTokens != 128 || usage.PromptTokens != 512 {
		t.Fatalf("chunks %d, usage %+v", len(times), usage)
	}
	ttft := times[0]
	itl := (times[127] - times[0]) / 127
	if ttft < 10*time.Millisecond || ttft > 60*time.Millisecond {
		t.Errorf("TTFT %v, want tens of ms", ttft)
	}
	if itl < 5*time.Millisecond || itl > 8*time.Millisecond {
		t.Errorf("ITL %v, want 5-8 ms", itl)
	}
	if st := s.Stats(); st.GenerationTokens != 128 || st.PromptTokens != 512 || st.Running != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSaturationShape reproduces seed 003's shape: throughput follows the rate, then plateaus
// while TTFT explodes; four data-parallel replicas plateau at about four times one GPU.
func TestSaturationShape(t *testing.T) {
	plateau := func(dp int, rates []float64) (pts []point) {
		for _, r := range rates {
			s := mustVirtual(t, Config{Model: "Llama-3.1-8B", DataParallel: dp}, 1)
			pts = append(pts, poisson(s, r, 30*time.Second, 512, 128, true, 7))
		}
		return pts
	}
	one := plateau(1, []float64{5, 20, 120, 240})
	if one[1].throughput < 3*one[0].throughput {
		t.Errorf("below the knee throughput should follow the rate: %.1f at 5, %.1f at 20", one[0].throughput, one[1].throughput)
	}
	sat1 := one[3].throughput
	if d := sat1/one[2].throughput - 1; d > 0.1 || d < -0.1 {
		t.Errorf("no plateau: %.1f at 120, %.1f at 240", one[2].throughput, sat1)
	}
	if one[2].meanTTFT < 20*one[0].meanTTFT {
		t.Errorf("TTFT should explode past the knee: %.0f ms vs %.0f ms", one[2].meanTTFT, one[0].meanTTFT)
	}
	four := plateau(4, []float64{4 * 240})
	if r := four[0].throughput / sat1; r < 3.3 || r > 4.4 {
		t.Errorf("DP=4 saturates at %.1f req/s = %.2f× one GPU (%.1f)", four[0].throughput, r, sat1)
	}
}

func TestDeterminism(t *testing.T) {
	run := func(seed uint64) string {
		s := mustVirtual(t, Config{Model: "Qwen2.5-7B", GPU: "A100-80G", DataParallel: 2,
			Faults: Faults{ErrorRate: 0.05, StallRate: 0.05, StallAfterTokens: 3}}, seed)
		p := poisson(s, 30, 20*time.Second, 300, 200, false, 11)
		s.RunUntil(2 * time.Minute)
		var m bytes.Buffer
		s.WriteMetrics(&m)
		return timeline(p.records) + m.String()
	}
	a, b, c := run(1), run(1), run(2)
	if a != b {
		t.Error("same seed gave different timelines")
	}
	if a == c {
		t.Error("different seeds gave identical timelines")
	}
	for _, want := range []string{ErrInjected.Error(), ErrStalled.Error()} {
		if !strings.Contains(a, want) {
			t.Errorf("faults missing from timeline: %q", want)
		}
	}
}

func TestOutputLengths(t *testing.T) {
	s := mustVirtual(t, Config{Model: "Llama-3.1-8B"}, 3)
	var got []int
	for i, r := range []virtual.Request{
		{PromptTokens: 10, MaxTokens: 50, IgnoreEOS: true},
		{PromptTokens: 10, MaxTokens: 2000, MinTokens: 1500},
		{PromptTokens: 10, MaxTokens: 1},
	} {
		i := i
		got = append(got, 0)
		s.Submit(0, r, virtual.Events{Done: func(_ time.Duration, u virtual.Usage, _ error) { got[i] = u.CompletionTokens }})
	}
	s.RunUntil(time.Minute)
	if got[0] != 50 || got[1] < 1500 || got[1] > 2000 || got[2] != 1 {
		t.Errorf("completion tokens %v", got)
	}
}

func TestRejections(t *testing.T) {
	s := mustVirtual(t, Config{Model: "Llama-3.1-8B", MaxModelLen: 4096}, 1)
	for _, tc := range []struct {
		req  virtual.Request
		want string
	}{
		{virtual.Request{PromptTokens: 4000, MaxTokens: 200}, "maximum context length is 4096 tokens"},
		{virtual.Request{PromptTokens: 0, MaxTokens: 10}, "prompt cannot be empty"},
		{virtual.Request{PromptTokens: 10, MaxTokens: 10, MinTokens: 20}, "min_tokens"},
	} {
		var err error
		s.Submit(s.Now(), tc.req, virtual.Events{Done: func(_ time.Duration, _ virtual.Usage, e error) { err = e }})
		s.RunUntil(s.Now() + time.Second)
		var re *RequestError
		if !errors.As(err, &re) || re.Status != 400 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want 400 %q", tc.req, err, tc.want)
		}
	}
}

// TestPreemption fills a tiny cache so running requests outgrow it and the newest is recomputed.
func TestPreemption(t *testing.T) {
	s := mustVirtual(t, Config{Model: "Llama-3.1-8B", NumGPUBlocksOverride: 64}, 1)
	done := 0
	for i := 0; i < 8; i++ {
		s.Submit(0, virtual.Request{PromptTokens: 200, MaxTokens: 300, IgnoreEOS: true}, virtual.Events{
			Done: func(_ time.Duration, u virtual.Usage, err error) {
				if err == nil && u.CompletionTokens == 300 {
					done++
				}
			}})
	}
	s.RunUntil(5 * time.Second)
	if st := s.Stats(); st.KVCacheUsage < 0.5 {
		t.Errorf("cache should be busy mid-run: %+v", st)
	}
	s.RunUntil(5 * time.Minute)
	var m bytes.Buffer
	s.WriteMetrics(&m)
	if done != 8 {
		t.Errorf("%d of 8 finished", done)
	}
	st := s.Stats()
	if st.Preemptions == 0 || !strings.Contains(m.String(), "vllm:num_preemptions_total{engine=\"0\",model_name=\"Llama-3.1-8B\"} "+itoa(st.Preemptions)) {
		t.Errorf("preemptions %d; metrics:\n%s", st.Preemptions, m.String())
	}
	if st.KVCacheUsage != 0 {
		t.Errorf("cache not freed: %v", st.KVCacheUsage)
	}
}

func TestCrashAfter(t *testing.T) {
	s := mustVirtual(t, Config{Model: "Llama-3.1-8B", Faults: Faults{CrashAfter: 3}}, 1)
	var errs []error
	for i := 0; i < 5; i++ {
		s.Submit(time.Duration(i)*time.Millisecond, virtual.Request{PromptTokens: 100, MaxTokens: 1000, IgnoreEOS: true},
			virtual.Events{Done: func(_ time.Duration, _ virtual.Usage, err error) { errs = append(errs, err) }})
	}
	s.RunUntil(time.Minute)
	if len(errs) != 5 {
		t.Fatalf("%d Done calls", len(errs))
	}
	for _, e := range errs {
		if !errors.Is(e, ErrCrashed) {
			t.Errorf("err %v, want crash", e)
		}
	}
}

func TestFailAtStart(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Model: "Llama-3.1-8B", Faults: Faults{FailAtStart: "oom"}}, "CUDA out of memory"},
		{Config{Model: "Llama-3.1-70B", GPU: "RTX 4090"}, "CUDA out of memory"},
		{Config{Model: "nope-13B"}, "unknown model"},
		{Config{Model: "Llama-3.1-8B", GPU: "TPU"}, "unknown GPU"},
	} {
		if _, err := NewVirtual(tc.cfg, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
