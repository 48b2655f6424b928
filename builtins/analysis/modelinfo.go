package analysis

import "starlab/builtins/catalog"

// ModelInfo is model_info's answer: the catalog shape plus the derived sizes
// a plan usually wants.
type ModelInfo struct {
	catalog.Model
	GlobalLayers    int     // full-attention layers (Layers unless sliding-window)
	KVBytesPerToken int64   // 16-bit KV, all layers
	WeightBytes     float64 // in the checkpoint's dtype or its own quantization
	WeightGiB       float64
}

// ModelInfoOf resolves a catalog name, Hugging Face repo id or config.json
// path (a path that exists wins).
func ModelInfoOf(nameOrPath string) (ModelInfo, error) {
	m, err := catalog.ResolveModel(nameOrPath)
	if err != nil {
		return ModelInfo{}, err
	}
	w, err := m.QuantizedWeightBytes(m.Quantization)
	if err != nil {
		return ModelInfo{}, err
	}
	return ModelInfo{Model: m, GlobalLayers: m.GlobalLayers(), KVBytesPerToken: m.KVBytesPerToken(2),
		WeightBytes: w, WeightGiB: w / catalog.GiB}, nil
}
