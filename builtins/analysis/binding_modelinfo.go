package analysis

import (
	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "model_info",
		Signature: `model_info(name_or_config_path)`,
		Doc: `Describes a model's shape and sizes from the catalog, a Hugging Face repo id or a config.json.

Returns a struct: name, layers, hidden, heads, kv_heads, head_dim, intermediate, vocab, params,
active_params, max_position_embeddings, dtype_bytes, sliding_window, sliding_window_pattern,
quantization, global_layers, kv_bytes_per_token (16-bit KV, all layers: 2·layers·kv_heads·head_dim·2),
weight_bytes, weight_gib.`,
		Fn: modelInfoFn,
	})
}

func modelInfoFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "name_or_config_path", &name); err != nil {
		return nil, err
	}
	m, err := ModelInfoOf(name)
	if err != nil {
		return nil, paramerr.Wrap("name_or_config_path", err)
	}
	return mkStruct(starlark.StringDict{
		"name": starlark.String(m.Name), "layers": starlark.MakeInt(m.Layers), "hidden": starlark.MakeInt(m.Hidden),
		"heads": starlark.MakeInt(m.Heads), "kv_heads": starlark.MakeInt(m.KVHeads), "head_dim": starlark.MakeInt(m.HeadDim),
		"intermediate": starlark.MakeInt(m.Intermediate), "vocab": starlark.MakeInt(m.Vocab),
		"params": starlark.MakeInt64(m.Params), "active_params": starlark.MakeInt64(m.ActiveParams),
		"max_position_embeddings": starlark.MakeInt(m.MaxPositionEmbeddings), "dtype_bytes": starlark.MakeInt(m.DTypeBytes),
		"sliding_window": starlark.MakeInt(m.SlidingWindow), "sliding_window_pattern": starlark.MakeInt(m.SlidingWindowPattern),
		"quantization": starlark.String(m.Quantization), "global_layers": starlark.MakeInt(m.GlobalLayers),
		"kv_bytes_per_token": starlark.MakeInt64(m.KVBytesPerToken), "weight_bytes": starlark.Float(m.WeightBytes),
		"weight_gib": starlark.Float(m.WeightGiB),
	}), nil
}
