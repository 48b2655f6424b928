package catalog

import (
	"fmt"
	"strings"
)

// quantScheme is what a quantization method stores per quantized weight, as vLLM lays it out in
// GPU memory, and which weights it reaches.
type quantScheme struct {
	// bytes per quantized weight, scales and zero points included; 0 keeps the checkpoint dtype.
	bytes float64
	// tower: the method quantizes a multimodal model's vision tower too.
	tower bool
	// dequantizes: a multi-token matmul first expands the weight shard to 16-bit (bitsandbytes'
	// matmul_4bit); the Marlin-style kernels of the others read packed weights directly.
	dequantizes bool
}

// Bytes per weight of the layouts vLLM keeps after loading:
//   - bitsandbytes (model_loader/bitsandbytes_loader.py): 4-bit NF4 packed two to a byte, one
//     absmax per 64-weight block. In-flight quantization calls quantize_4bit with
//     compress_statistics, and the loader's dequantize_dq then turns the nested statistics back
//     into one float32 absmax per block "at the cost of increased memory usage" (pre-quantized
//     checkpoints go through the same step): 0.5 + 4/64 bytes.
//   - AWQ and GPTQ (and their Marlin repackings, compressed-tensors w4a16), group size 128:
//     0.5 bytes of packed weight, one fp16 scale and one 4-bit zero point per group of 128:
//     0.5 + 2/128 + 0.5/128 bytes (GPTQ's int32 g_idx adds 4 bytes per input channel, under a
//     thousandth of a byte per weight).
//   - fp8 and int8: one byte, with per-tensor or per-channel scales that round to nothing.
//   - gguf: Q4_K, 144 bytes per super-block of 256 weights.
const (
	bnb4Bytes   = 0.5 + 4.0/64
	group4Bytes = 0.5 + 2.0/128 + 0.5/128
	q4kBytes    = 144.0 / 256
)

func lookupQuant(method string) (quantScheme, error) {
	switch strings.ToLower(strings.TrimSpace(method)) {
	case "", "none", "bf16", "bfloat16", "fp16", "float16", "half", "auto":
		return quantScheme{}, nil
	case "bitsandbytes", "bnb", "nf4":
		// vLLM's BitsAndBytesConfig reaches every linear layer it is not told to skip, the
		// SigLIP tower's included (siglip.py makes its MLP quantizable for bitsandbytes).
		return quantScheme{bytes: bnb4Bytes, tower: true, dequantizes: true}, nil
	case "awq", "awq_marlin", "gptq", "gptq_marlin", "marlin", "int4", "w4a16", "compressed-tensors":
		return quantScheme{bytes: group4Bytes}, nil
	case "gguf":
		return quantScheme{bytes: q4kBytes}, nil
	case "fp8", "fbgemm_fp8", "modelopt", "int8", "w8a8", "experts_int8":
		return quantScheme{bytes: 1}, nil
	}
	return quantScheme{}, fmt.Errorf("catalog: unknown quantization %q (known: awq, gptq, bitsandbytes, fp8, int8, gguf)", method)
}

// QuantBytesPerParam is the stored bytes per quantized weight, scales and zero points included
// (see the layouts above); "" and "none" mean the checkpoint's 16-bit dtype.
func QuantBytesPerParam(method string) (float64, error) {
	q, err := lookupQuant(method)
	if err != nil {
		return 0, err
	}
	if q.bytes == 0 {
		return 2, nil
	}
	return q.bytes, nil
}

// QuantizedWeightBytes is the model's parameter bytes under a quantization method. Only linear
// layers are quantized: the input embedding and an untied lm_head (vLLM's VocabParallelEmbedding
// and ParallelLMHead, which none of these methods replace) and the norms (two hidden-sized
// vectors a layer, as ParseHFConfig counts them) stay in the checkpoint dtype. A
// vision tower stays 16-bit except under bitsandbytes, which also reaches its linear layers
// unless the checkpoint skips it; AWQ, GPTQ and fp8 checkpoints of multimodal models quantize
// the decoder only. (vLLM's online fp8 would also take the SigLIP attention projections, about
// 0.14 GB for Gemma 3 — not modelled.) Buffers such as the rotary table are not parameters: see
// LoadedBytes.
func (m Model) QuantizedWeightBytes(method string) (float64, error) {
	q, err := lookupQuant(method)
	if err != nil {
		return 0, err
	}
	dt := float64(m.DTypeBytes)
	if dt == 0 {
		dt = 2
	}
	if q.bytes == 0 || q.bytes >= dt {
		return float64(m.Params) * dt, nil
	}
	emb := clamp64(m.EmbeddingParams, 0, m.Params)
	tower := clamp64(m.Vision.Params, 0, m.Params-emb)
	towerLinear := clamp64(m.Vision.LinearParams, 0, tower)
	norms := clamp64(int64(2*m.Layers+1)*int64(m.Hidden), 0, m.Params-emb-tower)
	text := m.Params - emb - tower - norms
	b := float64(emb+norms+tower)*dt + float64(text)*q.bytes
	if q.tower && !m.QuantSkipsVision {
		b -= float64(towerLinear) * (dt - q.bytes)
	}
	return b, nil
}

// LoadedBytes is what vLLM's "Model loading took X GiB" counts: the parameters under the
// method plus the buffers built with the model (the rotary cos/sin table).
func (m Model) LoadedBytes(method string) (float64, error) {
	w, err := m.QuantizedWeightBytes(method)
	if err != nil {
		return 0, err
	}
	return w + m.RotaryCacheBytes(), nil
}

func clamp64(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
