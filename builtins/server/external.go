package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"starlab/runtime/paramerr"
)

// externalEngine is a server starlab attaches to and never starts or stops: any
// OpenAI-compatible URL.
type externalEngine struct{}

func (externalEngine) Name() string { return EngineExternal }

func (externalEngine) Check(s *Spec) error {
	if s.URL == "" {
		return paramerr.New("url", "backend \"external\" needs the server's url")
	}
	s.URL = strings.TrimRight(s.URL, "/")
	s.URL = strings.TrimSuffix(s.URL, "/v1")
	return nil
}

// Ready: the server lists its models.
func (externalEngine) Ready(ctx context.Context, hc *http.Client, url string) error {
	_, err := listModels(ctx, hc, url)
	return err
}

// Version asks each engine's own endpoint in turn and says which one answered: "ollama 0.6.5",
// "llama.cpp b4524-6171c9d2", "sglang 0.4.3", "vllm 0.11.0"; "" when none does.
func (externalEngine) Version(ctx context.Context, hc *http.Client, url, _ string) string {
	probes := []struct {
		engine, path, field string
	}{
		{EngineOllama, "/api/version", "version"},
		{EngineLlamaCpp, "/props", "build_info"},
		{EngineSGLang, "/get_server_info", "version"},
		{EngineVLLM, "/version", "version"},
	}
	for _, p := range probes {
		if v := versionField(ctx, hc, url+p.path, p.field); v != "" {
			return p.engine + " " + v
		}
	}
	return ""
}

func (externalEngine) Capacity(string) *KVCache { return nil }

// Metrics: an external server may be any engine; vLLM's names are the guess, and a sweep finds
// out whether /metrics exists.
// Metrics is empty: which engine serves an external URL is not known, so a sweep reads it under
// every engine's names.
func (externalEngine) Metrics() MetricNames { return MetricNames{} }

// listModels returns the model ids a server's /v1/models lists.
func listModels(ctx context.Context, hc *http.Client, url string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/models", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/v1/models: HTTP %d", url, resp.StatusCode)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%s/v1/models: %v", url, err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s/v1/models lists no model", url)
	}
	return ids, nil
}
