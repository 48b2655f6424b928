package gguf

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// TinyLlama is the shape of a random-weight llama model. The weights are F16 draws of
// N(0, 0.02²) and the norms 1, so activations stay small and the engine samples varied real
// tokens instead of NaNs; control tokens' output rows are zero, so sampling does not end a
// request early. The same Seed gives a byte-identical file.
type TinyLlama struct {
	Dim     int // embedding width (llama.embedding_length)
	Layers  int // transformer blocks
	Heads   int // attention heads
	KVHeads int // key/value heads (grouped-query attention when fewer than Heads)
	FFN     int // feed-forward width
	Context int // trained context length the metadata states (llama.context_length)
	Seed    uint64
}

// DefaultTiny is the smallest shape Validate allows (with a 4×Dim feed-forward and two heads),
// 12 MB: two thirds is the vocabulary's strings and the rest its 8-wide embedding and output
// matrices. ollama 0.6.5 loads it and decodes ~250-400 tokens/s on 2 CPU cores, no slower than
// at Dim 64 (40 MB), since sampling over 128,256 tokens costs more than the layers.
func DefaultTiny() TinyLlama {
	return TinyLlama{Dim: 8, Layers: 1, Heads: 2, KVHeads: 2, FFN: 32, Context: 4096, Seed: 1}
}

// weightStd is the standard deviation of the random matrices, GPT-2's initialisation.
const weightStd = 0.02

// Validate checks the shape llama.cpp will accept. Errors name the command-line flag.
func (c TinyLlama) Validate() error {
	for _, f := range []struct {
		flag     string
		v, limit int
	}{
		{"--dim", c.Dim, 1 << 16}, {"--layers", c.Layers, 1024}, {"--heads", c.Heads, 1024},
		{"--kv-heads", c.KVHeads, 1024}, {"--ffn", c.FFN, 1 << 20}, {"--ctx", c.Context, 1 << 30},
	} {
		if f.v < 1 || f.v > f.limit {
			return fmt.Errorf("%s %d: want 1 to %d", f.flag, f.v, f.limit)
		}
	}
	switch {
	case c.Dim%8 != 0:
		// F32 norms of Dim elements then fill whole 32-byte blocks, so output_norm, written
		// last, ends the file on the alignment and no reader expects padding after it.
		return fmt.Errorf("--dim %d: want a multiple of 8", c.Dim)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("--heads %d does not divide --dim %d", c.Heads, c.Dim)
	case c.Dim/c.Heads%2 != 0:
		return fmt.Errorf("--dim %d / --heads %d = head size %d: want an even head size (RoPE rotates pairs)", c.Dim, c.Heads, c.Dim/c.Heads)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("--kv-heads %d does not divide --heads %d", c.KVHeads, c.Heads)
	}
	return nil
}

// FileName names the model by its shape and seed, for callers that cache it.
func (c TinyLlama) FileName() string {
	return fmt.Sprintf("tiny-llama-d%d-l%d-h%d-kv%d-ffn%d-ctx%d-seed%d.gguf", c.Dim, c.Layers, c.Heads, c.KVHeads, c.FFN, c.Context, c.Seed)
}

// Write streams the model with vocabulary v to w and returns the bytes written. Tensors are
// generated while they are written, one buffer at a time.
func (c TinyLlama) Write(w io.Writer, v Vocab) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	n := uint64(len(v.Tokens))
	switch {
	case n == 0 || len(v.Types) != len(v.Tokens):
		return 0, fmt.Errorf("gguf: vocabulary: %d tokens and %d token types", len(v.Tokens), len(v.Types))
	case len(v.Merges) == 0:
		return 0, fmt.Errorf("gguf: vocabulary: no merges (a gpt2 tokenizer needs them)")
	case uint64(max(v.BOS, v.EOS, v.EOT)) >= n:
		return 0, fmt.Errorf("gguf: vocabulary: BOS %d, EOS %d, EOT %d: want ids below %d", v.BOS, v.EOS, v.EOT, n)
	}
	dim, ff, head := uint64(c.Dim), uint64(c.FFN), uint64(c.Dim/c.Heads)
	kv := []KV{
		{"general.architecture", "llama"},
		{"general.name", fmt.Sprintf("starlab tiny llama d%d l%d, random weights seed %d", c.Dim, c.Layers, c.Seed)},
		{"general.file_type", uint32(1)}, // mostly F16
		{"llama.context_length", uint32(c.Context)},
		{"llama.embedding_length", uint32(c.Dim)},
		{"llama.block_count", uint32(c.Layers)},
		{"llama.feed_forward_length", uint32(c.FFN)},
		{"llama.attention.head_count", uint32(c.Heads)},
		{"llama.attention.head_count_kv", uint32(c.KVHeads)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.rope.dimension_count", uint32(head)},
		{"llama.rope.freq_base", float32(500000)},
		{"llama.vocab_size", uint32(n)},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "llama-bpe"},
		{"tokenizer.ggml.tokens", v.Tokens},
		{"tokenizer.ggml.token_type", v.Types},
		{"tokenizer.ggml.merges", v.Merges},
		{"tokenizer.ggml.bos_token_id", v.BOS},
		{"tokenizer.ggml.eos_token_id", v.EOS},
		{"tokenizer.ggml.eot_token_id", v.EOT},
	}
	// Control tokens get zero output rows, so their logit is exactly 0 while half the vocabulary
	// scores above it: top-k sampling (ollama's default k is 40) never picks one, and a request
	// runs to max_tokens instead of stopping at a random end-of-text (ollama has no ignore_eos).
	control := func(row uint64) bool { return v.Types[row] == TokenControl }
	// The vocabulary-sized matrices first and a norm last (see Validate).
	ts := []Tensor{c.matrix("token_embd.weight", dim, n, nil), c.matrix("output.weight", dim, n, control)}
	for i := range c.Layers {
		b := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			norm(b+"attn_norm.weight", dim),
			c.matrix(b+"attn_q.weight", dim, head*uint64(c.Heads), nil),
			c.matrix(b+"attn_k.weight", dim, head*uint64(c.KVHeads), nil),
			c.matrix(b+"attn_v.weight", dim, head*uint64(c.KVHeads), nil),
			c.matrix(b+"attn_output.weight", head*uint64(c.Heads), dim, nil),
			norm(b+"ffn_norm.weight", dim),
			c.matrix(b+"ffn_gate.weight", dim, ff, nil),
			c.matrix(b+"ffn_up.weight", dim, ff, nil),
			c.matrix(b+"ffn_down.weight", ff, dim, nil),
		)
	}
	ts = append(ts, norm("output_norm.weight", dim))
	return Write(w, kv, ts)
}

// WriteFile writes the model to path through a temporary file renamed into place, so a reader
// (or a cache check) never sees half a model. It returns the file's size.
func (c TinyLlama) WriteFile(path string, v Vocab) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, fmt.Errorf("gguf: %w", err)
	}
	n, err := c.Write(f, v)
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp's 0600 is for the half-written file only
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("gguf: writing %s: %w", path, err)
	}
	return n, nil
}

// WriteTiny is `starlab tiny-gguf`: it loads the Llama-3 vocabulary from vocabDir (found by
// LocateVocab when empty) and writes c's model to path, returning its size.
func WriteTiny(ctx context.Context, path string, c TinyLlama, vocabDir string) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	if vocabDir == "" {
		dir, err := LocateVocab(ctx)
		if err != nil {
			return 0, err
		}
		vocabDir = dir
	}
	v, err := LoadLlama3Vocab(vocabDir)
	if err != nil {
		return 0, err
	}
	return c.WriteFile(path, v)
}

// matrix is an F16 [cols, rows] tensor of random weights, drawn from a stream seeded by the
// model's seed and the tensor's name, so one tensor does not depend on the others. Rows for which
// zero (if not nil) is true are written as zeros.
func (c TinyLlama) matrix(name string, cols, rows uint64, zero func(row uint64) bool) Tensor {
	return Tensor{Name: name, Dims: []uint64{cols, rows}, Type: F16, Data: func(w io.Writer) error {
		h := fnv.New64a()
		h.Write([]byte(name))
		r := rand.New(rand.NewPCG(c.Seed, h.Sum64()))
		buf := make([]byte, 1<<16)
		for at, n := uint64(0), cols*rows; at < n; {
			b := buf[:2*min(n-at, uint64(len(buf)/2))]
			for i := 0; i < len(b); i += 2 {
				x := f16(float32(r.NormFloat64() * weightStd))
				if zero != nil && zero((at+uint64(i/2))/cols) {
					x = 0
				}
				binary.LittleEndian.PutUint16(b[i:], x)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
			at += uint64(len(b) / 2)
		}
		return nil
	}}
}

// norm is an F32 RMS-norm weight of ones (llama.cpp's converters keep norms in F32).
func norm(name string, n uint64) Tensor {
	return Tensor{Name: name, Dims: []uint64{n}, Type: F32, Data: func(w io.Writer) error {
		b := make([]byte, 4*n)
		for i := range n {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(1))
		}
		_, err := w.Write(b)
		return err
	}}
}

// f16 converts to IEEE half precision, rounding to nearest even.
func f16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b>>23&0xff == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp >= 0x1f:
		return sign | 0x7c00
	case exp <= 0: // subnormal half, or zero
		if exp < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint(14 - exp)
		m += 1<<(shift-1) - 1 + (m>>shift)&1
		return sign | uint16(m>>shift)
	}
	// A carry out of the mantissa bumps the exponent, up to Inf.
	v := uint32(exp)<<23 | mant
	v += 0xfff + (v>>13)&1
	if v >= 0x1f<<23 {
		return sign | 0x7c00
	}
	return sign | uint16(v>>13)
}
