package sweep

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer streams real SSE shaped like vLLM's OpenAI server's (same fields per event, a role-only
// first delta for chat), with injectable faults.
type fakeServer struct {
	TokenDelay time.Duration
	Status     int // non-zero: reply with this status
	StallAfter int // >0: stop sending after this many chunks (connection left open)
	CutAfter   int // >0: close the connection after this many chunks
	ErrorAfter int // >0: send an in-stream error event after this many chunks
	NoUsage    bool
	sawIgnore  atomic.Int64
	sawMinToks atomic.Int64
	requests   atomic.Int64
	running    atomic.Int64
}

func (f *fakeServer) start(t testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/completions", f.complete)
	mux.HandleFunc("/v1/chat/completions", f.complete)
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# HELP vllm:num_requests_running x\n# TYPE vllm:num_requests_running gauge\n")
		fmt.Fprintf(w, "vllm:num_requests_running{model_name=\"m\"} %d\n", f.running.Load())
		fmt.Fprintf(w, "vllm:num_requests_waiting{model_name=\"m\"} 0\nvllm:kv_cache_usage_perc{model_name=\"m\",engine=\"0\"} 0.25\n")
		fmt.Fprintf(w, "vllm:num_preemptions_total{model_name=\"m\"} %d\n", f.requests.Load())
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (f *fakeServer) complete(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.running.Add(1)
	defer f.running.Add(-1)
	var body struct {
		MaxTokens int   `json:"max_tokens"`
		IgnoreEOS *bool `json:"ignore_eos"`
		MinTokens int   `json:"min_tokens"`
		Messages  []any `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if body.IgnoreEOS != nil && *body.IgnoreEOS {
		f.sawIgnore.Add(1)
	}
	if body.MinTokens == body.MaxTokens {
		f.sawMinToks.Add(1)
	}
	if f.Status != 0 {
		w.WriteHeader(f.Status)
		fmt.Fprint(w, `{"error":{"message":"overloaded","type":"x"}}`)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	chat := body.Messages != nil
	if chat {
		fmt.Fprint(w, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n")
	}
	for i := 0; i < body.MaxTokens; i++ {
		if f.TokenDelay > 0 {
			time.Sleep(f.TokenDelay)
		}
		switch {
		case f.StallAfter > 0 && i == f.StallAfter:
			<-r.Context().Done()
			return
		case f.CutAfter > 0 && i == f.CutAfter:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		case f.ErrorAfter > 0 && i == f.ErrorAfter:
			fmt.Fprint(w, "data: {\"error\":{\"message\":\"engine dead\",\"type\":\"server\"}}\n\n")
			fl.Flush()
			return
		}
		if chat {
			fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" w%d\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n", i)
		} else {
			fmt.Fprintf(w, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1730000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\" w%d\",\"logprobs\":null,\"finish_reason\":null,\"stop_reason\":null}],\"usage\":null}\n\n", i)
		}
		fl.Flush()
	}
	if !f.NoUsage {
		fmt.Fprintf(w, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1730000000,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"total_tokens\":%d,\"completion_tokens\":%d}}\n\n", 7+body.MaxTokens, body.MaxTokens)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}
