package catalog

import (
	"fmt"
	"path/filepath"
	"strings"

	"starlab/builtins/catalog/gguf"
)

// LoadGGUF derives a Model from a GGUF file's header: the architecture's hyperparameters, and
// parameters and weight bytes counted from its tensors. A calibrated twin of a llama.cpp server
// needs the shape only for its KV accounting; the step time comes from the calibration.
func LoadGGUF(path string) (Model, error) {
	f, err := gguf.ReadFile(path)
	if err != nil {
		return Model{}, fmt.Errorf("catalog: %w", err)
	}
	g, err := f.Model()
	if err != nil {
		return Model{}, fmt.Errorf("catalog: %s: %w", path, err)
	}
	if g.BlockCount == 0 || g.EmbeddingLength == 0 || g.HeadCount == 0 {
		return Model{}, fmt.Errorf("catalog: %s: %s model without block_count, embedding_length or head_count", path, g.Architecture)
	}
	kvHeads := g.HeadCountKV
	if kvHeads == 0 {
		kvHeads = g.HeadCount
	}
	m := Model{Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), Layers: int(g.BlockCount),
		Hidden: int(g.EmbeddingLength), Heads: int(g.HeadCount), KVHeads: int(kvHeads),
		HeadDim: int(g.EmbeddingLength / g.HeadCount), Intermediate: int(g.FeedForwardLength), Vocab: int(g.VocabSize),
		MaxPositionEmbeddings: int(g.ContextLength), DTypeBytes: 2, Quantization: "gguf"}
	for _, t := range f.Tensors {
		m.Params += int64(t.Elements())
		if t.Name == "token_embd.weight" {
			m.EmbeddingParams = int64(t.Elements())
		}
	}
	m.ActiveParams = m.Params
	if m.MaxPositionEmbeddings == 0 {
		m.MaxPositionEmbeddings = 4096
	}
	return m, nil
}
