package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"starlab/runtime/paramerr"
)

// ollamaEngine is ollama (v0.6.5 read): `ollama serve` configured by environment variables
// (envconfig/config.go), then `ollama create NAME -f Modelfile` from a local .gguf — never a pull —
// and a load, because ollama loads models lazily on the first request. llama models run on its
// llama.cpp runner, a child process in serve's process group whose start-up lines ollama prints.
type ollamaEngine struct{}

func (ollamaEngine) Name() string { return EngineOllama }

func (ollamaEngine) Executable() Executable {
	return Executable{Default: "ollama", Env: "STARLAB_OLLAMA",
		Install: "run scripts/get-ollama.sh and set STARLAB_OLLAMA (export STARLAB_OLLAMA=$(scripts/get-ollama.sh)), or put ollama on PATH"}
}

func (ollamaEngine) Check(s *Spec) error {
	if len(s.ExtraArgs) > 0 {
		return paramerr.New("extra_args", "ollama serve takes no arguments: set OLLAMA_* variables with env={...}")
	}
	return checkSlotEngine(s, EngineOllama)
}

// OllamaDefaultContext is the num_ctx written into the Modelfile when max_model_len is not given:
// ollama's own default (OLLAMA_CONTEXT_LENGTH), written out so the capacity does not depend on it.
const OllamaDefaultContext = 2048

// Command is `ollama serve` with its state (models, HOME with the key ollama writes) in dir, the
// models kept loaded (OLLAMA_KEEP_ALIVE=-1), parallel slots (OLLAMA_NUM_PARALLEL) and no pruning
// of blobs at start-up.
func (ollamaEngine) Command(prefix []string, spec Spec, host string, port int, dir string) Command {
	models := filepath.Join(dir, "models")
	env := map[string]string{
		"OLLAMA_HOST":         net.JoinHostPort(host, strconv.Itoa(port)),
		"OLLAMA_MODELS":       models,
		"HOME":                dir,
		"OLLAMA_KEEP_ALIVE":   "-1",
		"OLLAMA_NUM_PARALLEL": strconv.Itoa(spec.MaxNumSeqs),
		"OLLAMA_NOPRUNE":      "1",
	}
	return Command{Argv: append(append([]string(nil), prefix...), "serve"), Env: envList(env), Dirs: []string{dir, models}}
}

// ollamaName is the name `ollama create` gives the model: the file's name, lower case, in the
// characters ollama's names allow.
func ollamaName(model string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(ggufName(model)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.TrimLeft(b.String(), "-_.")
	if name == "" {
		name = "model"
	}
	return name
}

// ServedName: /v1/models lists "NAME:latest", which matchModel finds for NAME.
func (ollamaEngine) ServedName(spec Spec) string { return ollamaName(spec.Model) }

// Modelfile is what `ollama create` reads: the absolute path of the .gguf, the raw template (so
// /v1/completions prompts reach the model as written: a chat template would wrap them) and the
// per-slot context.
func Modelfile(spec Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "FROM %s\nTEMPLATE {{ .Prompt }}\n", spec.Model)
	switch {
	case spec.MaxModelLen > 0:
		fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", spec.MaxModelLen)
	case spec.Env["OLLAMA_CONTEXT_LENGTH"] == "":
		fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", OllamaDefaultContext)
	}
	return b.String()
}

// PostStart creates the model from the Modelfile (the CLI talks to the server at OLLAMA_HOST and
// uploads the file into OLLAMA_MODELS), then loads it with keep_alive -1 so the first measured
// request does not pay for the load.
func (ollamaEngine) PostStart(ctx context.Context, s *Started) error {
	name := ollamaName(s.Spec.Model)
	mf := filepath.Join(s.Dir, "Modelfile")
	if err := os.WriteFile(mf, []byte(Modelfile(s.Spec)), 0o644); err != nil {
		return err
	}
	argv := append(append([]string(nil), s.Prefix...), "create", name, "-f", mf)
	fmt.Fprintf(s.Log, "# starlab: %q\n", argv)
	if err := runHelper(ctx, argv, s.Env, s.Log); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("ollama create %s: %v", name, err)
	}
	fmt.Fprintf(s.Log, "# starlab: loading %s (POST /api/generate keep_alive=-1)\n", name)
	body, _ := json.Marshal(map[string]any{"model": name, "keep_alive": -1})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/generate", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{}).Do(req) // a load takes as long as it takes: ctx bounds it
	if err != nil {
		return fmt.Errorf("loading %s: %v", name, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("loading %s: HTTP %d: %s", name, resp.StatusCode, strings.TrimSpace(string(out)))
	}
	return nil
}

// Ready: GET / answers "Ollama is running" once serve listens (no model is loaded yet).
func (ollamaEngine) Ready(ctx context.Context, hc *http.Client, url string) error {
	status, body, err := fetch(ctx, hc, url+"/", 1<<10)
	if err != nil {
		return err
	}
	if status != http.StatusOK || !strings.Contains(string(body), "Ollama is running") {
		return fmt.Errorf("%s/: HTTP %d %q, want \"Ollama is running\"", url, status, body)
	}
	return nil
}

// Version: GET /api/version ({"version":"0.6.5"}; "0.0.0" from a go install without -ldflags).
func (ollamaEngine) Version(ctx context.Context, hc *http.Client, url, _ string) string {
	return versionField(ctx, hc, url+"/api/version", "version")
}

// Capacity: the llama.cpp runner's lines (n_seq_max, n_ctx, n_ctx_per_seq, KV self size), or
// ollama's own "starting llama server" command line.
func (ollamaEngine) Capacity(log string) *KVCache { return parseLlamaCpp(log) }

// Metrics: ollama has no /metrics route (it answers 404).
func (ollamaEngine) Metrics() MetricNames { return MetricNames{} }
