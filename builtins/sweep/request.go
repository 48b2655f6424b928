package sweep

import (
	"encoding/json"
	"strconv"
)

// body is the JSON request for item, byte for byte what go-openai marshalled before (field order,
// omitted empty fields, HTML-safe escaping), with vLLM's ignore_eos and min_tokens appended when
// the point forbids early stops, so the output length is the dataset's.
func (c *httpClient) body(item Item) []byte {
	prompt, _ := json.Marshal(item.Prompt)
	b := make([]byte, 0, len(prompt)+len(c.model)+160)
	b = append(b, `{"model":`...)
	b = append(b, c.model...)
	switch {
	case c.endpoint == EndpointChat && len(item.Messages) > 0:
		msgs, _ := json.Marshal(item.Messages)
		b = append(append(b, `,"messages":`...), msgs...)
	case c.endpoint == EndpointChat:
		b = append(b, `,"messages":[{"role":"user"`...)
		if item.Prompt != "" {
			b = append(append(b, `,"content":`...), prompt...)
		}
		b = append(b, "}]"...)
	default:
		b = append(append(b, `,"prompt":`...), prompt...)
	}
	if item.OutputTokens != 0 {
		b = strconv.AppendInt(append(b, `,"max_tokens":`...), int64(item.OutputTokens), 10)
	}
	b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	if c.ignoreEOS {
		b = append(b, `,"ignore_eos":true`...)
		if item.OutputTokens > 0 {
			b = strconv.AppendInt(append(b, `,"min_tokens":`...), int64(item.OutputTokens), 10)
		}
	}
	b = append(b, c.extra...)
	return append(b, '}')
}
