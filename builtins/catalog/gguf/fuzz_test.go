package gguf

// FuzzRead: the GGUF header reader (models users point llama.cpp and ollama at) on any bytes.

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead: any file's header reads or fails with a short error that says it is GGUF and, from
// ReadFile, names the file; a header that reads has an aligned data offset past the header, a
// model and an end; its metadata written back reads back the same.
func FuzzRead(f *testing.F) {
	var tiny bytes.Buffer
	kvs := []KV{{"general.architecture", "llama"}, {"general.name", "Tiny"}, {"general.alignment", uint32(64)},
		{"llama.context_length", uint32(2048)}, {"llama.block_count", uint32(2)}, {"llama.embedding_length", uint32(64)},
		{"llama.attention.head_count", uint32(4)}, {"llama.attention.head_count_kv", uint64(2)},
		{"tokenizer.ggml.tokens", []string{"<s>", "</s>", "Ġa"}}, {"tokenizer.ggml.scores", []float32{0, 0, -1}},
		{"tokenizer.ggml.token_type", []int32{3, 3, 1}}, {"f64", math.Inf(-1)}, {"t", true}, {"i8", int8(-1)}}
	if _, err := Write(&tiny, kvs, []Tensor{bytesTensor("token_embd.weight", F32, seq(12, 1), 3),
		bytesTensor("blk.0.attn_q.weight", F16, seq(8, 9), 2, 2), bytesTensor("q", Q8_0, seq(34, 3), 32)}); err != nil {
		f.Fatal(err)
	}
	f.Add(tiny.Bytes())
	f.Add(tiny.Bytes()[:200])
	var v2 bytes.Buffer
	if _, err := Write(&v2, []KV{{"general.architecture", "qwen2"}, {"qwen2.vocab_size", uint32(151936)}}, nil); err != nil {
		f.Fatal(err)
	}
	b := v2.Bytes()
	b[4] = 2 // version 2 has the same layout
	f.Add(b)
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Add([]byte("GGML"))
	path := filepath.Join(f.TempDir(), "model.gguf")
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Read(bytes.NewReader(data))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, ferr := ReadFile(path)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("Read %v, ReadFile %v", err, ferr)
		}
		if err != nil {
			if len(err.Error()) > 400 { // a corrupt length must not put megabytes of file into the message
				t.Fatalf("error of %d bytes: %.200q...", len(err.Error()), err)
			}
			if !strings.HasPrefix(err.Error(), "gguf: ") || ferr.Error() != err.Error()+" ("+path+")" {
				t.Fatalf("errors %q and %q", err, ferr)
			}
			return
		}
		if g.Alignment == 0 || g.Alignment&(g.Alignment-1) != 0 || g.DataOffset < 24 ||
			uint64(g.DataOffset)%g.Alignment != 0 || g.DataOffset > int64(len(data))+int64(g.Alignment) {
			t.Fatalf("alignment %d, data offset %d of %d bytes", g.Alignment, g.DataOffset, len(data))
		}
		g.Model()
		if end, err := g.End(); err == nil && end < g.DataOffset {
			t.Fatalf("end %d before the data offset %d", end, g.DataOffset)
		}
		var w1, w2 bytes.Buffer
		if _, err := Write(&w1, g.KV, nil); err != nil {
			t.Fatalf("metadata that read does not write: %v", err)
		}
		g2, err := Read(bytes.NewReader(w1.Bytes()))
		if err != nil {
			t.Fatalf("metadata written back does not read: %v", err)
		}
		if _, err := Write(&w2, g2.KV, nil); err != nil || !bytes.Equal(w1.Bytes(), w2.Bytes()) {
			t.Fatalf("metadata changed on a round trip: %v", err)
		}
	})
}
