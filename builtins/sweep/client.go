package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Endpoint selects the OpenAI API the client streams from.
type Endpoint string

const (
	EndpointCompletions Endpoint = "completions"
	EndpointChat        Endpoint = "chat"
)

// httpClient streams one request at a time per goroutine over one shared transport.
type httpClient struct {
	oa        *openai.Client
	transport *http.Transport
	endpoint  Endpoint
	model     string
	ignoreEOS bool
}

// newHTTPClient sizes one transport for conns concurrent streams so connections are reused and
// never re-dialled under load.
func newHTTPClient(baseURL, model, apiKey string, ep Endpoint, conns int, ignoreEOS bool) *httpClient {
	conns = max(conns, 16)
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	cfg := openai.DefaultConfig(apiKey)
	cfg.BaseURL = apiBase(baseURL)
	cfg.HTTPClient = injectDoer{c: &http.Client{Transport: tr}}
	cfg.EmptyMessagesLimit = 1000
	return &httpClient{oa: openai.NewClientWithConfig(cfg), transport: tr, endpoint: ep, model: model, ignoreEOS: ignoreEOS}
}

// apiBase accepts a server URL with or without the /v1 suffix.
func apiBase(u string) string {
	u = strings.TrimRight(u, "/")
	if !strings.HasSuffix(u, "/v1") {
		u += "/v1"
	}
	return u
}

func (c *httpClient) close() { c.transport.CloseIdleConnections() }

type rawStream interface {
	RecvRaw() ([]byte, error)
	Close() error
}

// chunk is the part of a completions or chat stream event the metrics need.
type chunk struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// do sends item and fills rec (times relative to origin). Each RecvRaw is one SSE event, timed on
// arrival. A returned error is classified by the caller.
func (c *httpClient) do(ctx context.Context, item Item, rec *Record, origin time.Time) error {
	st := &reqState{ignoreEOS: c.ignoreEOS}
	if c.ignoreEOS {
		st.minTokens = item.OutputTokens
	}
	ctx = withState(ctx, st)
	rec.InputTokens = item.PromptTokens
	rec.Sent = time.Since(origin)
	so := &openai.StreamOptions{IncludeUsage: true}
	var s rawStream
	var err error
	if c.endpoint == EndpointChat {
		s, err = c.oa.CreateChatCompletionStream(ctx, openai.ChatCompletionRequest{
			Model: c.model, MaxTokens: item.OutputTokens, Stream: true, StreamOptions: so,
			Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: item.Prompt}},
		})
	} else {
		s, err = c.oa.CreateCompletionStream(ctx, openai.CompletionRequest{
			Model: c.model, Prompt: item.Prompt, MaxTokens: item.OutputTokens, Stream: true, StreamOptions: so,
		})
	}
	if err != nil {
		return err
	}
	defer s.Close()
	var ev chunk
	for {
		raw, err := s.RecvRaw()
		now := time.Since(origin)
		if errors.Is(err, io.EOF) {
			if !st.sawDone {
				return errStreamCut
			}
			return nil
		}
		if err != nil {
			return err
		}
		ev.Choices, ev.Usage = ev.Choices[:0], nil
		if err := json.Unmarshal(raw, &ev); err != nil {
			return fmt.Errorf("%w: %v", errMalformed, err)
		}
		content := false
		for i := range ev.Choices {
			ch := &ev.Choices[i]
			if ch.Text != "" || ch.Delta.Content != "" || ch.Delta.ReasoningContent != "" {
				content = true
				ch.Text, ch.Delta.Content, ch.Delta.ReasoningContent = "", "", ""
			}
		}
		if content {
			if rec.ChunkCount == 0 {
				rec.First = now
			}
			rec.Last = now
			rec.ChunkCount++
			rec.Chunks = append(rec.Chunks, now)
		}
		if ev.Usage != nil {
			rec.UsageReported = true
			rec.OutputTokens = ev.Usage.CompletionTokens
			if ev.Usage.PromptTokens > 0 {
				rec.InputTokens = ev.Usage.PromptTokens
			}
		}
	}
}

var (
	errStreamCut = errors.New("stream ended before [DONE]")
	errMalformed = errors.New("malformed stream event")
)

// classify maps an error to the reason key counted in Point.Errors.
func classify(err error) string {
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &reqErr):
		return fmt.Sprintf("http_%d", reqErr.HTTPStatusCode)
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode > 0:
		return fmt.Sprintf("http_%d", apiErr.HTTPStatusCode)
	case errors.As(err, &apiErr):
		msg := apiErr.Message
		if len(msg) > 60 {
			msg = msg[:60]
		}
		return "server_error: " + msg
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, errMalformed), errors.Is(err, openai.ErrTooManyEmptyStreamMessages):
		return "malformed_stream"
	case errors.Is(err, errStreamCut), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, syscall.EPIPE):
		return "connection_closed"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "malformed_stream"
	}
	return "other"
}
