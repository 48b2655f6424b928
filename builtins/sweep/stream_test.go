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
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// chunkShapes are stream events as vLLM, SGLang, llama.cpp and ollama send them, plus the odd and
// broken ones; fast marks those the scanner must decode itself (the rest may go to encoding/json).
var chunkShapes = []struct {
	name string
	json string
	fast bool
	want chunkInfo
}{
	{"vllm completions", `{"id":"cmpl-1","object":"text_completion","created":1730000000,"model":"m","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}`, true, chunkInfo{content: true}},
	{"completions last", `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":".","logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":null}`, true, chunkInfo{content: true}},
	{"completions empty text", `{"id":"cmpl-1","choices":[{"index":0,"text":"","finish_reason":"stop"}]}`, true, chunkInfo{}},
	{"usage only", `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":7,"total_tokens":71,"completion_tokens":64,"prompt_tokens_details":null}}`, true, chunkInfo{usage: true, prompt: 7, completion: 64}},
	{"chat role only", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`, true, chunkInfo{}},
	{"chat role no content", `{"choices":[{"index":0,"delta":{"role":"assistant"}}]}`, true, chunkInfo{}},
	{"chat content", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" w1"},"logprobs":null,"finish_reason":null}]}`, true, chunkInfo{content: true}},
	{"chat repeated role", `{"choices":[{"index":0,"delta":{"role":"assistant","content":" hi"},"finish_reason":null}],"system_fingerprint":"fp_ollama"}`, true, chunkInfo{content: true}},
	{"chat reasoning", `{"choices":[{"index":0,"delta":{"reasoning_content":"think","content":null}}]}`, true, chunkInfo{content: true}},
	{"chat finish", `{"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null}`, true, chunkInfo{}},
	{"zero usage on every chunk", `{"choices":[{"finish_reason":null,"index":0,"delta":{"content":"Hello"}}],"created":1,"id":"chatcmpl-x","model":"m","system_fingerprint":"b1","object":"chat.completion.chunk","usage":{"completion_tokens":0,"prompt_tokens":0,"total_tokens":0}}`, true, chunkInfo{content: true, usage: true}},
	{"final usage with timings", `{"choices":[],"usage":{"completion_tokens":64,"prompt_tokens":7,"total_tokens":71},"timings":{"prompt_n":7,"prompt_ms":1.5e1,"predicted_per_second":-0.25E+2}}`, true, chunkInfo{usage: true, prompt: 7, completion: 64}},
	{"ollama completions", fmt.Sprintf(ollamaText, " Paris"), true, chunkInfo{content: true, usage: true}},
	{"ollama completions finish", fmt.Sprintf(ollamaTextDone, "stop"), true, chunkInfo{usage: true}},
	{"ollama completions usage", fmt.Sprintf(ollamaTextUsage, 6, 5, 11), true, chunkInfo{usage: true, prompt: 6, completion: 5}},
	{"ollama chat", fmt.Sprintf(ollamaChat, " Paris"), true, chunkInfo{content: true}},
	{"ollama chat finish", fmt.Sprintf(ollamaChatDone, "length"), true, chunkInfo{}},
	{"ollama chat usage", fmt.Sprintf(ollamaChatUsage, 6, 5, 11), true, chunkInfo{usage: true, prompt: 6, completion: 5}},
	{"usage null counts", `{"usage":{"prompt_tokens":null,"completion_tokens":-0}}`, true, chunkInfo{usage: true}},
	{"utf-8", `{"choices":[{"text":"안녕 😀"}]}`, true, chunkInfo{content: true}},
	{"escapes", `{"choices":[{"text":"\u00e9\n\"\\\/\b\f\r\t\ud83d\ude00"}]}`, true, chunkInfo{content: true}},
	{"lone surrogate", `{"choices":[{"text":"\ud800"}]}`, true, chunkInfo{content: true}},
	{"invalid utf-8", "{\"choices\":[{\"text\":\"\xff\xfe\"}]}", true, chunkInfo{content: true}},
	{"second choice", `{"choices":[{"index":0,"text":""},{"index":1,"text":"b"}]}`, true, chunkInfo{content: true}},
	{"logprobs", `{"choices":[{"index":0,"text":" a","logprobs":{"tokens":[" a"],"token_logprobs":[-0.5],"top_logprobs":[{" a":-0.5,"b":-1e-3}],"text_offset":[0]},"finish_reason":null}]}`, true, chunkInfo{content: true}},
	{"nulls", `{"choices":[null,{"text":null,"delta":null}],"usage":null}`, true, chunkInfo{}},
	{"null choices", ` {"choices":null} `, true, chunkInfo{}},
	{"empty object", `{}`, true, chunkInfo{}},
	{"error object", `{"error":{"message":"engine dead","type":"server","code":500}}`, true, chunkInfo{}},
	{"vllm error object", `{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}`, true, chunkInfo{}},
	{"whitespace", "{ \"choices\" : [ { \"text\" : \"a\" } ] ,\n\t\"usage\" : { \"completion_tokens\" : 3 } }\r\n", true, chunkInfo{content: true, usage: true, completion: 3}},

	// Left to encoding/json: its answer (often an error) is the reference.
	{"garbage", `garbage`, false, chunkInfo{}},
	{"empty", ``, false, chunkInfo{}},
	{"null", `null`, false, chunkInfo{}},
	{"array", `[]`, false, chunkInfo{}},
	{"truncated", `{"choices":[{"text":"a"`, false, chunkInfo{}},
	{"trailing", `{"choices":[{"text":"a"}]} x`, false, chunkInfo{}},
	{"trailing comma", `{"choices":[{"text":"a"}],}`, false, chunkInfo{}},
	{"text number", `{"choices":[{"text":1}]}`, false, chunkInfo{}},
	{"choice number", `{"choices":[1]}`, false, chunkInfo{}},
	{"choices object", `{"choices":{"text":"a"}}`, false, chunkInfo{}},
	{"float count", `{"usage":{"completion_tokens":64.0}}`, false, chunkInfo{}},
	{"exp count", `{"usage":{"completion_tokens":1e2}}`, false, chunkInfo{}},
	{"string count", `{"usage":{"completion_tokens":"64"}}`, false, chunkInfo{}},
	{"huge count", `{"usage":{"completion_tokens":99999999999999999999}}`, false, chunkInfo{}},
	{"leading zero", `{"usage":{"completion_tokens":064}}`, false, chunkInfo{}},
	{"usage array", `{"usage":[]}`, false, chunkInfo{}},
	{"case variant", `{"Choices":[{"text":"a"}]}`, false, chunkInfo{content: true}},
	{"case variant text", `{"choices":[{"TEXT":"a"}]}`, false, chunkInfo{content: true}},
	{"escaped key", `{"cho\u0069ces":[{"text":"a"}]}`, false, chunkInfo{content: true}},
	{"kelvin key", `{"usage":{"completion_to` + "\u212a" + `ens":5}}`, false, chunkInfo{usage: true, completion: 5}},
	{"long s key", `{"choice` + "\u017f" + `":[{"text":"a"}]}`, false, chunkInfo{content: true}},
	{"duplicate text", `{"choices":[{"text":"a","text":""}]}`, false, chunkInfo{}},
	{"duplicate usage", `{"usage":{"completion_tokens":5},"usage":null}`, false, chunkInfo{}},
	{"control char", "{\"choices\":[{\"text\":\"a\x01\"}]}", false, chunkInfo{}},
	{"bad escape", `{"choices":[{"text":"\x"}]}`, false, chunkInfo{}},
	{"bad unicode escape", `{"choices":[{"text":"\u12g4"}]}`, false, chunkInfo{}},
	{"bad literal", `{"x":nul}`, false, chunkInfo{}},
	{"bad number", `{"x":-}`, false, chunkInfo{}},
	{"deep", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, false, chunkInfo{}},
}

// TestDecodeChunkAgrees: the scanner decodes the common shapes itself and agrees with
// encoding/json on every shape; whatever it declines, decodeChunk answers exactly as the full
// decode does, error text included.
func TestDecodeChunkAgrees(t *testing.T) {
	for _, tc := range chunkShapes {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scanChunk([]byte(tc.json))
			if ok != tc.fast {
				t.Errorf("scanner decoded it: %v, want %v", ok, tc.fast)
			}
			full, fullErr := fullDecodeChunk([]byte(tc.json))
			if ok && (fullErr != nil || got != full) {
				t.Fatalf("scanner %+v, encoding/json %+v %v", got, full, fullErr)
			}
			if fullErr == nil && full != tc.want {
				t.Errorf("encoding/json %+v, want %+v", full, tc.want)
			}
			dec, decErr := decodeChunk([]byte(tc.json))
			if dec != full || fmt.Sprint(decErr) != fmt.Sprint(fullErr) {
				t.Errorf("decodeChunk %+v %v, encoding/json %+v %v", dec, decErr, full, fullErr)
			}
		})
	}
}

// FuzzDecodeChunk checks the scanner against encoding/json on any input.
func FuzzDecodeChunk(f *testing.F) {
	for _, tc := range chunkShapes {
		f.Add([]byte(tc.json))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		full, fullErr := fullDecodeChunk(b)
		if got, ok := scanChunk(b); ok && (fullErr != nil || got != full) {
			t.Fatalf("scanner %+v, encoding/json %+v %v", got, full, fullErr)
		}
		dec, decErr := decodeChunk(b)
		if dec != full || fmt.Sprint(decErr) != fmt.Sprint(fullErr) {
			t.Fatalf("decodeChunk %+v %v, encoding/json %+v %v", dec, decErr, full, fullErr)
		}
	})
}

// outcome is what a stream leaves in a record, plus the error and its class.
type outcome struct {
	chunks, out, in int
	usage           bool
	err, class      string
}

func outcomeOf(rec *RequestRecord, err error) outcome {
	o := outcome{chunks: rec.ChunkCount, out: rec.OutputTokens, in: rec.InputTokens, usage: rec.UsageReported}
	if err != nil {
		o.err, o.class = err.Error(), classify(err)
	}
	return o
}

// endReader reads body and then fails with end (io.EOF for a clean end), noting that it did.
type endReader struct {
	r     io.Reader
	end   error
	ended bool
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.ended, err = true, e.end
	}
	return n, err
}

func (e *endReader) Close() error { return nil }

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func response(status int, body io.ReadCloser) *http.Response {
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header: http.Header{}, Body: body}
}

// referenceStream is the client as it was before the scanner: go-openai's stream reader, then
// encoding/json into one reused chunk per event. "[DONE]" counts as seen when the reader ended
// the stream before the body did.
func referenceStream(status int, body []byte, end error) outcome {
	src := &endReader{r: bytes.NewReader(body), end: end}
	cfg := openai.DefaultConfig("")
	cfg.BaseURL = "http://x/v1"
	cfg.EmptyMessagesLimit = emptyMessagesLimit
	cfg.HTTPClient = doerFunc(func(*http.Request) (*http.Response, error) { return response(status, src), nil })
	rec := &RequestRecord{InputTokens: 16}
	err := func() error {
		s, err := openai.NewClientWithConfig(cfg).CreateCompletionStream(context.Background(),
			openai.CompletionRequest{Model: "m", Prompt: "p", MaxTokens: 4})
		if err != nil {
			return err
		}
		var ev chunk
		for {
			raw, err := s.RecvRaw()
			if errors.Is(err, io.EOF) {
				if src.ended {
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
				rec.ChunkCount++
			}
			if ev.Usage != nil { // the record's rule for usage blocks, shared with readResponse
				rec.noteUsage(ev.Usage.PromptTokens, ev.Usage.CompletionTokens)
			}
		}
	}()
	return outcomeOf(rec, err)
}

// newStream runs the same body through readResponse, one byte per read so that every line and
// event crosses read boundaries.
func newStream(status int, body []byte, end error) outcome {
	rec := &RequestRecord{InputTokens: 16}
	src := &endReader{r: iotest.OneByteReader(bytes.NewReader(body)), end: end}
	err := readResponse(response(status, src), rec, time.Now())
	return outcomeOf(rec, err)
}

func sse(events ...string) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString("data: " + e + "\n\n")
	}
	return b.String()
}

func tokens(n int, event string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(event, i)
	}
	return out
}

var (
	textEvent  = `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" w%d","logprobs":null,"finish_reason":null}],"usage":null}`
	chatEvent  = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" w%d"},"finish_reason":null}]}`
	zeroEvent  = `{"choices":[{"index":0,"delta":{"content":"t%d"}}],"usage":{"completion_tokens":0,"prompt_tokens":0,"total_tokens":0}}`
	usageEvent = `{"id":"cmpl-1","choices":[],"usage":{"prompt_tokens":7,"total_tokens":11,"completion_tokens":4}}`
	roleEvent  = `{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`
	errEvent   = `{"error":{"message":"engine dead","type":"server"}}`
)

// streamShapes are whole replies: status, body and how the body ends.
var streamShapes = []struct {
	name   string
	status int
	body   string
	end    error
	want   outcome // what the new reader must produce (the reference must agree)
}{
	{"completions", 200, sse(append(tokens(4, textEvent), usageEvent, "[DONE]")...), io.EOF,
		outcome{chunks: 4, out: 4, in: 7, usage: true}},
	{"chat", 200, sse(append(append([]string{roleEvent}, tokens(4, chatEvent)...), usageEvent, "[DONE]")...), io.EOF,
		outcome{chunks: 4, out: 4, in: 7, usage: true}},
	{"no usage", 200, sse(append(tokens(3, textEvent), "[DONE]")...), io.EOF, outcome{chunks: 3, in: 16}},
	{"zero usage on every chunk", 200, sse(append(tokens(4, zeroEvent), usageEvent, "[DONE]")...), io.EOF,
		outcome{chunks: 4, out: 4, in: 7, usage: true}},
	{"zero usage only", 200, sse(append(tokens(2, zeroEvent), "[DONE]")...), io.EOF, outcome{chunks: 2, in: 16}},
	{"ollama completions", 200, sse(ollamaStream(false, []string{" Paris", " é", "té"}, 6, 4, "stop")...), io.EOF,
		outcome{chunks: 3, out: 4, in: 6, usage: true}},
	{"ollama chat", 200, sse(ollamaStream(true, []string{" Paris", " é", "té"}, 6, 4, "length")...), io.EOF,
		outcome{chunks: 3, out: 4, in: 6, usage: true}},
	{"ollama zero usage, final usage missing", 200, sse(append(tokens(2, strings.Replace(ollamaText, "%q", `"w%d"`, 1)), "[DONE]")...), io.EOF,
		outcome{chunks: 2, in: 16}},
	{"crlf", 200, strings.ReplaceAll(sse(append(tokens(2, textEvent), usageEvent, "[DONE]")...), "\n", "\r\n"), io.EOF,
		outcome{chunks: 2, out: 4, in: 7, usage: true}},
	{"no space after data", 200, "data:" + fmt.Sprintf(textEvent, 1) + "\n\ndata:\t[DONE]\n\n", io.EOF, outcome{chunks: 1, in: 16}},
	{"comments and event lines", 200, ": ping\n\nevent: completion\n" + sse(append(tokens(2, textEvent), "[DONE]")...), io.EOF,
		outcome{chunks: 2, in: 16}},
	{"bytes after done", 200, sse(fmt.Sprintf(textEvent, 1), "[DONE]") + "data: garbage\n\n", io.EOF, outcome{chunks: 1, in: 16}},
	{"long line", 200, sse(`{"choices":[{"text":"`+strings.Repeat("ab", 40<<10)+`"}]}`, "[DONE]"), io.EOF, outcome{chunks: 1, in: 16}},
	{"error event", 200, sse(append(tokens(2, textEvent), errEvent)...), io.EOF,
		outcome{chunks: 2, in: 16, err: "error, engine dead", class: "server_error: engine dead"}},
	{"error event at end of body", 200, sse(fmt.Sprintf(textEvent, 1)) + "data: " + errEvent, io.EOF,
		outcome{chunks: 1, in: 16, err: errStreamCut.Error(), class: "connection_closed"}},
	{"error event without error object", 200, sse(`{"error":"dead"}`), io.EOF,
		outcome{in: 16, err: "malformed stream event: unexpected end of JSON input", class: "malformed_stream"}},
	{"comment then error event", 200, ": ping\n" + sse(errEvent), io.EOF,
		outcome{in: 16, err: "malformed stream event: unexpected end of JSON input", class: "malformed_stream"}},
	{"error body on 200", 200, errEvent + "\n", io.EOF, outcome{in: 16, err: "error, engine dead", class: "server_error: engine dead"}},
	{"cut", 200, sse(tokens(2, textEvent)...), io.EOF, outcome{chunks: 2, in: 16, err: errStreamCut.Error(), class: "connection_closed"}},
	{"cut mid-chunk", 200, sse(tokens(2, textEvent)...) + "data: {\"cho", io.ErrUnexpectedEOF,
		outcome{chunks: 2, in: 16, err: io.ErrUnexpectedEOF.Error(), class: "connection_closed"}},
	{"done without newline", 200, sse(fmt.Sprintf(textEvent, 1)) + "data: [DONE]", io.EOF,
		outcome{chunks: 1, in: 16, err: errStreamCut.Error(), class: "connection_closed"}},
	{"garbage event", 200, sse(fmt.Sprintf(textEvent, 1), "garbage"), io.EOF,
		outcome{chunks: 1, in: 16, err: "malformed stream event: invalid character 'g' looking for beginning of value", class: "malformed_stream"}},
	{"empty event", 200, "data:\n\n", io.EOF,
		outcome{in: 16, err: "malformed stream event: unexpected end of JSON input", class: "malformed_stream"}},
	{"too many empty lines", 200, strings.Repeat("\n", emptyMessagesLimit+1) + sse("[DONE]"), io.EOF,
		outcome{in: 16, err: openai.ErrTooManyEmptyStreamMessages.Error(), class: "malformed_stream"}},
	{"http 503 error object", 503, `{"error":{"message":"overloaded","type":"x"}}`, io.EOF,
		outcome{in: 16, err: "error, status code: 503, status: 503 Service Unavailable, message: overloaded", class: "http_503"}},
	{"http 400 vllm error", 400, `{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}`, io.EOF,
		outcome{in: 16, err: `error, status code: 400, status: 400 Bad Request, message: %!s(<nil>), body: {"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}`, class: "http_400"}},
	{"http 500 text", 500, "Internal Server Error", io.EOF,
		outcome{in: 16, err: "error, status code: 500, status: 500 Internal Server Error, message: invalid character 'I' looking for beginning of value, body: Internal Server Error", class: "http_500"}},
}

// TestStreamAgrees: the new reader gives every reply shape the record, error text and class the
// go-openai reader with encoding/json gave.
func TestStreamAgrees(t *testing.T) {
	for _, tc := range streamShapes {
		t.Run(tc.name, func(t *testing.T) {
			got := newStream(tc.status, []byte(tc.body), tc.end)
			if got != tc.want {
				t.Errorf("new reader:\n got %+v\nwant %+v", got, tc.want)
			}
			if ref := referenceStream(tc.status, []byte(tc.body), tc.end); ref != got {
				t.Errorf("go-openai reference:\n got %+v\n new %+v", ref, got)
			}
		})
	}
}

// FuzzStream feeds any reply body to both readers.
func FuzzStream(f *testing.F) {
	for _, tc := range streamShapes {
		if len(tc.body) < 4096 {
			f.Add(tc.status, []byte(tc.body), tc.end == io.EOF)
		}
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, clean bool) {
		if status < 100 || status > 599 {
			status = 200
		}
		end := io.ErrUnexpectedEOF
		if clean {
			end = io.EOF
		}
		if got, ref := newStream(status, body, end), referenceStream(status, body, end); got != ref {
			t.Fatalf("new %+v\nreference %+v", got, ref)
		}
	})
}

// TestRequestBody: the body is byte for byte what go-openai marshalled, with ignore_eos and
// min_tokens appended as the old request hook did.
func TestRequestBody(t *testing.T) {
	items := []Item{
		{Prompt: "hello world", PromptTokens: 2, OutputTokens: 64},
		{Prompt: `<a & "b"> 안녕 ` + "\u2028\xff\t", OutputTokens: 1},
		{Prompt: "", OutputTokens: 0},
	}
	for _, ep := range []Endpoint{EndpointCompletions, EndpointChat} {
		for _, ignore := range []bool{true, false} {
			c := newHTTPClient("http://h", "org/Model-<7B>", "", ep, 1, ignore)
			for _, it := range items {
				var req any = openai.CompletionRequest{Model: "org/Model-<7B>", Prompt: it.Prompt, MaxTokens: it.OutputTokens,
					Stream: true, StreamOptions: &openai.StreamOptions{IncludeUsage: true}}
				if ep == EndpointChat {
					req = openai.ChatCompletionRequest{Model: "org/Model-<7B>", MaxTokens: it.OutputTokens, Stream: true,
						StreamOptions: &openai.StreamOptions{IncludeUsage: true},
						Messages:      []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: it.Prompt}}}
				}
				want, err := json.Marshal(req)
				if err != nil {
					t.Fatal(err)
				}
				if ignore {
					extra := `,"ignore_eos":true`
					if it.OutputTokens > 0 {
						extra += `,"min_tokens":` + strconv.Itoa(it.OutputTokens)
					}
					want = append(want[:len(want)-1], extra+"}"...)
				}
				if got := c.body(it); !bytes.Equal(got, want) {
					t.Errorf("%s ignore_eos=%v:\n got %s\nwant %s", ep, ignore, got, want)
				}
			}
		}
	}
}

// TestClientOverHTTP: path, headers and body reach the server, a chat stream is read, and
// sequential requests share one connection (finished streams are drained before close).
func TestClientOverHTTP(t *testing.T) {
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer k" ||
			r.Header.Get("Accept") != "text/event-stream" || body["ignore_eos"] != true || body["min_tokens"] != 3.0 ||
			body["stream_options"].(map[string]any)["include_usage"] != true {
			http.Error(w, `{"error":{"message":"bad request"}}`, 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, sse(append(append([]string{roleEvent}, tokens(3, chatEvent)...), usageEvent, "[DONE]")...))
		w.(http.Flusher).Flush()
		time.Sleep(2 * time.Millisecond) // the end of the body comes after "[DONE]", as from a real server
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	defer s.Close()
	c := newHTTPClient(s.URL+"/v1/", "m", "k", EndpointChat, 1, true)
	defer c.close()
	for i := 0; i < 5; i++ {
		rec := &RequestRecord{}
		if err := c.do(context.Background(), Item{Prompt: "hi", PromptTokens: 1, OutputTokens: 3}, rec, time.Now()); err != nil {
			t.Fatal(err)
		}
		if rec.ChunkCount != 3 || len(rec.Chunks) != 3 || rec.OutputTokens != 4 || rec.InputTokens != 7 || rec.First <= 0 || rec.Last < rec.First {
			t.Fatalf("record %+v", rec)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 sequential requests, want 1", n)
	}
}

// BenchmarkReadResponse reads a 64-token vLLM-style completions stream from memory: the client's
// own work per request, without the network.
// Run: go test -run XXX -bench ReadResponse ./builtins/sweep
func BenchmarkReadResponse(b *testing.B) {
	body := []byte(sse(append(tokens(64, textEvent), usageEvent, "[DONE]")...))
	origin := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rec := &RequestRecord{}
		if err := readResponse(response(200, io.NopCloser(bytes.NewReader(body))), rec, origin); err != nil || rec.ChunkCount != 64 {
			b.Fatal(err, rec.ChunkCount)
		}
	}
}
