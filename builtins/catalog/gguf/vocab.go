package gguf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The Llama-3 vocabulary comes from ollama's Go module, which the tests build the engine from
// anyway, so no model download is needed: its tokenizer test data is the real Llama 3.2 BPE.
const (
	OllamaModule  = "github.com/ollama/ollama"
	OllamaVersion = "v0.6.5"
	// VocabSubdir is the vocabulary's folder inside the module.
	VocabSubdir = "model/testdata/llama3.2"
)

// Token types of tokenizer.ggml.token_type (llama.h's llama_token_type).
const (
	TokenNormal  int32 = 1
	TokenControl int32 = 3
)

// Vocab is a GPT-2 style byte-level BPE vocabulary as GGUF stores it.
type Vocab struct {
	Tokens []string // by id
	Types  []int32  // by id: TokenNormal or TokenControl
	Merges []string // "left right", highest priority first
	BOS    uint32
	EOS    uint32
	EOT    uint32 // end of turn; llama.cpp stops on it as on EOS
}

// Llama3Specials are the 256 special tokens Llama 3.1/3.2 append after the 128,000 BPE tokens, in
// id order from 128000.
func Llama3Specials() []string {
	s := []string{
		"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
		"<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
		"<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
	}
	for i := len(s); i < 256; i++ {
		s = append(s, fmt.Sprintf("<|reserved_special_token_%d|>", i-8))
	}
	return s
}

// LoadLlama3Vocab reads encoder.json (token -> id, ids 0..n-1 with none missing) and vocab.bpe
// (one merge per line, no header; every line is kept, '#' ones too, since 233 real merges start
// with '#') from dir, and appends the Llama-3 special tokens as control tokens from id n.
// BOS is <|begin_of_text|>, EOS <|end_of_text|>, EOT <|eot_id|>.
func LoadLlama3Vocab(dir string) (Vocab, error) {
	data, err := os.ReadFile(filepath.Join(dir, "encoder.json"))
	if err != nil {
		return Vocab{}, fmt.Errorf("gguf: vocabulary: %w", err)
	}
	var enc map[string]int
	if err := json.Unmarshal(data, &enc); err != nil {
		return Vocab{}, fmt.Errorf("gguf: vocabulary: %s: %w", filepath.Join(dir, "encoder.json"), err)
	}
	specials := Llama3Specials()
	n := len(enc)
	v := Vocab{Tokens: make([]string, n, n+len(specials)), Types: make([]int32, n, n+len(specials))}
	seen := make([]bool, n)
	for tok, id := range enc {
		if id < 0 || id >= n || seen[id] {
			return Vocab{}, fmt.Errorf("gguf: vocabulary: %s: token %q has id %d; want each id 0..%d once", filepath.Join(dir, "encoder.json"), tok, id, n-1)
		}
		seen[id] = true
		v.Tokens[id], v.Types[id] = tok, TokenNormal
	}
	for _, s := range specials {
		v.Tokens = append(v.Tokens, s)
		v.Types = append(v.Types, TokenControl)
	}
	v.BOS, v.EOS, v.EOT = uint32(n), uint32(n+1), uint32(n+9)

	path := filepath.Join(dir, "vocab.bpe")
	f, err := os.Open(path)
	if err != nil {
		return Vocab{}, fmt.Errorf("gguf: vocabulary: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		m := sc.Text()
		// llama.cpp splits a merge at its first space after the first byte.
		if i := strings.IndexByte(m, ' '); i < 1 || i == len(m)-1 {
			return Vocab{}, fmt.Errorf("gguf: vocabulary: %s:%d: want a merge \"left right\", got %q", path, line, m)
		}
		v.Merges = append(v.Merges, m)
	}
	if err := sc.Err(); err != nil {
		return Vocab{}, fmt.Errorf("gguf: vocabulary: %s: %w", path, err)
	}
	return v, nil
}

// LocateVocab returns the folder of the Llama-3 vocabulary inside ollama's module: from the Go
// module cache, or else downloaded there by `go mod download` (the module proxy is the only
// network it uses).
func LocateVocab(ctx context.Context) (string, error) {
	return locateVocab(ctx, func(ctx context.Context, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		// Outside any module, so no go.mod is consulted or touched.
		cmd.Dir = os.TempDir()
		cmd.Env = append(os.Environ(), "GO111MODULE=on")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return out, err
	})
}

// goRunner runs the go command with args and returns its standard output.
type goRunner func(ctx context.Context, args ...string) ([]byte, error)

func locateVocab(ctx context.Context, run goRunner) (string, error) {
	const hint = "; pass --vocab DIR (a folder with encoder.json and vocab.bpe)"
	mod := OllamaModule + "@" + OllamaVersion
	out, err := run(ctx, "env", "GOMODCACHE")
	if err != nil {
		return "", fmt.Errorf("gguf: finding the Go module cache (go env GOMODCACHE): %w%s", err, hint)
	}
	if cache := strings.TrimSpace(string(out)); cache != "" {
		if dir := filepath.Join(cache, filepath.FromSlash(mod), VocabSubdir); hasVocab(dir) {
			return dir, nil
		}
	}
	out, err = run(ctx, "mod", "download", "-json", mod)
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil && err == nil {
		err = fmt.Errorf("reading its output: %w", jerr)
	}
	if info.Error != "" {
		err = errors.New(info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("gguf: go mod download %s: %w%s", mod, err, hint)
	}
	dir := filepath.Join(info.Dir, VocabSubdir)
	if info.Dir == "" || !hasVocab(dir) {
		return "", fmt.Errorf("gguf: go mod download %s: no encoder.json and vocab.bpe in %q%s", mod, dir, hint)
	}
	return dir, nil
}

func hasVocab(dir string) bool {
	for _, f := range []string{"encoder.json", "vocab.bpe"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}
