package sweep

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
)

// reqState carries per-request extras into the HTTP doer and stream facts back out; go-openai has
// no extra-body support and hides whether "[DONE]" arrived.
type reqState struct {
	ignoreEOS bool
	minTokens int
	sawDone   bool
}

type stateKey struct{}

// injectDoer appends vLLM's ignore_eos and min_tokens to the JSON body go-openai built, and wraps
// the response body so that Close drains a finished stream (go-openai stops reading at "[DONE]",
// which would otherwise make the transport drop the connection instead of reusing it).
type injectDoer struct{ c *http.Client }

func (d injectDoer) Do(req *http.Request) (*http.Response, error) {
	st, _ := req.Context().Value(stateKey{}).(*reqState)
	if st != nil && req.Body != nil && (st.ignoreEOS || st.minTokens > 0) {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if i := bytes.LastIndexByte(body, '}'); i > 0 {
			extra := make([]byte, 0, 48)
			if st.ignoreEOS {
				extra = append(extra, `,"ignore_eos":true`...)
			}
			if st.minTokens > 0 {
				extra = strconv.AppendInt(append(extra, `,"min_tokens":`...), int64(st.minTokens), 10)
			}
			body = append(body[:i], append(extra, '}')...)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := d.c.Do(req)
	if err != nil || st == nil {
		return resp, err
	}
	resp.Body = &drainBody{ReadCloser: resp.Body, st: st}
	return resp, nil
}

var doneMark = []byte("data: [DONE]")

// drainBody notices "[DONE]" as bytes pass through and drains the tail on Close.
type drainBody struct {
	io.ReadCloser
	st   *reqState
	tail []byte // last bytes of the previous read, for a marker split across reads
}

func (b *drainBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && !b.st.sawDone {
		if bytes.Contains(p[:n], doneMark) {
			b.st.sawDone = true
		} else if len(b.tail) > 0 {
			join := append(b.tail, p[:min(n, len(doneMark))]...)
			b.st.sawDone = bytes.Contains(join, doneMark)
		}
		k := min(n, len(doneMark)-1)
		b.tail = append(b.tail[:0], p[n-k:n]...)
	}
	return n, err
}

func (b *drainBody) Close() error {
	if b.st.sawDone {
		io.Copy(io.Discard, io.LimitReader(b.ReadCloser, 64<<10))
	}
	return b.ReadCloser.Close()
}

// withState attaches the per-request state to ctx.
func withState(ctx context.Context, st *reqState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}
