package catalog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hfConfig is the subset of a Hugging Face config.json the simulator needs. Pointers tell
// "absent" from zero.
type hfConfig struct {
	ModelType         string      `json:"model_type"`
	Architectures     []string    `json:"architectures"`
	Layers            *int        `json:"num_hidden_layers"`
	Hidden            *int        `json:"hidden_size"`
	Heads             *int        `json:"num_attention_heads"`
	KVHeads           *int        `json:"num_key_value_heads"`
	HeadDim           *int        `json:"head_dim"`
	Intermediate      *int        `json:"intermediate_size"`
	Vocab             *int        `json:"vocab_size"`
	TorchDType        string      `json:"torch_dtype"`
	DType             string      `json:"dtype"`
	MaxPos            *int        `json:"max_position_embeddings"`
	TieEmbeddings     *bool       `json:"tie_word_embeddings"`
	SlidingWindow     *int        `json:"sliding_window"`
	SlidingPattern    *int        `json:"sliding_window_pattern"`
	NumExperts        *int        `json:"num_local_experts"`
	NumExpertsAlt     *int        `json:"num_experts"`
	ExpertsPerTok     *int        `json:"num_experts_per_tok"`
	MoEIntermediate   *int        `json:"moe_intermediate_size"`
	TextConfig        *hfConfig   `json:"text_config"`
	QuantizationConfg *quantBlock `json:"quantization_config"`
	RopeScaling       *ropeBlock  `json:"rope_scaling"`
	RopeLocalBaseFreq *float64    `json:"rope_local_base_freq"`
	VisionConfig      *visionCfg  `json:"vision_config"`
	MMTokensPerImage  *int        `json:"mm_tokens_per_image"`
}

type quantBlock struct {
	QuantMethod string `json:"quant_method"`
	// Modules a quantized checkpoint leaves unquantized (bitsandbytes' and AWQ's names).
	SkipModules    []string `json:"llm_int8_skip_modules"`
	NotConvert     []string `json:"modules_to_not_convert"`
	IgnoredModules []string `json:"ignore"`
}

type ropeBlock struct {
	RopeType       string   `json:"rope_type"`
	Type           string   `json:"type"`
	Factor         *float64 `json:"factor"`
	OriginalMaxPos *int     `json:"original_max_position_embeddings"`
}

// visionCfg is a ViT-style vision_config (SigLIP, CLIP).
type visionCfg struct {
	Hidden       *int `json:"hidden_size"`
	Intermediate *int `json:"intermediate_size"`
	Layers       *int `json:"num_hidden_layers"`
	ImageSize    *int `json:"image_size"`
	PatchSize    *int `json:"patch_size"`
}

// LoadHFConfig reads a Hugging Face config.json (or a directory holding one) and derives the
// model shape; multimodal configs (Gemma 3) are read from their text_config. The name is the
// directory's base name. Errors name the file and the missing or bad field.
func LoadHFConfig(path string) (Model, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Model{}, fmt.Errorf("catalog: %w", err)
	}
	name := filepath.Base(filepath.Dir(path))
	m, err := ParseHFConfig(data, name)
	if err != nil {
		return Model{}, fmt.Errorf("catalog: %s: %w", path, err)
	}
	return m, nil
}

// ParseHFConfig derives a Model from config.json bytes. Params are counted from the shapes
// (embeddings, attention, gated MLP, norms), since config.json does not state them.
func ParseHFConfig(data []byte, name string) (Model, error) {
	var top hfConfig
	if err := json.Unmarshal(data, &top); err != nil {
		return Model{}, fmt.Errorf("invalid JSON: %w", err)
	}
	c := top
	if top.TextConfig != nil {
		c = *top.TextConfig
		// Some fields stay at the top level of multimodal configs.
		if c.TorchDType == "" && c.DType == "" {
			c.TorchDType, c.DType = top.TorchDType, top.DType
		}
		if c.TieEmbeddings == nil {
			c.TieEmbeddings = top.TieEmbeddings
		}
		if c.QuantizationConfg == nil {
			c.QuantizationConfg = top.QuantizationConfg
		}
		if c.RopeScaling == nil {
			c.RopeScaling = top.RopeScaling
		}
	}
	field := func(p *int, key string) (int, error) {
		if p == nil {
			return 0, fmt.Errorf("missing field %q", key)
		}
		if *p <= 0 {
			return 0, fmt.Errorf("field %q: got %d, want > 0", key, *p)
		}
		return *p, nil
	}
	m := Model{Name: name, DTypeBytes: 2}
	var err error
	if m.Layers, err = field(c.Layers, "num_hidden_layers"); err != nil {
		return Model{}, err
	}
	if m.Hidden, err = field(c.Hidden, "hidden_size"); err != nil {
		return Model{}, err
	}
	if m.Heads, err = field(c.Heads, "num_attention_heads"); err != nil {
		return Model{}, err
	}
	if m.Intermediate, err = field(c.Intermediate, "intermediate_size"); err != nil {
		return Model{}, err
	}
	if m.Vocab, err = field(c.Vocab, "vocab_size"); err != nil {
		return Model{}, err
	}
	m.KVHeads = m.Heads
	if c.KVHeads != nil {
		if m.KVHeads, err = field(c.KVHeads, "num_key_value_heads"); err != nil {
			return Model{}, err
		}
	}
	m.HeadDim = m.Hidden / m.Heads
	if c.HeadDim != nil {
		if m.HeadDim, err = field(c.HeadDim, "head_dim"); err != nil {
			return Model{}, err
		}
	}
	m.MaxPositionEmbeddings = 2048
	if c.MaxPos != nil {
		if m.MaxPositionEmbeddings, err = field(c.MaxPos, "max_position_embeddings"); err != nil {
			return Model{}, err
		}
	}
	dt := c.TorchDType
	if dt == "" {
		dt = c.DType
	}
	switch strings.ToLower(dt) {
	case "", "bfloat16", "float16", "half", "float32", "float":
		// vLLM's dtype=auto serves float32 checkpoints in 16-bit too.
		m.DTypeBytes = 2
	default:
		return Model{}, fmt.Errorf("field \"torch_dtype\": unsupported dtype %q", dt)
	}
	if c.SlidingWindow != nil && c.SlidingPattern != nil && *c.SlidingPattern > 1 {
		m.SlidingWindow, m.SlidingWindowPattern = *c.SlidingWindow, *c.SlidingPattern
	} else if c.SlidingWindow != nil && strings.HasPrefix(c.ModelType, "gemma3") {
		m.SlidingWindow, m.SlidingWindowPattern = *c.SlidingWindow, 6
	}
	if q := c.QuantizationConfg; q != nil {
		m.Quantization = q.QuantMethod
		for _, list := range [][]string{q.SkipModules, q.NotConvert, q.IgnoredModules} {
			for _, mod := range list {
				if strings.Contains(mod, "vision") {
					m.QuantSkipsVision = true
				}
			}
		}
	}
	if r := c.RopeScaling; r != nil {
		m.RopeType = r.RopeType
		if m.RopeType == "" {
			m.RopeType = r.Type
		}
		if r.Factor != nil {
			m.RopeFactor = *r.Factor
		}
		if r.OriginalMaxPos != nil && *r.OriginalMaxPos > 0 {
			m.RopeOriginalPositions = *r.OriginalMaxPos
		}
	}
	// Gemma 3's local layers rotate with rope_local_base_freq, a rotary embedding of their own.
	m.LocalRope = c.RopeLocalBaseFreq != nil && m.SlidingWindow > 0

	// transformers' default for tie_word_embeddings is true for Gemma, false for the rest here.
	tied := strings.HasPrefix(c.ModelType, "gemma") || strings.HasPrefix(top.ModelType, "gemma")
	if c.TieEmbeddings != nil {
		tied = *c.TieEmbeddings
	}
	emb := int64(m.Vocab) * int64(m.Hidden)
	if !tied {
		emb *= 2
	}
	h := int64(m.Hidden)
	attn := h*int64(m.Heads*m.HeadDim)*2 + h*int64(m.KVHeads*m.HeadDim)*2
	mlp := 3 * h * int64(m.Intermediate)
	experts := 0
	if c.NumExperts != nil {
		experts = *c.NumExperts
	} else if c.NumExpertsAlt != nil {
		experts = *c.NumExpertsAlt
	}
	active := mlp
	if experts > 1 {
		inter := int64(m.Intermediate)
		if c.MoEIntermediate != nil && *c.MoEIntermediate > 0 {
			inter = int64(*c.MoEIntermediate)
		}
		per := 3 * h * inter
		k := 2
		if c.ExpertsPerTok != nil && *c.ExpertsPerTok > 0 {
			k = *c.ExpertsPerTok
		}
		mlp = per*int64(experts) + h*int64(experts)
		active = per*int64(k) + h*int64(experts)
	}
	norms := 2 * h
	m.Params = emb + int64(m.Layers)*(attn+mlp+norms) + h
	m.ActiveParams = emb + int64(m.Layers)*(attn+active+norms) + h
	m.EmbeddingParams = emb
	if v := top.VisionConfig; v != nil && top.TextConfig != nil {
		m.Vision = visionTower(*v, m.Hidden, top)
		m.Params += m.Vision.Params
	}
	return m, nil
}

// visionTower counts a ViT-style vision_config (SigLIP, CLIP): per layer the q, k, v and output
// projections with biases, a two-layer MLP with biases and two layer norms; patch and position
// embeddings and a final norm; and a projector from the tower into the decoder (Gemma 3's is one
// hidden_v × hidden matrix and a norm). Fields it cannot read leave the tower without a shape.
func visionTower(v visionCfg, textHidden int, top hfConfig) Tower {
	get := func(p *int) int {
		if p == nil || *p < 0 {
			return 0
		}
		return *p
	}
	t := Tower{Hidden: get(v.Hidden), Intermediate: get(v.Intermediate), Layers: get(v.Layers),
		ImageSize: get(v.ImageSize), PatchSize: get(v.PatchSize)}
	if t.Hidden == 0 || t.Layers == 0 {
		return Tower{}
	}
	h, i := int64(t.Hidden), int64(t.Intermediate)
	linear := 4*h*h + 2*h*i
	layer := linear + 4*h + i + h + 4*h
	embeds := int64(0)
	if t.PatchSize > 0 {
		side := int64(t.ImageSize / t.PatchSize)
		embeds = 3*int64(t.PatchSize*t.PatchSize)*h + h + side*side*h
	}
	t.LinearParams = int64(t.Layers) * linear
	t.Params = int64(t.Layers)*layer + embeds + 2*h + h*int64(textHidden) + h
	t.EmbedsPerItem = t.Patches()
	if top.MMTokensPerImage != nil && *top.MMTokensPerImage > 0 {
		t.EmbedsPerItem = *top.MMTokensPerImage
	}
	t.TokensPerItem = t.EmbedsPerItem
	if strings.HasPrefix(top.ModelType, "gemma3") {
		// "\n\n<start_of_image>", the soft tokens, "<end_of_image>\n\n": four more tokens.
		t.TokensPerItem += 4
	}
	return t
}

// ResolveModel accepts a catalog name, a Hugging Face repo id, a path to a config.json (or a
// directory holding one) or to a GGUF file: a path that exists wins.
func ResolveModel(nameOrPath string) (Model, error) {
	if st, err := os.Stat(nameOrPath); err == nil {
		if !st.IsDir() && strings.EqualFold(filepath.Ext(nameOrPath), ".gguf") {
			return LoadGGUF(nameOrPath)
		}
		return LoadHFConfig(nameOrPath)
	}
	return LookupModel(nameOrPath)
}
