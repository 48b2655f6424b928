package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starlab/builtins/catalog/gguf"
)

// TestTinyGGUF runs `starlab tiny-gguf`: the flags become the model's metadata, the size printed is
// the file's, and bad flags are usage errors that name the flag.
func TestTinyGGUF(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	code, stdout, stderr := runCLI("tiny-gguf", "--out", out, "--dim", "16", "--layers", "3", "--heads", "2",
		"--kv-heads", "1", "--ffn", "32", "--ctx", "512", "--seed", "9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	st, err := os.Stat(out)
	if err != nil || !strings.HasPrefix(stdout, fmt.Sprintf("%s %d bytes", out, st.Size())) {
		t.Fatalf("stdout %q; stat %v", stdout, err)
	}
	f, err := gguf.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.Model()
	want := gguf.Model{Architecture: "llama", Name: "starlab tiny llama d16 l3, random weights seed 9", ContextLength: 512,
		BlockCount: 3, EmbeddingLength: 16, FeedForwardLength: 32, HeadCount: 2, HeadCountKV: 1, VocabSize: 128256}
	if m != want {
		t.Errorf("metadata %+v\nwant %+v", m, want)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 2, "--out PATH is required"},
		{[]string{"--out", out, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--out", out, "--dim", "20"}, 2, "--dim 20: want a multiple of 8"},
		{[]string{"--out", out, "--kv-heads", "3"}, 2, "--kv-heads 3 does not divide --heads 2"},
		{[]string{"--out", out, "--layers", "x"}, 2, `invalid value "x" for flag -layers`},
		{[]string{"--out", out, "--vocab", dir}, 1, "encoder.json"},
	} {
		code, _, stderr := runCLI(append([]string{"tiny-gguf"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("tiny-gguf %q: exit %d, want %d and %q in:\n%s", tc.args, code, tc.code, tc.want, stderr)
		}
	}
}
