package gguf

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// small is a model whose file is mostly the vocabulary: fast to write and read.
var small = TinyLlama{Dim: 16, Layers: 2, Heads: 4, KVHeads: 2, FFN: 24, Context: 256, Seed: 7}

func writeTiny(t *testing.T, c TinyLlama) ([]byte, *File) {
	t.Helper()
	var buf bytes.Buffer
	n, err := c.Write(&buf, realVocab(t))
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("Write = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	f, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), f
}

// TestTinyLlamaFile checks what llama.cpp's loader insists on: the metadata keys with their exact
// types, every tensor with its shape (and no other), and a file that ends with the last tensor.
func TestTinyLlamaFile(t *testing.T) {
	file, f := writeTiny(t, small)
	m, err := f.Model()
	want := Model{Architecture: "llama", Name: "starlab tiny llama d16 l2, random weights seed 7", ContextLength: 256,
		BlockCount: 2, EmbeddingLength: 16, FeedForwardLength: 24, HeadCount: 4, HeadCountKV: 2, VocabSize: 128256}
	if err != nil || m != want {
		t.Errorf("Model = %+v, %v\nwant %+v", m, err, want)
	}
	for _, kv := range []KV{
		{"general.architecture", "llama"}, {"general.file_type", uint32(1)},
		{"llama.context_length", uint32(256)}, {"llama.embedding_length", uint32(16)},
		{"llama.block_count", uint32(2)}, {"llama.feed_forward_length", uint32(24)},
		{"llama.attention.head_count", uint32(4)}, {"llama.attention.head_count_kv", uint32(2)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)}, {"llama.rope.dimension_count", uint32(4)},
		{"llama.rope.freq_base", float32(500000)}, {"llama.vocab_size", uint32(128256)},
		{"tokenizer.ggml.model", "gpt2"}, {"tokenizer.ggml.pre", "llama-bpe"},
		{"tokenizer.ggml.bos_token_id", uint32(128000)}, {"tokenizer.ggml.eos_token_id", uint32(128001)},
		{"tokenizer.ggml.eot_token_id", uint32(128009)},
	} {
		if got, ok := f.Get(kv.Key); !ok || got != kv.Value {
			t.Errorf("%s = %T %v, want %T %v", kv.Key, got, got, kv.Value, kv.Value)
		}
	}
	toks, _ := f.Get("tokenizer.ggml.tokens")
	types, _ := f.Get("tokenizer.ggml.token_type")
	merges, _ := f.Get("tokenizer.ggml.merges")
	v := realVocab(t)
	if !reflect.DeepEqual(toks, v.Tokens) || !reflect.DeepEqual(types, v.Types) || !reflect.DeepEqual(merges, v.Merges) {
		t.Errorf("tokens %T, types %T, merges %T: not the vocabulary written", toks, types, merges)
	}
	if tt, _ := types.([]int32); len(tt) != 128256 || tt[128000] != TokenControl || tt[128255] != TokenControl || tt[127999] != TokenNormal {
		t.Errorf("token types: %d of them, not control from 128000", len(tt))
	}

	// llama.cpp's LLM_ARCH_LLAMA tensors, ne[0] first; it rejects any other.
	shapes := map[string][]uint64{"token_embd.weight": {16, 128256}, "output.weight": {16, 128256}, "output_norm.weight": {16}}
	for i := range 2 {
		for name, dims := range map[string][]uint64{
			"attn_norm": {16}, "attn_q": {16, 16}, "attn_k": {16, 8}, "attn_v": {16, 8}, "attn_output": {16, 16},
			"ffn_norm": {16}, "ffn_gate": {16, 24}, "ffn_up": {16, 24}, "ffn_down": {24, 16},
		} {
			shapes[fmt.Sprintf("blk.%d.%s.weight", i, name)] = dims
		}
	}
	if len(f.Tensors) != len(shapes) {
		t.Errorf("%d tensors, want %d", len(f.Tensors), len(shapes))
	}
	for _, ti := range f.Tensors {
		wantType := F16
		if len(ti.Dims) == 1 {
			wantType = F32
		}
		if !reflect.DeepEqual(ti.Dims, shapes[ti.Name]) || ti.Type != wantType {
			t.Errorf("tensor %s: %v %s, want %v %s", ti.Name, ti.Dims, ti.Type, shapes[ti.Name], wantType)
		}
	}

	// The file ends exactly at the last tensor's end (ollama's create reads anything after it as
	// another model), which is also on the alignment, so no reader expects padding there.
	last := f.Tensors[len(f.Tensors)-1]
	size, _ := last.Size()
	end, err := f.End()
	if err != nil || end != int64(len(file)) || f.DataOffset+int64(last.Offset+size) != end || end%DefaultAlignment != 0 {
		t.Errorf("file %d bytes; End %d, %v; last tensor %s ends at %d", len(file), end, err, last.Name, f.DataOffset+int64(last.Offset+size))
	}
	// Control tokens (and only they) have zero output rows: top-k sampling never ends a request.
	out, embd := tensorData(t, file, f, "output.weight"), tensorData(t, file, f, "token_embd.weight")
	row := func(data []byte, id int) []byte { return data[id*16*2 : (id+1)*16*2] }
	zero := make([]byte, 16*2)
	for _, id := range []int{0, 1917, 127999, 128000, 128001, 128009, 128255} {
		isControl := id >= 128000
		if bytes.Equal(row(out, id), zero) != isControl || bytes.Equal(row(embd, id), zero) {
			t.Errorf("token %d: output row %x, embedding row %x; want a zero output row only for control tokens", id, row(out, id), row(embd, id))
		}
	}
	// Norms are ones.
	at := f.DataOffset + int64(last.Offset)
	for i := range 16 {
		if x := math.Float32frombits(binary.LittleEndian.Uint32(file[at+4*int64(i):])); x != 1 {
			t.Fatalf("%s[%d] = %g, want 1", last.Name, i, x)
		}
	}
}

// tensorData returns a tensor's bytes in a written file.
func tensorData(t *testing.T, file []byte, f *File, name string) []byte {
	t.Helper()
	for _, ti := range f.Tensors {
		if ti.Name == name {
			size, _ := ti.Size()
			at := f.DataOffset + int64(ti.Offset)
			return file[at : at+int64(size)]
		}
	}
	t.Fatalf("no tensor %s", name)
	return nil
}

// TestTinyLlamaDeterministic: a seed is a file; another seed gives other weights, of the intended
// scale (no NaN or Inf that would make the engine emit garbage ids or nothing).
func TestTinyLlamaDeterministic(t *testing.T) {
	a, fa := writeTiny(t, small)
	b, _ := writeTiny(t, small)
	if !bytes.Equal(a, b) {
		t.Fatal("the same config and seed wrote different files")
	}
	other := small
	other.Seed = 8
	c, fc := writeTiny(t, other)
	for _, name := range []string{"token_embd.weight", "output.weight", "blk.1.ffn_down.weight"} {
		wa, wc := tensorData(t, a, fa, name), tensorData(t, c, fc, name)
		if bytes.Equal(wa, wc) {
			t.Errorf("%s: seeds 7 and 8 wrote the same weights", name)
		}
		if name == "output.weight" {
			continue // its zero rows (control tokens) bias the statistics
		}
		var sum, sq float64
		n := len(wa) / 2
		for i := range n {
			x := float64(half(binary.LittleEndian.Uint16(wa[2*i:])))
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("%s[%d] = %g", name, i, x)
			}
			sum += x
			sq += x * x
		}
		mean, std := sum/float64(n), math.Sqrt(sq/float64(n))
		// Four standard errors of each estimate.
		if math.Abs(mean) > 4*weightStd/math.Sqrt(float64(n)) || math.Abs(std-weightStd) > 4*weightStd/math.Sqrt(2*float64(n)) {
			t.Errorf("%s: mean %.4f std %.4f over %d weights, want about 0 and %g", name, mean, std, n, weightStd)
		}
	}
	if !bytes.Equal(tensorData(t, a, fa, "blk.0.attn_norm.weight"), tensorData(t, c, fc, "blk.0.attn_norm.weight")) {
		t.Error("norms differ between seeds; they are all ones")
	}
	// Weights are drawn per tensor: more layers leave the first layer's weights as they were.
	deeper := small
	deeper.Layers = 3
	d, fd := writeTiny(t, deeper)
	if !bytes.Equal(tensorData(t, a, fa, "blk.1.attn_q.weight"), tensorData(t, d, fd, "blk.1.attn_q.weight")) {
		t.Error("adding a layer changed blk.1's weights")
	}
}

func TestTinyLlamaValidate(t *testing.T) {
	for _, tc := range []struct {
		change func(*TinyLlama)
		want   string
	}{
		{func(c *TinyLlama) {}, ""},
		{func(c *TinyLlama) { *c = DefaultTiny() }, ""},
		{func(c *TinyLlama) { c.Dim = 0 }, "--dim 0: want 1 to 65536"},
		{func(c *TinyLlama) { c.Layers = -1 }, "--layers -1"},
		{func(c *TinyLlama) { c.Heads = 0 }, "--heads 0"},
		{func(c *TinyLlama) { c.KVHeads = 0 }, "--kv-heads 0"},
		{func(c *TinyLlama) { c.FFN = 0 }, "--ffn 0"},
		{func(c *TinyLlama) { c.Context = 0 }, "--ctx 0"},
		{func(c *TinyLlama) { c.Context = 1 << 31 }, "--ctx 2147483648"},
		{func(c *TinyLlama) { c.Dim = 20 }, "--dim 20: want a multiple of 8"},
		{func(c *TinyLlama) { c.Heads = 3 }, "--heads 3 does not divide --dim 16"},
		{func(c *TinyLlama) { c.Dim, c.Heads = 24, 8 }, "head size 3: want an even head size"},
		{func(c *TinyLlama) { c.KVHeads = 3 }, "--kv-heads 3 does not divide --heads 4"},
		{func(c *TinyLlama) { c.KVHeads = 8 }, "--kv-heads 8 does not divide --heads 4"},
	} {
		c := small
		tc.change(&c)
		err := c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate = %v, want %q", c, err, tc.want)
		}
		if tc.want != "" {
			if _, werr := c.Write(&bytes.Buffer{}, Vocab{}); werr == nil || werr.Error() != err.Error() {
				t.Errorf("%+v: Write = %v, want the validation error", c, werr)
			}
		}
	}
	v := realVocab(t)
	for _, tc := range []struct {
		name   string
		change func(*Vocab)
		want   string
	}{
		{"no tokens", func(v *Vocab) { *v = Vocab{Merges: v.Merges} }, "0 tokens"},
		{"types", func(v *Vocab) { v.Types = v.Types[:10] }, "128256 tokens and 10 token types"},
		{"no merges", func(v *Vocab) { v.Merges = nil }, "no merges"},
		{"eos", func(v *Vocab) { v.EOS = 200000 }, "EOS 200000"},
	} {
		bad := v
		tc.change(&bad)
		if _, err := small.Write(&bytes.Buffer{}, bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Write = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestWriteTiny is what the CLI and the end-to-end tests call: an atomic file of the size
// reported, readable, and no temporary left behind when it fails.
func TestWriteTiny(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, small.FileName())
	n, err := WriteTiny(context.Background(), path, small, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != n || st.Mode().Perm() != 0o644 {
		t.Fatalf("wrote %d bytes; stat = %v, %v", n, st, err)
	}
	f, err := ReadFile(path)
	if end, eerr := f.End(); err != nil || eerr != nil || end != n {
		t.Errorf("ReadFile: %v; End %d, %v; want %d", err, end, eerr, n)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries in the folder, want only the model", len(entries))
	}
	for _, tc := range []struct {
		name, path, vocab string
		c                 TinyLlama
		want              string
	}{
		{"bad config", filepath.Join(dir, "x.gguf"), "", TinyLlama{Dim: 12, Layers: 1, Heads: 1, KVHeads: 1, FFN: 8, Context: 8}, "--dim 12"},
		{"bad vocab dir", filepath.Join(dir, "x.gguf"), dir, small, "encoder.json"},
		{"no such folder", filepath.Join(dir, "no", "x.gguf"), "", small, "no such file or directory"},
	} {
		if _, err := WriteTiny(context.Background(), tc.path, tc.c, tc.vocab); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: WriteTiny = %v, want %q", tc.name, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries in the folder after the failures, want only the model", len(entries))
	}
	if got := DefaultTiny().FileName(); got != "tiny-llama-d8-l1-h2-kv2-ffn32-ctx4096-seed1.gguf" {
		t.Errorf("FileName = %q", got)
	}
}
