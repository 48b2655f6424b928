package gguf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// llama3 is the real vocabulary from ollama's module, located (and downloaded if absent) once.
var llama3 = sync.OnceValues(func() (Vocab, error) {
	dir, err := LocateVocab(context.Background())
	if err != nil {
		return Vocab{}, err
	}
	return LoadLlama3Vocab(dir)
})

func realVocab(t *testing.T) Vocab {
	t.Helper()
	v, err := llama3()
	if err != nil {
		t.Fatalf("the Llama-3 vocabulary of %s@%s: %v", OllamaModule, OllamaVersion, err)
	}
	return v
}

func TestLlama3Vocab(t *testing.T) {
	v := realVocab(t)
	if len(v.Tokens) != 128256 || len(v.Types) != 128256 || len(v.Merges) != 280147 {
		t.Fatalf("%d tokens, %d types, %d merges; want 128256, 128256, 280147", len(v.Tokens), len(v.Types), len(v.Merges))
	}
	if v.BOS != 128000 || v.EOS != 128001 || v.EOT != 128009 {
		t.Errorf("BOS %d EOS %d EOT %d, want 128000 128001 128009", v.BOS, v.EOS, v.EOT)
	}
	for _, tc := range []struct {
		id   int
		tok  string
		typ  int32
		name string
	}{
		{0, "!", TokenNormal, "first"}, {198, "Ċ", TokenNormal, "newline"}, {220, "Ġ", TokenNormal, "space"},
		{15339, "hello", TokenNormal, "ollama's test: hello world"}, {1917, "Ġworld", TokenNormal, "ollama's test: hello world"},
		{127999, "éĶ¦", TokenNormal, "last BPE token"},
		{128000, "<|begin_of_text|>", TokenControl, "BOS"}, {128001, "<|end_of_text|>", TokenControl, "EOS"},
		{128002, "<|reserved_special_token_0|>", TokenControl, ""}, {128004, "<|finetune_right_pad_id|>", TokenControl, ""},
		{128006, "<|start_header_id|>", TokenControl, ""}, {128007, "<|end_header_id|>", TokenControl, ""},
		{128008, "<|eom_id|>", TokenControl, ""}, {128009, "<|eot_id|>", TokenControl, "EOT"},
		{128010, "<|python_tag|>", TokenControl, ""}, {128011, "<|reserved_special_token_3|>", TokenControl, ""},
		{128255, "<|reserved_special_token_247|>", TokenControl, "last"},
	} {
		if v.Tokens[tc.id] != tc.tok || v.Types[tc.id] != tc.typ {
			t.Errorf("token %d (%s) = %q type %d, want %q type %d", tc.id, tc.name, v.Tokens[tc.id], v.Types[tc.id], tc.tok, tc.typ)
		}
	}
	if n := slices.Index(v.Types, TokenControl); n != 128000 {
		t.Errorf("the first control token is %d, want 128000", n)
	}
	hash := 0
	for _, m := range v.Merges {
		if strings.HasPrefix(m, "#") {
			hash++
		}
	}
	if v.Merges[0] != "Ġ Ġ" || v.Merges[558] != "# #" || hash != 233 {
		t.Errorf("merges[0] %q, merges[558] %q, %d starting with '#'; want \"Ġ Ġ\", \"# #\", 233 (every line kept)", v.Merges[0], v.Merges[558], hash)
	}
	seen := map[string]bool{}
	for _, tok := range v.Tokens {
		if seen[tok] {
			t.Fatalf("token %q twice", tok)
		}
		seen[tok] = true
	}
}

// TestLoadLlama3VocabFiles reads small made-up vocabularies: the specials follow the BPE tokens
// wherever they end, every merge line is kept, and broken files are errors that name the file.
func TestLoadLlama3VocabFiles(t *testing.T) {
	for _, tc := range []struct {
		name, encoder, merges string
		want                  string // error substring; "" for success
	}{
		{"ok", `{"a": 0, "b": 1, "ab": 2, "#": 3}`, "a b\n# #\n#a b\n", ""},
		{"ok without final newline", `{"a": 0}`, "a a", ""},
		{"missing encoder", "", "a b\n", "encoder.json"},
		{"missing merges", `{"a": 0}`, "", "vocab.bpe"},
		{"bad json", `{"a": 0,}`, "a b\n", "encoder.json"},
		{"id gap", `{"a": 0, "b": 2}`, "a b\n", `has id 2; want each id 0..1 once`},
		{"duplicate id", `{"a": 0, "b": 0}`, "a b\n", "want each id 0..1 once"},
		{"merge without space", `{"a": 0}`, "a b\nab\n", `vocab.bpe:2: want a merge "left right", got "ab"`},
		{"empty merge line", `{"a": 0}`, "a b\n\na b\n", `vocab.bpe:2`},
		{"merge with empty right", `{"a": 0}`, "a \n", `vocab.bpe:1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.encoder != "" {
				os.WriteFile(filepath.Join(dir, "encoder.json"), []byte(tc.encoder), 0o644)
			}
			if tc.merges != "" {
				os.WriteFile(filepath.Join(dir, "vocab.bpe"), []byte(tc.merges), 0o644)
			}
			v, err := LoadLlama3Vocab(dir)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error = %v, want it to contain %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := strings.Count(tc.encoder, ":")
			if len(v.Tokens) != n+256 || v.Tokens[n] != "<|begin_of_text|>" || v.BOS != uint32(n) || v.EOS != uint32(n+1) || v.EOT != uint32(n+9) {
				t.Errorf("%d tokens, token %d = %q, BOS %d EOS %d EOT %d", len(v.Tokens), n, v.Tokens[n], v.BOS, v.EOS, v.EOT)
			}
			if want := strings.Split(strings.TrimSuffix(tc.merges, "\n"), "\n"); !slices.Equal(v.Merges, want) {
				t.Errorf("merges %q, want %q", v.Merges, want)
			}
		})
	}
}

// TestLocateVocab drives the lookup with a fake go command: the module cache first, then
// `go mod download`, whose failures are errors that say how to pass the folder instead.
func TestLocateVocab(t *testing.T) {
	mkVocab := func(t *testing.T, module string) string {
		dir := filepath.Join(module, VocabSubdir)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "encoder.json"), []byte(`{}`), 0o644)
		os.WriteFile(filepath.Join(dir, "vocab.bpe"), nil, 0o644)
		return dir
	}
	mod := OllamaModule + "@" + OllamaVersion
	for _, tc := range []struct {
		name      string
		inCache   bool   // the module cache holds the vocabulary
		download  string // go mod download's stdout; "DIR" becomes a module folder with the vocabulary
		dlErr     error
		envErr    error
		want      string // "cache", "download" or an error substring
		downloads int
	}{
		{name: "in the module cache", inCache: true, want: "cache"},
		{name: "downloaded", download: `{"Path": "x", "Dir": "DIR"}`, want: "download", downloads: 1},
		{name: "download fails", download: `{"Path": "x", "Error": "module lookup disabled by GOPROXY=off"}`, dlErr: errors.New("exit status 1"),
			want: "go mod download " + mod + ": module lookup disabled by GOPROXY=off; pass --vocab DIR", downloads: 1},
		{name: "go missing", envErr: errors.New(`exec: "go": executable file not found in $PATH`), want: "go env GOMODCACHE"},
		{name: "download without output", dlErr: errors.New("signal: killed"), want: "signal: killed; pass --vocab", downloads: 1},
		{name: "module lacks the files", download: `{"Dir": "/nonexistent"}`, want: "no encoder.json and vocab.bpe", downloads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache, fresh := t.TempDir(), t.TempDir()
			cached := filepath.Join(cache, filepath.FromSlash(mod))
			if tc.inCache {
				mkVocab(t, cached)
			}
			downloaded := mkVocab(t, fresh)
			downloads := 0
			run := func(_ context.Context, args ...string) ([]byte, error) {
				switch strings.Join(args, " ") {
				case "env GOMODCACHE":
					return []byte(cache + "\n"), tc.envErr
				case "mod download -json " + mod:
					downloads++
					return []byte(strings.ReplaceAll(tc.download, "DIR", fresh)), tc.dlErr
				}
				t.Fatalf("unexpected go %q", args)
				return nil, nil
			}
			dir, err := locateVocab(context.Background(), run)
			switch tc.want {
			case "cache":
				if err != nil || dir != filepath.Join(cached, VocabSubdir) {
					t.Errorf("= %q, %v; want the cache's %q", dir, err, filepath.Join(cached, VocabSubdir))
				}
			case "download":
				if err != nil || dir != downloaded {
					t.Errorf("= %q, %v; want the download's %q", dir, err, downloaded)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error = %v, want it to contain %q", err, tc.want)
				}
			}
			if downloads != tc.downloads {
				t.Errorf("%d downloads, want %d", downloads, tc.downloads)
			}
		})
	}
}
