package catalog

import (
	"fmt"
	"strings"
)

// QuantBytesPerParam is the stored bytes per quantized weight. Weight-only 4-bit schemes store
// 0.5 bytes plus per-group scales and zeros (group 128 in fp16: ≈ 0.03 bytes per weight;
// bitsandbytes NF4 with 64-blocks and double quantization is about the same). FP8 and INT8 store
// one byte plus negligible per-channel scales. "" and "none" mean the checkpoint's 16-bit dtype.
func QuantBytesPerParam(method string) (float64, error) {
	switch strings.ToLower(strings.TrimSpace(method)) {
	case "", "none", "bf16", "bfloat16", "fp16", "float16":
		return 2, nil
	case "awq", "awq_marlin", "gptq", "gptq_marlin", "marlin", "bitsandbytes", "bnb", "nf4", "int4", "w4a16",
		"compressed-tensors", "gguf":
		return 0.53, nil
	case "fp8", "fbgemm_fp8", "modelopt", "int8", "w8a8", "experts_int8":
		return 1, nil
	}
	return 0, fmt.Errorf("catalog: unknown quantization %q (known: awq, gptq, bitsandbytes, fp8, int8)", method)
}

// QuantizedWeightBytes is the model's weight bytes under a quantization method. Weight-only
// 4-bit schemes keep embeddings and lm_head in 16-bit; fp8/int8 quantize the linear layers and
// also keep embeddings in 16-bit.
func (m Model) QuantizedWeightBytes(method string) (float64, error) {
	bpp, err := QuantBytesPerParam(method)
	if err != nil {
		return 0, err
	}
	dt := float64(m.DTypeBytes)
	if dt == 0 {
		dt = 2
	}
	if bpp >= dt {
		return float64(m.Params) * dt, nil
	}
	emb := m.EmbeddingParams
	if emb > m.Params {
		emb = m.Params
	}
	return float64(emb)*dt + float64(m.Params-emb)*bpp, nil
}
