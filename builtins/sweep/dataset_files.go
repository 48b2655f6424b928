package sweep

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// LoadJSONL reads one JSON object per line: "prompt" (string, required) and optionally
// "output_len" or "output_tokens" (integer). Blank lines are skipped. num > 0 keeps the first num.
func LoadJSONL(path string, num int) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &Dataset{Kind: "jsonl", Path: path}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON object: %v", path, line, err)
		}
		var it Item
		raw, ok := obj["prompt"]
		if !ok {
			return nil, fmt.Errorf("%s:%d: field prompt: missing", path, line)
		}
		if err := json.Unmarshal(raw, &it.Prompt); err != nil || it.Prompt == "" {
			return nil, fmt.Errorf("%s:%d: field prompt: want a non-empty string", path, line)
		}
		for _, k := range []string{"output_len", "output_tokens"} {
			raw, ok := obj[k]
			if !ok {
				continue
			}
			if err := json.Unmarshal(raw, &it.OutputTokens); err != nil || it.OutputTokens < 1 {
				return nil, fmt.Errorf("%s:%d: field %s: want a positive integer, got %s", path, line, k, raw)
			}
		}
		it.PromptTokens = len(strings.Fields(it.Prompt))
		d.items = append(d.items, it)
		if num > 0 && len(d.items) == num {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	if len(d.items) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return d, nil
}

// LoadShareGPT reads a ShareGPT JSON file: an array of {"conversations": [{"from", "value"}...]}.
// The first human turn is the prompt and the word count of the first gpt turn is the output length.
// Conversations without both turns are skipped, as vLLM bench does. Errors name the file, the line
// of the offending element and the field.
func LoadShareGPT(path string, num int) (*Dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lineAt := func(off int64) int { return 1 + strings.Count(string(data[:min(int(off), len(data))]), "\n") }
	dec := json.NewDecoder(strings.NewReader(string(data)))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("%s:%d: want a JSON array of conversations", path, lineAt(dec.InputOffset()))
	}
	d := &Dataset{Kind: "sharegpt", Path: path}
	for dec.More() {
		start := dec.InputOffset()
		var conv struct {
			Conversations *[]struct {
				From  *string `json:"from"`
				Value *string `json:"value"`
			} `json:"conversations"`
		}
		if err := dec.Decode(&conv); err != nil {
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			switch {
			case errors.As(err, &te):
				return nil, fmt.Errorf("%s:%d: field %s: %v", path, lineAt(te.Offset), te.Field, err)
			case errors.As(err, &se):
				return nil, fmt.Errorf("%s:%d: %v", path, lineAt(se.Offset), err)
			case errors.Is(err, io.ErrUnexpectedEOF):
				return nil, fmt.Errorf("%s:%d: unexpected end of file", path, lineAt(int64(len(data))))
			}
			return nil, fmt.Errorf("%s:%d: %v", path, lineAt(start), err)
		}
		line := lineAt(start + 1)
		if conv.Conversations == nil {
			return nil, fmt.Errorf("%s:%d: field conversations: missing", path, line)
		}
		var prompt, answer *string
		for i, turn := range *conv.Conversations {
			if turn.From == nil || turn.Value == nil {
				return nil, fmt.Errorf("%s:%d: field conversations[%d]: want from and value", path, line, i)
			}
			switch *turn.From {
			case "human", "user":
				if prompt == nil {
					prompt = turn.Value
				}
			case "gpt", "assistant":
				if prompt != nil && answer == nil {
					answer = turn.Value
				}
			}
		}
		if prompt == nil || answer == nil || *prompt == "" {
			continue
		}
		out := len(strings.Fields(*answer))
		if out < 1 {
			continue
		}
		d.items = append(d.items, Item{Prompt: *prompt, PromptTokens: len(strings.Fields(*prompt)), OutputTokens: out})
		if num > 0 && len(d.items) == num {
			break
		}
	}
	if len(d.items) == 0 {
		return nil, fmt.Errorf("%s: no usable conversations", path)
	}
	return d, nil
}
