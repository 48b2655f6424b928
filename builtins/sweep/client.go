package sweep

import (
	"bytes"
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

// httpClient streams one request at a time per goroutine over one shared transport. It builds
// the request body itself and reads the event stream with stream.go's reader: go-openai, used
// before, decoded every token by reflection and had no way to send ignore_eos or to drain a
// finished stream for connection reuse. Its error types are kept, so classify and the error texts
// are unchanged.
type httpClient struct {
	hc        *http.Client
	transport *http.Transport
	url       string
	header    http.Header
	endpoint  Endpoint
	model     []byte // JSON-quoted
	ignoreEOS bool
	extra     []byte // Sampling's fields, rendered once: ,"temperature":0.7,...
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
	url := apiBase(baseURL) + "/completions"
	if ep == EndpointChat {
		url = apiBase(baseURL) + "/chat/completions"
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	if apiKey != "" {
		h.Set("Authorization", "Bearer "+apiKey)
	}
	m, _ := json.Marshal(model)
	return &httpClient{hc: &http.Client{Transport: tr}, transport: tr, url: url, header: h, endpoint: ep,
		model: m, ignoreEOS: ignoreEOS}
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

// do sends item and fills rec (times relative to origin). A returned error is classified by the
// caller.
func (c *httpClient) do(ctx context.Context, item Item, rec *RequestRecord, origin time.Time) error {
	rec.InputTokens = item.PromptTokens
	rec.Sent = time.Since(origin)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body(item)))
	if err != nil {
		return err
	}
	req.Header = c.header.Clone()
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	if rec.Chunks == nil { // one allocation for the usual stream instead of a doubling series
		rec.Chunks = make([]time.Duration, 0, min(max(item.OutputTokens, 1), 4096))
	}
	return readResponse(resp, rec, origin)
}

// readResponse reads a streamed reply into rec, stamping each event as it is read.
func readResponse(resp *http.Response, rec *RequestRecord, origin time.Time) error {
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusBadRequest {
		defer resp.Body.Close()
		return errorResponse(resp)
	}
	s := sseStream{lines: newLineReader(resp.Body)}
	defer s.close(resp.Body)
	for {
		raw, err := s.next()
		now := time.Since(origin)
		if errors.Is(err, io.EOF) {
			if !s.done {
				return errStreamCut
			}
			return nil
		}
		if err != nil {
			return err
		}
		ev, err := decodeChunk(raw)
		if err != nil {
			return err
		}
		if ev.content {
			if rec.ChunkCount == 0 {
				rec.First = now
			}
			rec.Last = now
			rec.ChunkCount++
			rec.Chunks = append(rec.Chunks, now)
		}
		if ev.usage {
			rec.noteUsage(ev.prompt, ev.completion)
		}
	}
}

// close ends a stream: a finished one is drained first so that the transport reuses the
// connection (a body closed unread makes it hang up).
func (s *sseStream) close(body io.ReadCloser) {
	if s.done {
		io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	}
	body.Close()
	s.lines.release()
}

// errorResponse turns a failed HTTP response into go-openai's error for it: *openai.APIError when
// the body is an OpenAI error object, else *openai.RequestError.
func errorResponse(resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("error, reading response body: %w", err)
	}
	var er openai.ErrorResponse
	err = json.Unmarshal(body, &er)
	if err != nil || er.Error == nil {
		reqErr := &openai.RequestError{HTTPStatus: resp.Status, HTTPStatusCode: resp.StatusCode, Err: err, Body: body}
		if er.Error != nil {
			reqErr.Err = er.Error
		}
		return reqErr
	}
	er.Error.HTTPStatus = resp.Status
	er.Error.HTTPStatusCode = resp.StatusCode
	return er.Error
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
