package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

func startHTTP(t *testing.T, c Config) (*WallServer, string) {
	t.Helper()
	srv, err := NewWall(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return srv, hs.URL
}

func client(url string) *openai.Client {
	cfg := openai.DefaultConfig("none")
	cfg.BaseURL = url + "/v1"
	return openai.NewClientWithConfig(cfg)
}

// TestStreamingThroughput streams 64 concurrent completions through go-openai and requires
// thousands of SSE chunks per second end to end.
func TestStreamingThroughput(t *testing.T) {
	_, url := startHTTP(t, Config{Model: "Llama-3.1-8B", ServedModelName: "llama"})
	cl := client(url)
	ctx := context.Background()
	var mu sync.Mutex
	chunks, usageSeen := 0, 0
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := cl.CreateCompletionStream(ctx, openai.CompletionRequest{Model: "llama", Prompt: strings.Repeat("word ", 100),
				MaxTokens: 100, Stream: true, StreamOptions: &openai.StreamOptions{IncludeUsage: true}})
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			n := 0
			for {
				r, err := st.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Error(err)
					return
				}
				if len(r.Choices) > 0 {
					n++
				}
				if r.Usage != nil && r.Usage.PromptTokens == 100 && r.Usage.CompletionTokens > 0 {
					mu.Lock()
					usageSeen++
					mu.Unlock()
				}
			}
			mu.Lock()
			chunks += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	rate := float64(chunks) / time.Since(start).Seconds()
	if rate < 1000 || usageSeen != 64 {
		t.Errorf("%d chunks at %.0f/s, usage in %d of 64 streams", chunks, rate, usageSeen)
	}
	t.Logf("%d chunks, %.0f chunks/s", chunks, rate)
}

func TestChatStreamAndNonStream(t *testing.T) {
	_, url := startHTTP(t, Config{Model: "Qwen2.5-7B", ServedModelName: "qwen"})
	cl := client(url)
	ctx := context.Background()
	st, err := cl.CreateChatCompletionStream(ctx, openai.ChatCompletionRequest{Model: "qwen", MaxTokens: 20,
		Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "hello there friend"}}, Stream: true,
		StreamOptions: &openai.StreamOptions{IncludeUsage: true}})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var usage *openai.Usage
	var reason openai.FinishReason
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Choices {
			text.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				reason = c.FinishReason
			}
		}
		if r.Usage != nil {
			usage = r.Usage
		}
	}
	st.Close()
	if usage == nil || usage.PromptTokens != 3 || CountTokens(text.String()) != usage.CompletionTokens || reason == "" {
		t.Errorf("usage %+v, text %q, reason %q", usage, text.String(), reason)
	}
	resp, err := cl.CreateCompletion(ctx, openai.CompletionRequest{Model: "qwen", Prompt: "a b c d", MaxTokens: 5})
	if err != nil || resp.Usage.PromptTokens != 4 || len(resp.Choices) != 1 || CountTokens(resp.Choices[0].Text) != resp.Usage.CompletionTokens {
		t.Errorf("non-stream: %+v, %v", resp, err)
	}
	models, err := cl.ListModels(ctx)
	if err != nil || len(models.Models) != 1 || models.Models[0].ID != "qwen" {
		t.Errorf("models %+v %v", models, err)
	}
}

func TestBadRequests(t *testing.T) {
	_, url := startHTTP(t, Config{Model: "Llama-3.1-8B", MaxModelLen: 1000})
	for _, tc := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/v1/completions", `{"prompt": "x", "max_tokens": 2000}`, 400, "maximum context length is 1000"},
		{"/v1/completions", `{"prompt": 7}`, 400, "prompt must be"},
		{"/v1/completions", `{not json`, 400, "Invalid JSON"},
		{"/v1/completions", `{"prompt": "x", "max_tokens": 0}`, 400, "max_tokens must be at least 1"},
		{"/v1/chat/completions", `{"messages": []}`, 400, "messages must not be empty"},
		{"/v1/completions", `{"model": "gpt-4", "prompt": "x"}`, 404, "does not exist"},
	} {
		resp, err := http.Post(url+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Code    int    `json:"code"`
			} `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || e.Error.Code != tc.status || !strings.Contains(e.Error.Message, tc.want) {
			t.Errorf("%s %s: %d %+v, want %d %q", tc.path, tc.body, resp.StatusCode, e, tc.status, tc.want)
		}
	}
	for _, p := range []string{"/health", "/version"} {
		resp, err := http.Get(url + p)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
}

// TestMetricsPreemptions streams through a tiny KV cache and reads preemptions from /metrics.
func TestMetricsPreemptions(t *testing.T) {
	_, url := startHTTP(t, Config{Model: "Llama-3.2-1B", NumGPUBlocksOverride: 40})
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(url+"/v1/completions", "application/json",
				strings.NewReader(`{"prompt": "`+strings.Repeat("w ", 150)+`", "max_tokens": 200, "ignore_eos": true, "stream": true}`))
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
				t.Errorf("stream did not end with [DONE]: ...%s", body[max(0, len(body)-200):])
			}
		}()
	}
	wg.Wait()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	checkMetrics(t, body, 1200, 6)
}

func TestHTTPFaults(t *testing.T) {
	_, url := startHTTP(t, Config{Model: "Llama-3.2-1B", Faults: Faults{ErrorRate: 1}})
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "x", "max_tokens": 3}`))
	if err != nil || resp.StatusCode != 500 {
		t.Errorf("error fault: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	_, url = startHTTP(t, Config{Model: "Llama-3.2-1B", Faults: Faults{StallRate: 1, StallAfterTokens: 2, StallFor: 50 * time.Millisecond}})
	resp, err = http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "x", "max_tokens": 50, "stream": true, "ignore_eos": true}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(body, []byte("[DONE]")) || bytes.Count(body, []byte("data: ")) != 2 {
		t.Errorf("stalled stream body: %s", body)
	}
}
