package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"starlab/builtins/virtual"
)

// VLLMVersion is what /version reports: the vLLM release whose behaviour the simulator follows.
const VLLMVersion = "0.11.2"

// Handler serves vLLM's OpenAI-compatible API from the wall-clock engine.
func (s *WallServer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.serveCompletion(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.serveCompletion(w, r, true) })
	mux.HandleFunc("GET /v1/models", s.serveModels)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": VLLMVersion})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		var b bytes.Buffer
		s.mu.Lock()
		writePrometheus(&b, s.core.cfg.ServedModelName, s.core.gauges(), s.core.metrics)
		s.mu.Unlock()
		w.Write(b.Bytes())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// apiError is vLLM's ErrorResponse: {"error": {"message", "type", "param", "code"}}.
func apiError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": status}})
}

// completionRequest is the union of the completion and chat fields the simulator reads.
type completionRequest struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	MinTokens           int             `json:"min_tokens"`
	IgnoreEOS           bool            `json:"ignore_eos"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	N *int `json:"n"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// promptTokens counts a completions prompt: a string, a one-element list of strings, or token ids.
// It also returns the prompt as the simulator's tokens separated by spaces (token ids as decimal
// words), the text its prefix-cache block hashes are computed from.
func promptTokens(raw json.RawMessage) (int, string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return CountTokens(s), s, nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil && len(ss) == 1 {
		return CountTokens(ss[0]), ss[0], nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil {
		words := make([]string, len(ids))
		for i, id := range ids {
			words[i] = strconv.Itoa(id)
		}
		return len(ids), strings.Join(words, " "), nil
	}
	return 0, "", errors.New("prompt must be a string, a list with one string, or a list of token ids")
}

// chatTokens counts message contents: strings or lists of {"type":"text","text":...} parts. It
// also returns the contents joined with spaces, which has the same tokens in the same order.
func chatTokens(msgs []chatMessage) (int, string, error) {
	if len(msgs) == 0 {
		return 0, "", errors.New("messages must not be empty")
	}
	n := 0
	var text []string
	for i, m := range msgs {
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			n += CountTokens(s)
			text = append(text, s)
			continue
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(m.Content, &parts); err != nil {
			return 0, "", fmt.Errorf("messages[%d].content must be a string or a list of parts", i)
		}
		for _, p := range parts {
			n += CountTokens(p.Text)
			text = append(text, p.Text)
		}
	}
	return n, strings.Join(text, " "), nil
}

var idCounter atomic.Uint64

func (s *WallServer) serveCompletion(w http.ResponseWriter, r *http.Request, chat bool) {
	var req completionRequest
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		apiError(w, 400, "BadRequestError", "Invalid JSON body: "+err.Error())
		return
	}
	if req.Model != "" && req.Model != s.core.cfg.ServedModelName {
		apiError(w, 404, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return
	}
	if req.N != nil && *req.N != 1 {
		apiError(w, 400, "BadRequestError", "the simulator supports n=1 only")
		return
	}
	var prompt int
	var text string
	var err error
	if chat {
		prompt, text, err = chatTokens(req.Messages)
	} else if len(req.Prompt) == 0 {
		err = errors.New("prompt is required")
	} else {
		prompt, text, err = promptTokens(req.Prompt)
	}
	if err != nil {
		apiError(w, 400, "BadRequestError", err.Error())
		return
	}
	vr := virtual.Request{PromptTokens: prompt, MinTokens: req.MinTokens, IgnoreEOS: req.IgnoreEOS}
	if s.core.prefixCaching() {
		vr.Blocks = virtual.PromptBlocks(text)
	}
	if req.MaxCompletionTokens != nil {
		vr.MaxTokens = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		vr.MaxTokens = *req.MaxTokens
	}
	if (req.MaxTokens != nil && *req.MaxTokens < 1) || (req.MaxCompletionTokens != nil && *req.MaxCompletionTokens < 1) {
		apiError(w, 400, "BadRequestError", fmt.Sprintf("max_tokens must be at least 1, got %d.", vr.MaxTokens))
		return
	}
	if d := s.requestOverhead(); d > 0 {
		// A calibrated twin's HTTP and tokenisation time, spent before the scheduler sees it.
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	st, err := s.Submit(vr)
	var re *RequestError
	switch {
	case errors.As(err, &re):
		apiError(w, re.Status, "BadRequestError", re.Message)
		return
	case err != nil:
		apiError(w, 500, "InternalServerError", err.Error())
		return
	}
	maxTokens := vr.MaxTokens
	if maxTokens == 0 {
		maxTokens = s.core.cfg.MaxModelLen - prompt
	}
	e := emitter{chat: chat, model: s.core.cfg.ServedModelName, created: time.Now().Unix(), maxTokens: maxTokens}
	if chat {
		e.id = fmt.Sprintf("chatcmpl-%016x%08x", st.ID(), idCounter.Add(1))
	} else {
		e.id = fmt.Sprintf("cmpl-%016x%08x", st.ID(), idCounter.Add(1))
	}
	if req.Stream {
		s.stream(w, r, st, &e, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	tokens, _, u, err := st.Wait(r.Context(), -1)
	for err == nil && !finished(st) {
		tokens, _, u, err = st.Wait(r.Context(), tokens)
	}
	if err != nil {
		apiError(w, 500, "InternalServerError", err.Error())
		return
	}
	writeJSON(w, 200, e.full(tokenText(st.ID(), 0, u.CompletionTokens), u))
}

func finished(st *Stream) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.finished
}

// stream writes Server-Sent Events the way vLLM does: one chunk per engine output (coalesced
// when the client falls behind), finish_reason on the last content chunk, an optional usage
// chunk with empty choices, then "data: [DONE]".
func (s *WallServer) stream(w http.ResponseWriter, r *http.Request, st *Stream, e *emitter, includeUsage bool) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	bw := bufio.NewWriterSize(w, 4096)
	send := func(v any) {
		b, _ := json.Marshal(v)
		bw.WriteString("data: ")
		bw.Write(b)
		bw.WriteString("\n\n")
	}
	flush := func() {
		bw.Flush()
		if fl != nil {
			fl.Flush()
		}
	}
	seen := 0
	for {
		tokens, fin, u, err := st.Wait(r.Context(), seen)
		if err != nil {
			if r.Context().Err() == nil {
				send(map[string]any{"error": map[string]any{"message": err.Error(), "type": "InternalServerError", "param": nil, "code": 500}})
				flush()
			}
			return
		}
		if sa := st.StallAfter(); sa >= 0 && tokens >= sa && !fin {
			// Injected stall: send what is due, then hold the connection and drop it without [DONE].
			if tokens = sa; tokens > seen {
				send(e.delta(tokenText(st.ID(), seen, tokens), seen == 0, ""))
			}
			flush()
			st.Cancel()
			select {
			case <-time.After(s.core.cfg.Faults.stallFor()):
			case <-r.Context().Done():
			case <-s.ctx.Done():
			}
			return
		}
		if tokens > seen {
			reason := ""
			if fin {
				reason = e.finishReason(u.CompletionTokens)
			}
			send(e.delta(tokenText(st.ID(), seen, tokens), seen == 0, reason))
			seen = tokens
		}
		if fin {
			if includeUsage {
				send(e.usageChunk(u))
			}
			bw.WriteString("data: [DONE]\n\n")
			flush()
			return
		}
		flush()
	}
}

// emitter builds vLLM's response objects.
type emitter struct {
	chat      bool
	id, model string
	created   int64
	maxTokens int
}

func (e *emitter) finishReason(n int) string {
	if n >= e.maxTokens {
		return "length"
	}
	return "stop"
}

func (e *emitter) object() string {
	if e.chat {
		return "chat.completion.chunk"
	}
	return "text_completion"
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (e *emitter) delta(text string, first bool, reason string) map[string]any {
	var choice map[string]any
	if e.chat {
		d := map[string]any{"content": text}
		if first {
			d["role"] = "assistant"
		}
		choice = map[string]any{"index": 0, "delta": d, "logprobs": nil, "finish_reason": nullable(reason), "stop_reason": nil}
	} else {
		choice = map[string]any{"index": 0, "text": text, "logprobs": nil, "finish_reason": nullable(reason), "stop_reason": nil}
	}
	return map[string]any{"id": e.id, "object": e.object(), "created": e.created, "model": e.model, "choices": []any{choice}, "usage": nil}
}

func usageMap(u virtual.Usage) map[string]any {
	return map[string]any{"prompt_tokens": u.PromptTokens, "total_tokens": u.PromptTokens + u.CompletionTokens,
		"completion_tokens": u.CompletionTokens, "prompt_tokens_details": nil}
}

func (e *emitter) usageChunk(u virtual.Usage) map[string]any {
	return map[string]any{"id": e.id, "object": e.object(), "created": e.created, "model": e.model, "choices": []any{}, "usage": usageMap(u)}
}

func (e *emitter) full(text string, u virtual.Usage) map[string]any {
	reason := e.finishReason(u.CompletionTokens)
	var choice map[string]any
	obj := "text_completion"
	if e.chat {
		obj = "chat.completion"
		choice = map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text, "tool_calls": []any{}},
			"logprobs": nil, "finish_reason": reason, "stop_reason": nil}
	} else {
		choice = map[string]any{"index": 0, "text": text, "logprobs": nil, "finish_reason": reason, "stop_reason": nil, "prompt_logprobs": nil}
	}
	return map[string]any{"id": e.id, "object": obj, "created": e.created, "model": e.model, "choices": []any{choice}, "usage": usageMap(u)}
}

func (s *WallServer) serveModels(w http.ResponseWriter, r *http.Request) {
	cfg := s.core.cfg
	writeJSON(w, 200, map[string]any{"object": "list", "data": []any{map[string]any{
		"id": cfg.ServedModelName, "object": "model", "created": s.origin.Unix(), "owned_by": "vllm",
		"root": cfg.Model, "parent": nil, "max_model_len": cfg.MaxModelLen,
		"permission": []any{map[string]any{"id": "modelperm-sim", "object": "model_permission", "created": s.origin.Unix(),
			"allow_create_engine": false, "allow_sampling": true, "allow_logprobs": true, "allow_search_indices": false,
			"allow_view": true, "allow_fine_tuning": false, "organization": "*", "group": nil, "is_blocking": false}},
	}}})
}
