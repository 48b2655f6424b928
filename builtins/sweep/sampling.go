package sweep

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Sampling is what a sweep adds to every request body: vLLM's sampling parameters and any other
// fields the engine accepts (extra_body), for experiments whose outcome depends on them.
type Sampling struct {
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
	// ExtraBody holds JSON values by field name, sent as given after the fields starlab writes.
	ExtraBody map[string]json.RawMessage `json:"extra_body,omitempty"`
}

// ReservedFields are the request fields starlab writes itself; extra_body may not set them (the
// sweep's own parameters do: max_tokens from the dataset, sampling from temperature, top_p and
// sampling_seed, ignore_eos and min_tokens from the output-length rule).
var ReservedFields = []string{"model", "prompt", "messages", "max_tokens", "stream", "stream_options",
	"ignore_eos", "min_tokens", "temperature", "top_p", "seed"}

// Validate checks the ranges vLLM enforces and the extra fields' names.
func (s *Sampling) Validate() error {
	if s.Temperature != nil && !(*s.Temperature >= 0) {
		return fmt.Errorf("temperature must be >= 0, got %v", *s.Temperature)
	}
	if s.TopP != nil && !(*s.TopP > 0 && *s.TopP <= 1) {
		return fmt.Errorf("top_p must be in (0, 1], got %v", *s.TopP)
	}
	for k, v := range s.ExtraBody {
		if slices.Contains(ReservedFields, k) {
			return fmt.Errorf("extra_body: %q is written by the sweep itself; set it with the sweep's own parameter", k)
		}
		if !json.Valid(v) {
			return fmt.Errorf("extra_body: %q is not valid JSON", k)
		}
	}
	return nil
}

// fragment renders the fields as they follow the body's own, sorted by name so a body is the
// same bytes in every run.
func (s *Sampling) fragment() []byte {
	if s == nil {
		return nil
	}
	var b []byte
	if s.Temperature != nil {
		b = strconv.AppendFloat(append(b, `,"temperature":`...), *s.Temperature, 'g', -1, 64)
	}
	if s.TopP != nil {
		b = strconv.AppendFloat(append(b, `,"top_p":`...), *s.TopP, 'g', -1, 64)
	}
	if s.Seed != nil {
		b = strconv.AppendInt(append(b, `,"seed":`...), *s.Seed, 10)
	}
	keys := make([]string, 0, len(s.ExtraBody))
	for k := range s.ExtraBody {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name, _ := json.Marshal(k)
		b = append(append(append(append(b, ','), name...), ':'), s.ExtraBody[k]...)
	}
	return b
}
